"""A task's chat messages, built one way: system prompt, worked examples as turns, the question, the answer."""
from slingshot.tasks.chat import chat, insert_shots, prompt_of, prompt_text, turns, user_messages

SHOTS = [("q1", "a1"), ("q2", "a2")]


def test_chat_with_shots_and_an_answer():
    messages = chat("sys", "question", "answer", SHOTS)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("system", "sys"), ("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2"),
        ("user", "question"), ("assistant", "answer")]
    assert chat("sys", "question")[-1] == {"role": "user", "content": "question"}
    assert turns([]) == []


def test_shots_go_right_after_the_system_prompt_so_prompts_share_a_prefix():
    stored = chat("sys", "question")
    assert insert_shots(stored, SHOTS) == chat("sys", "question", shot_pairs=SHOTS)
    assert insert_shots(stored, []) is stored
    no_system = [{"role": "user", "content": "question"}]
    assert insert_shots(no_system, SHOTS[:1])[0] == {"role": "user", "content": "q1"}


def test_the_prompt_stops_at_the_first_assistant_turn():
    messages = chat("sys", "question", "answer")
    assert prompt_of(messages) == messages[:2]
    assert prompt_text(messages) == "<system>\nsys\n\n<user>\nquestion"
    assert prompt_text(chat("sys", "question", "other answer")) == prompt_text(messages)
    assert user_messages(chat("sys", "  q  ", "a", SHOTS)) == ["q1", "q2", "q"]
