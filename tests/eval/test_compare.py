"""Comparing answers from anywhere on data prep's dev-200: real lm-eval and inspect-ai files (tests/eval/data/),
plain JSONL and stores; matching by id and by text, the threshold, re-scoring, the paired tests and the page."""
import json
from pathlib import Path

import pytest

from eval import stats
from eval.compare import CompareError, compare, render_markdown, write_comparison
from slingshot.io import sha256_file
from slingshot.metrics.squad import score_prediction
from slingshot.tasks import get_task
from tests.helpers import squad_test_rows, write_squad_split

DATA = Path(__file__).with_name("data")
LM_EVAL = next(DATA.glob("samples_slingshot_squad_dev200_*.jsonl"))
INSPECT = DATA / "inspect-mockllm-squad-dev-200.json"
SQUAD = get_task("squad")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """data prep's dev-200, written where a workspace keeps it (its rows: split.rows)."""
    rows = squad_test_rows("dev-200")
    path = write_squad_split(tmp_path_factory.mktemp("ws"), rows, "dev-200")
    return path, rows


def plain(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def ours(row, answer):
    return score_prediction(SQUAD.extract_answer(answer), row["answers"])


def test_lm_eval_inspect_and_plain_files_on_the_questions_all_answered(split, tmp_path):
    path, rows = split
    mine = plain(tmp_path / "mine.jsonl", [{"id": r["id"], "answer": r["answers"][0]} for r in rows[:10]])
    result = compare([LM_EVAL, INSPECT, mine], path, n_boot=200)
    lm_rows = [json.loads(line) for line in LM_EVAL.read_text().splitlines()]
    assert result["ids"] == [r["doc"]["id"] for r in lm_rows] and result["n"] == len(lm_rows)
    by_id = {r["id"]: r for r in rows}
    lm, inspect, own = result["files"]
    em = [ours(by_id[r["doc"]["id"]], r["resps"][0][0])["exact_match"] for r in lm_rows]
    assert lm["exact_match"] == pytest.approx(sum(em) / len(em)) and lm["exact_match_ci"][0] <= lm["exact_match"]
    assert own["exact_match"] == 100 and own["matched"] == 10 and (inspect["rows"], inspect["matched"]) == (4, 4)
    # inspect's own scores, set beside ours: exactly where its scorers and ours disagree
    log = json.loads(INSPECT.read_text())
    expected = []
    for sample in log["samples"]:
        fresh = ours(by_id[sample["id"]], sample["output"]["completion"])
        theirs = {"exact_match": 100.0 if sample["scores"]["exact"]["value"] == "C" else 0.0,
                  "f1": 100 * sample["scores"]["f1"]["value"]}
        expected += [(sample["id"], m) for m in ("exact_match", "f1") if abs(fresh[m] - theirs[m]) > 1e-6]
    assert expected and [(d["id"], d["metric"]) for d in inspect["stored_disagree"]] == expected
    # three files: every pair, Holm across the pairs, McNemar on EM
    assert len(result["pairs"]) == 3
    raw = [p["metrics"]["exact_match"]["p_value"] for p in result["pairs"]]
    assert [p["metrics"]["exact_match"]["p_holm"] for p in result["pairs"]] == stats.holm(raw)
    pair = result["pairs"][1]  # lm-eval vs mine
    a = [result["answers"][0][q]["metrics"]["exact_match"] for q in result["ids"]]
    b = [result["answers"][2][q]["metrics"]["exact_match"] for q in result["ids"]]
    assert pair["metrics"]["exact_match"]["p_value"] == stats.mcnemar_exact([x == 100 for x in a],
                                                                           [y == 100 for y in b])["p_value"]
    assert pair["disagree_ids"] == [q for q, x, y in zip(result["ids"], a, b) if x != y]


def test_rows_without_known_ids_match_by_question_and_passage(split, tmp_path):
    path, rows = split
    texts = []
    for i, r in enumerate(rows[:6]):
        shown = SQUAD.view_example(r)
        texts.append({"id": f"theirs-{i}", "answer": r["answers"][0], "question": shown["question"] + "  ",
                      "context": shown["context"].replace(" ", "\n", 3)})
    other = plain(tmp_path / "other.jsonl", [{"id": r["id"], "answer": "no"} for r in rows[:6]])
    result = compare([plain(tmp_path / "by-text.jsonl", texts), other], path, n_boot=50)
    assert result["n"] == 6 and result["files"][0]["exact_match"] == 100 and result["files"][1]["exact_match"] == 0
    em = result["pairs"][0]["metrics"]["exact_match"]
    assert em["p_holm"] == em["p_value"]  # two files: one pair, nothing to correct


def test_unmatched_rows_are_counted_and_refused_below_the_threshold(split, tmp_path):
    path, rows = split
    good = [{"id": r["id"], "answer": "x"} for r in rows[:19]]
    one_stray = plain(tmp_path / "stray.jsonl", good + [{"id": "not-a-question", "answer": "x"}])
    other = plain(tmp_path / "other.jsonl", good)
    result = compare([one_stray, other], path, min_matched=0.95, n_boot=20)
    assert (result["files"][0]["unmatched"], result["n"]) == (1, 19)
    assert "1 rows matched no question of the split" in render_markdown(result)
    with pytest.raises(CompareError, match=r"stray.jsonl: only 19 of its 20 rows \(95.0%\).*below --min-matched"):
        compare([one_stray, other], path, min_matched=0.96, n_boot=20)


def test_files_that_cannot_be_compared_are_named(split, tmp_path):
    path, rows = split
    a = plain(tmp_path / "a.jsonl", [{"id": r["id"], "answer": "x"} for r in rows[:3]])
    b = plain(tmp_path / "b.jsonl", [{"id": r["id"], "answer": "x"} for r in rows[3:6]])
    with pytest.raises(CompareError, match="answered no question in common"):
        compare([a, b], path)
    twice = plain(tmp_path / "twice.jsonl", [{"id": rows[0]["id"], "answer": a} for a in ("x", "y")])
    with pytest.raises(CompareError, match=r"twice.jsonl:2: question .* answered twice .*first at .*twice.jsonl:1"):
        compare([twice, a], path)
    with pytest.raises(CompareError, match="at least two"):
        compare([a], path)


def test_a_store_of_another_split_or_task_is_refused(split, tmp_path):
    path, rows = split
    a = plain(tmp_path / "a.jsonl", [{"id": r["id"], "answer": "x"} for r in rows[:3]])
    for name, meta in (("other-split", {"task": "squad", "split": "dev-1000", "split_sha256": sha256_file(path)}),
                       ("other-task", {"task": "dates", "split": "dev-200", "split_sha256": sha256_file(path)}),
                       ("other-build", {"task": "squad", "split": "dev-200", "split_sha256": "0" * 64})):
        store = tmp_path / name
        store.mkdir()
        (store / "meta.json").write_text(json.dumps({**meta, "label": name}))
        plain(store / "predictions.jsonl", [{"id": r["id"], "answer": "x", "metrics": {}} for r in rows[:3]])
        with pytest.raises(CompareError, match=f"{name}: (a store of|scored on a split)"):
            compare([store, a], path)


def test_the_files_written_and_a_hostile_answer_on_the_page(split, tmp_path):
    path, rows = split
    hostile = "</script><script>alert(1)</script>"
    a = plain(tmp_path / "a.jsonl", [{"id": r["id"], "answer": hostile if i == 0 else r["answers"][0]}
                                     for i, r in enumerate(rows[:5])])
    b = plain(tmp_path / "b.jsonl", [{"id": r["id"], "answer": "x | y"} for r in rows[:5]])
    result = compare([a, b], path, n_boot=50)
    markdown = write_comparison(result, tmp_path / "out")
    assert (tmp_path / "out" / "compare.md").read_text() == markdown
    assert json.loads((tmp_path / "out" / "compare.json").read_text())["n"] == 5
    assert "| a | answers | 5 | 5 | 0 | 80.0 [" in markdown and "| b | answers | 5 | 5 | 0 | 0.0 [" in markdown
    page = (tmp_path / "out" / "index.html").read_text()
    assert hostile not in page and "\\u003c/script>" in page
