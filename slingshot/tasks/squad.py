"""SQuAD v1.1 extractive QA: prompt format, answer extraction and named splits.

Data prep, training (through the JSONL it writes) and every eval backend build
their messages with `build_messages`, so train and test prompts cannot drift.
Bump PROMPT_VERSION whenever the wording changes: stored predictions are keyed by it.
"""

PROMPT_VERSION = "squad-v1"

SYSTEM_PROMPT = (
    "You answer questions about a passage. Reply with the shortest span copied "
    "word for word from the passage that answers the question, and nothing else."
)


def user_prompt(context, question):
    return f"Passage: {context.strip()}\n\nQuestion: {question.strip()}"


def build_messages(context, question, answer=None):
    """Chat messages for one question; with `answer`, the assistant turn to train on."""
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_prompt(context, question)},
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def extract_answer(raw_output):
    """The answer a model gave: its first non-empty line, without wrapping quotes."""
    for line in raw_output.strip().splitlines():
        line = line.strip()
        if line:
            if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'`":
                line = line[1:-1].strip()
            return line
    return ""


# Held-out test splits, all drawn from the official dev set (never seen in training).
# Questions are sampled at most one per paragraph, so they are closer to independent
# and the confidence intervals the report prints are honest. Every recipe of the task
# names one of these, so scores compare across recipes, models and API baselines.
TEST_SPLITS = {
    "dev-200": {"size": 200, "seed": 20161, "description": "CPU default: 200 questions, one per paragraph"},
    "dev-1000": {"size": 1000, "seed": 20161, "description": "GPU recipes: 1,000 questions, one per paragraph"},
    "dev-all": {"size": "all", "seed": None, "description": "the whole official dev set, 10,570 questions"},
}

# Questions whose paragraphs are kept aside from the training articles, for training loss.
DEFAULT_VALIDATION_ARTICLES = 2

# Keys of a recipe's `slingshot:` block for this task, with their defaults.
RECIPE_DEFAULTS = {
    "source": "local",          # local | hub:rajpurkar/squad | folder with train-v1.1.json, dev-v1.1.json
    "train_size": 128,          # a count, a percentage of the training source ("4%") or "all"
    "validation_size": 32,      # questions from articles kept out of training, for eval loss
    "seed": 0,
    "test_split": "dev-200",
}
EVAL_DEFAULTS = {"max_new_tokens": 32}

# Report columns: metric name -> label, the first one primary; every per-example score is 0..100.
METRICS = {"exact_match": "EM", "f1": "F1"}
BINARY_METRICS = {"exact_match"}  # 0 or 100 per example: tested with exact McNemar
REFERENCE_RUNS = None

CONTAMINATION_CHECKS = "question ids, passages and exact prompts"


def passage(row):
    """The passage of a row: its `context` field, else parsed back from the user message
    (the inverse of user_prompt)."""
    if "context" in row:
        return row["context"].strip()
    text = next((m["content"] for m in row["messages"] if m["role"] == "user"), "")
    body, sep, _ = text.rpartition("\n\nQuestion: ")
    return body.removeprefix("Passage: ").strip() if sep else None


def contamination_overlap(train_rows, test_rows, affected):
    """SQuAD-specific overlap: test passages found in training. Returns (overlap entries,
    affected ids, extra result fields)."""
    train_passages = {passage(r) for r in train_rows} - {None}
    passages = [r["id"] for r in test_rows if passage(r) in train_passages]
    return {"passages": passages}, affected | set(passages), {}


contamination_statement = None  # the generic wording fits


def score(row, answer):
    """Per-example metrics of one extracted answer against the row's gold answers."""
    from slingshot.metrics.squad import score_prediction

    return score_prediction(answer, row["answers"])
