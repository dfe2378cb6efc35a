"""SQuAD v1.1 exact match and F1, identical to the official evaluate-v1.1.py.

Normalization (official): lowercase, drop ASCII punctuation, drop the articles
a/an/the, collapse whitespace. Each score is the max over the gold answers.
Per-example scores are on a 0..100 scale so they average straight into a report.

    python -m eval evaluate-v1.1 DATASET.json[.gz] PREDICTIONS.json   (eval/commands/official_squad.py)
prints {"exact_match": ..., "f1": ...} like the official script; exits 2 on bad input.
"""
import gzip
import json
import re
import string
from collections import Counter

from slingshot.errors import UserError

EXPECTED_VERSION = "1.1"
_PUNCTUATION = set(string.punctuation)  # ASCII only, as in the official script
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _exact(prediction, gold):
    return normalize_answer(prediction) == normalize_answer(gold)


def _f1(prediction, gold):
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _golds(golds):
    if isinstance(golds, str):
        return [golds]
    golds = list(golds)
    if not golds:
        raise ValueError("no gold answers to score against")
    return golds


def exact_match(prediction, golds):
    """100.0 if the prediction matches any gold answer after normalization, else 0.0."""
    return 100.0 * max(_exact(prediction, g) for g in _golds(golds))


def f1(prediction, golds):
    """Token-overlap F1 (0..100), best over the gold answers."""
    return 100.0 * max(_f1(prediction, g) for g in _golds(golds))


def score_prediction(prediction, golds):
    return {"exact_match": exact_match(prediction, golds), "f1": f1(prediction, golds)}


def evaluate(dataset, predictions, warn=None):
    """Official corpus-level scores: unanswered questions count 0 (reported through `warn`)."""
    em_sum = f1_sum = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    if warn:
                        warn(f"Unanswered question {qa['id']} will receive score 0.")
                    continue
                golds = [a["text"] for a in qa["answers"]]
                prediction = predictions[qa["id"]]
                em_sum += max(_exact(prediction, g) for g in golds)
                f1_sum += max(_f1(prediction, g) for g in golds)
    return {"exact_match": 100.0 * em_sum / total, "f1": 100.0 * f1_sum / total}


class InputError(UserError):
    """Bad user input; the message names the file and the key."""


def _read_json(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def load_dataset(path):
    """The `data` list of an official SQuAD v1.1 file, checked for the fields scoring needs."""
    obj = _read_json(path)
    if not isinstance(obj, dict) or "data" not in obj or "version" not in obj:
        raise InputError(f"{path}: expected an object with keys 'version' and 'data' (official SQuAD format)")
    if obj["version"] != EXPECTED_VERSION:
        raise InputError(f"{path}: key 'version' is {obj['version']!r}, expected {EXPECTED_VERSION!r} "
                         f"(this scorer is for SQuAD v1.1)")
    if not isinstance(obj["data"], list):
        raise InputError(f"{path}: key 'data' must be a list of articles")
    for a, article in enumerate(obj["data"]):
        for p, paragraph in enumerate(_field(path, article, "paragraphs", f"data[{a}]")):
            for q, qa in enumerate(_field(path, paragraph, "qas", f"data[{a}].paragraphs[{p}]")):
                where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                if not isinstance(_field(path, qa, "id", where, kind=None), str):
                    raise InputError(f"{path}: key {where}.id must be a string")
                answers = _field(path, qa, "answers", where)
                if not answers or not all(isinstance(x, dict) and isinstance(x.get("text"), str) for x in answers):
                    raise InputError(f"{path}: key {where}.answers must be a non-empty list of {{'text': str}}")
    return obj["data"]


def _field(path, obj, key, where, kind=list):
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{path}: missing key {where}.{key}")
    if kind is list and not isinstance(obj[key], list):
        raise InputError(f"{path}: key {where}.{key} must be a list")
    return obj[key]


def load_predictions(path, dataset, warn=None):
    """A JSON object id -> answer text. Ids that are not questions of the dataset are ignored, as
    the official script ignores them (their count goes to `warn`), so leaderboard prediction files
    covering more questions score exactly as they do officially."""
    predictions = _read_json(path)
    if not isinstance(predictions, dict):
        raise InputError(f"{path}: expected a JSON object mapping question id to answer text")
    known = {qa["id"] for article in dataset for p in article["paragraphs"] for qa in p["qas"]}
    unknown = [qid for qid in predictions if qid not in known]
    if unknown and warn:
        warn(f"{path}: {len(unknown)} prediction ids are not questions of the dataset and are ignored "
             f"(first: {unknown[0]!r})")
    predictions = {qid: answer for qid, answer in predictions.items() if qid in known}
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise InputError(f"{path}: key {qid!r} must map to a string, got {type(answer).__name__}")
    return predictions
