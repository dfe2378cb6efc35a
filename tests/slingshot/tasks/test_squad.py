"""The SQuAD task: one prompt format for every use, answers extracted, passages read back, few-shot examples
drawn from the training articles, and what the viewer shows."""
from slingshot.tasks import squad
from slingshot.tasks.squad import (SYSTEM_PROMPT, build_messages, extract_answer, few_shot_examples, gold_list, passage,
                                   view_answer, view_example, with_shots)


def test_the_prompt_and_its_passage_read_back():
    messages = build_messages(" The passage. ", " Who? ", "Ann")
    assert messages[0]["content"] == SYSTEM_PROMPT and messages[-1] == {"role": "assistant", "content": "Ann"}
    assert messages[1]["content"] == "Passage: The passage.\n\nQuestion: Who?"
    assert passage({"messages": messages}) == "The passage." and passage({"context": " c ", "messages": []}) == "c"
    assert passage({"messages": [{"role": "user", "content": "no question here"}]}) is None


def test_extract_answer_takes_the_first_line_without_quotes():
    assert extract_answer("\n  \"Denver Broncos\"  \nmore") == "Denver Broncos"
    assert extract_answer("'a'") == "a" and extract_answer("\"a'") == "\"a'" and extract_answer("  ") == ""


def test_few_shot_examples_are_seeded_short_and_one_per_article():
    shots = few_shot_examples(3)
    assert shots == few_shot_examples(3) and few_shot_examples(0) == []
    assert [s["id"] for s in shots] != [s["id"] for s in few_shot_examples(3, seed=1)]
    assert all(len(s["context"]) <= squad.MAX_SHOT_PASSAGE_CHARS for s in shots)
    assert all(len(s["answer"].split()) <= squad.MAX_SHOT_ANSWER_WORDS for s in shots)
    stored = build_messages("ctx", "q")
    assert with_shots(stored, shots) == build_messages("ctx", "q", shots=shots)


def test_the_viewer_and_the_score():
    row = {"messages": build_messages("P.", "Q?"), "answers": ["Ann", "Ann", "", None]}
    assert view_example(row) == {"question": "Q?", "context": "P.", "gold": ["Ann"]}
    assert gold_list("Ann") == ["Ann"] and gold_list(None) == []
    assert squad.score({**row, "answers": ["Ann"]}, "ann") == {"exact_match": 100.0, "f1": 100.0}
    shown = view_answer({"answer": "x", "metrics": {"exact_match": 0, "f1": 50}}, {})
    assert shown == {"answer": "x", "verdicts": [0, 50], "detail": None}


def test_planned_rows_count_from_the_whole_train_set():
    assert squad.planned_train_rows({"train_size": "all"}) == squad.SOURCE_ROWS
    assert squad.planned_train_rows({"train_size": 128}) == 128
