"""SQuAD v1.1 extractive QA: prompt format, answer extraction and named splits.

Data prep, training (through the JSONL it writes) and every eval backend build
their messages with `build_messages`, so train and test prompts cannot drift.
Bump PROMPT_VERSION whenever the wording changes: stored predictions are keyed by it.
"""

import gzip
import json
import random

from slingshot.errors import UserError
from slingshot.layout import SOURCES_DIR
from slingshot.tasks.chat import chat, insert_shots

PROMPT_VERSION = "squad-v1"

SYSTEM_PROMPT = (
    "You answer questions about a passage. Reply with the shortest span copied "
    "word for word from the passage that answers the question, and nothing else."
)


def user_prompt(context, question):
    return f"Passage: {context.strip()}\n\nQuestion: {question.strip()}"


def build_messages(context, question, answer=None, shots=()):
    """Chat messages for one question; with `answer`, the assistant turn to train on; with
    `shots` (rows of few_shot_examples), worked examples as earlier chat turns."""
    return chat(SYSTEM_PROMPT, user_prompt(context, question), answer, shot_pairs(shots))


def shot_pairs(shots):
    return [(user_prompt(shot["context"], shot["question"]), shot["answer"]) for shot in shots]


def with_shots(messages, shots):
    """A stored test row's messages with the worked examples after the system prompt."""
    return insert_shots(messages, shot_pairs(shots))


# Few-shot examples come from the carried training articles (never the dev set, which every
# test split is drawn from), with short passages and answers so k examples stay cheap.
SHOT_SOURCE = SOURCES_DIR / "squad" / "train-v1.1.part.json.gz"
SHOT_SEED = 0
MAX_SHOT_PASSAGE_CHARS = 600
MAX_SHOT_ANSWER_WORDS = 4


def few_shot_examples(k, seed=SHOT_SEED):
    """k training questions with their first gold answer, one per article, chosen by `seed`:
    the same for every model, so rows at k shots compare. Rows carry id, messages and context,
    so the contamination check can test them against a split."""
    if k == 0:
        return []
    with gzip.open(SHOT_SOURCE, "rt", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    candidates = []
    for a, article in enumerate(articles):
        for paragraph in article["paragraphs"]:
            if len(paragraph["context"]) > MAX_SHOT_PASSAGE_CHARS:
                continue
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]["text"].strip()
                if len(answer.split()) <= MAX_SHOT_ANSWER_WORDS:
                    candidates.append((a, qa["id"], paragraph["context"].strip(), qa["question"].strip(), answer))
    rng = random.Random(seed)
    rng.shuffle(candidates)
    shots, articles_used = [], set()
    for a, qid, context, question, answer in candidates:
        if a not in articles_used:
            articles_used.add(a)
            shots.append({"id": qid, "context": context, "question": question, "answer": answer,
                          "messages": build_messages(context, question, answer)})
        if len(shots) == k:
            return shots
    raise UserError(f"--shots {k}: {SHOT_SOURCE.name} has only {len(shots)} articles with a short example")


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
SOURCES = ("local", "hub", "folder")
SIZE_FORMS = {"train_size": ("count", "percent", "all"), "validation_size": ("count",)}
EVAL_DEFAULTS = {"max_new_tokens": 32, "shots": 3}  # shots: the base model's few-shot row

# For `plan`, before any data is prepared: questions in the official SQuAD v1.1 train set (what a
# percentage or "all" counts from), and mean tokens per training row (prompt and answer; measured
# on the CPU recipe's prepared data with the SmolLM2 tokenizer).
SOURCE_ROWS = 87599
TOKENS_PER_ROW = 233


def planned_train_rows(params):
    """Training rows a recipe's parameters ask for, through data prep's own size parsing (of the whole
    train set; data prep first holds out the validation articles, so near 100% it takes a few fewer)."""
    from slingshot.tasks.sizes import parse_size
    return parse_size(params["train_size"], SOURCE_ROWS, "slingshot.train_size", SIZE_FORMS["train_size"])

# Report columns: metric name -> label, the first one primary; every per-example score is 0..100.
METRICS = {"exact_match": "EM", "f1": "F1"}
BINARY_METRICS = {"exact_match"}  # 0 or 100 per example: tested with exact McNemar
RESCORED_IN_REPORTS = True  # scoring is string matching: every report scores the stored answers again
REFERENCE_BACKEND = None

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


# The results viewer (eval.viewer): what it shows of a test row and of one stored answer.
VIEW_VERDICTS = ("EM", "F1")


def view_example(row):
    """The question, its passage (the page stores each passage once) and the gold answers."""
    text = next((m["content"] for m in reversed(row["messages"]) if m["role"] == "user"), "")
    return {"question": text.rpartition("\n\nQuestion: ")[2].strip(), "context": passage(row),
            "gold": gold_list(row.get("answers"))}


def gold_list(answers):
    """Distinct, non-empty gold answers as text (a bare string is one answer, not its letters)."""
    answers = [answers] if isinstance(answers, str) else answers if isinstance(answers, list) else []
    return list(dict.fromkeys(str(a) for a in answers if a not in (None, "")))


def view_answer(prediction, meta):
    """The answer as scored, its verdicts in VIEW_VERDICTS order, and no further detail."""
    metrics = prediction["metrics"]
    return {"answer": prediction.get("answer"), "verdicts": [metrics.get("exact_match"), metrics.get("f1")],
            "detail": None}


def score(row, answer):
    """Per-example metrics of one extracted answer against the row's gold answers."""
    from slingshot.metrics.squad import score_prediction

    return score_prediction(answer, row["answers"])
