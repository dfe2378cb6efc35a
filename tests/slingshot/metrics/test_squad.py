"""SQuAD v1.1 metric: hand-checked cases, the official-script CLI, and bad input."""
import gzip
import json
import subprocess
import sys

import pytest

from slingshot.layout import ROOT
from slingshot.metrics.squad import evaluate, exact_match, f1, normalize_answer, score_prediction

DEV = ROOT / "data_prep" / "sources" / "squad" / "dev-v1.1.json.gz"


@pytest.mark.parametrize("text, expected", [
    ("The  Quick, brown fox!", "quick brown fox"),
    ("an apple a day", "apple day"),
    ("theater anthem", "theater anthem"),          # articles only as whole words
    ("A.B.C.", "abc"),                             # punctuation removed before articles
    ("the-the", "thethe"),
    ("  \tDenver\nBroncos ", "denver broncos"),
    ("ÉCOLE Normale", "école normale"),            # unicode letters are lowercased
    ("«Paris» — 1920", "«paris» — 1920"),          # official: only ASCII punctuation is dropped
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_takes_best_gold():
    assert exact_match("Denver Broncos", ["Broncos", "the Denver Broncos!"]) == 100.0
    assert exact_match("Denver", ["Broncos", "Denver Broncos"]) == 0.0
    assert exact_match("Broncos", "broncos.") == 100.0


def test_f1_by_hand():
    # pred tokens cat sat on mat, gold cat on mat: 3 shared, P=3/4, R=1, F1=6/7
    assert f1("the cat sat on the mat", ["a cat on a mat"]) == pytest.approx(100 * 6 / 7)
    # repeated tokens count once per occurrence: x x y vs x y -> P=2/3, R=1 -> 0.8
    assert f1("x x y", ["x y"]) == pytest.approx(80.0)
    # max over golds: "dog" gives 0.5, "big red" gives 0.8
    assert f1("big red dog", ["dog", "big red"]) == pytest.approx(80.0)
    assert f1("nothing shared", ["Denver Broncos"]) == 0.0


def test_empty_prediction():
    assert score_prediction("", ["Denver Broncos"]) == {"exact_match": 0.0, "f1": 0.0}
    # official quirk: a gold that normalizes to nothing matches an empty prediction for EM, F1 stays 0
    assert score_prediction("", ["The"]) == {"exact_match": 100.0, "f1": 0.0}


def test_no_gold_is_an_error():
    with pytest.raises(ValueError):
        exact_match("x", [])


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "eval", "evaluate-v1.1", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True)


def _dev_questions():
    with gzip.open(DEV, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    return data, [qa for a in data for p in a["paragraphs"] for qa in p["qas"]]


def test_real_dev_set_first_gold_scores_100(tmp_path):
    data, qas = _dev_questions()
    assert len(qas) == 10570
    predictions = tmp_path / "pred.json"
    predictions.write_text(json.dumps({qa["id"]: qa["answers"][0]["text"] for qa in qas}))
    result = _run_cli(DEV, predictions)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"exact_match": 100.0, "f1": 100.0}


def test_corpus_score_is_mean_of_example_scores():
    data, qas = _dev_questions()
    qas = qas[:300]
    # a mix of right, partly right and wrong answers
    predictions = {qa["id"]: [qa["answers"][0]["text"], qa["answers"][0]["text"] + " and more", "zebra"][i % 3]
                   for i, qa in enumerate(qas)}
    subset = [{"paragraphs": [{"qas": qas}]}]
    expected = [score_prediction(predictions[qa["id"]], [a["text"] for a in qa["answers"]]) for qa in qas]
    result = evaluate(subset, predictions)
    assert result["exact_match"] == pytest.approx(sum(e["exact_match"] for e in expected) / len(qas))
    assert result["f1"] == pytest.approx(sum(e["f1"] for e in expected) / len(qas))
    assert 30 < result["exact_match"] < 70  # the mix really is mixed


def _tiny_dataset(tmp_path, version="1.1"):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"version": version, "data": [{"title": "t", "paragraphs": [{
        "context": "Denver Broncos won.", "qas": [
            {"id": "q1", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 0}]},
            {"id": "q2", "question": "What did they do?", "answers": [{"text": "won", "answer_start": 15}]},
        ]}]}]}))
    return path


def test_cli_missing_prediction_counts_zero(tmp_path):
    predictions = tmp_path / "pred.json"
    predictions.write_text(json.dumps({"q1": "the Denver Broncos"}))
    result = _run_cli(_tiny_dataset(tmp_path), predictions)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"exact_match": 50.0, "f1": 50.0}
    assert "Unanswered question q2 will receive score 0." in result.stderr


@pytest.mark.parametrize("content, needle", [
    ({"q1": 3}, "'q1'"),                           # not a string
    (["Denver"], "JSON object"),
    ("{not json", "not valid JSON"),
])
def test_cli_bad_predictions(tmp_path, content, needle):
    predictions = tmp_path / "pred.json"
    predictions.write_text(content if isinstance(content, str) else json.dumps(content))
    result = _run_cli(_tiny_dataset(tmp_path), predictions)
    assert result.returncode == 2
    assert "pred.json" in result.stderr and needle in result.stderr


def test_cli_bad_dataset(tmp_path):
    predictions = tmp_path / "pred.json"
    predictions.write_text("{}")
    result = _run_cli(_tiny_dataset(tmp_path, version="2.0"), predictions)
    assert result.returncode == 2 and "dev.json" in result.stderr and "'version'" in result.stderr

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": "1.1", "data": [{"paragraphs": [{"qas": [{"id": "q1"}]}]}]}))
    result = _run_cli(broken, predictions)
    assert result.returncode == 2 and "data[0].paragraphs[0].qas[0].answers" in result.stderr

    result = _run_cli(tmp_path / "absent.json", predictions)
    assert result.returncode == 2 and "absent.json" in result.stderr
