"""A task's chat messages: the prompt every model is given, built one way for data prep, training and eval."""


def chat(system, user, answer=None, shot_pairs=()):
    """A task's chat: its system prompt, worked examples as earlier (question, answer) turns, the question,
    and with `answer` the assistant turn to train on."""
    messages = [{"role": "system", "content": system}, *turns(shot_pairs), {"role": "user", "content": user}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def turns(pairs):
    return [turn for user, answer in pairs
            for turn in ({"role": "user", "content": user}, {"role": "assistant", "content": answer})]


def insert_shots(messages, shot_pairs):
    """A stored test row's messages with worked examples right after the system prompt, so every few-shot
    prompt of a run starts with the same tokens (the backends reuse that prefix)."""
    if not shot_pairs:
        return messages
    head = 1 if messages and messages[0]["role"] == "system" else 0
    return messages[:head] + turns(shot_pairs) + messages[head:]


def prompt_of(messages):
    """The messages a model is given: everything before the first assistant turn."""
    prompt = []
    for message in messages:
        if message["role"] == "assistant":
            break
        prompt.append(message)
    return prompt


def prompt_text(messages):
    """One string per prompt, for exact comparisons (contamination checks, rendering counts)."""
    return "\n\n".join(f"<{m['role']}>\n{m['content']}" for m in prompt_of(messages))


def user_messages(messages):
    return [m["content"].strip() for m in messages if m["role"] == "user"]
