"""`eval compare` fed forged files: stored scores that are no number (NaN, Infinity, an integer past any
float), the same file twice (by name or through a link), markup and control characters in answers, files that
are no regular file. Each is refused by name (a UserError, exit 2) or shown inert; never a traceback."""
import json
import os

import pytest

from eval.answer_files import AnswerFileError, read_answer_file
from eval.commands.compare import main
from eval.compare import CompareError, compare
from slingshot.errors import UserError
from slingshot.tasks import squad
from tests.helpers import squad_test_rows, write_squad_split


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    rows = squad_test_rows("dev-200")
    return write_squad_split(tmp_path_factory.mktemp("ws"), rows, "dev-200"), rows


def plain(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("stored", ["NaN", "Infinity", "-Infinity", "1" + "0" * 400, "1e308"])
def test_a_stored_score_that_is_no_finite_number_is_refused_naming_line_and_key(tmp_path, split, stored):
    _, rows = split
    path = tmp_path / "forged.jsonl"
    good = json.dumps({"id": rows[0]["id"], "answer": "a", "metrics": {"exact_match": 1}})
    path.write_text(good + "\n" + f'{{"id": "{rows[1]["id"]}", "answer": "b", "metrics": {{"em": {stored}}}}}\n')
    if stored == "1e308":  # finite, scaled by 100 for lm-eval: past any float; plain JSONL is not scaled
        path.write_text(path.read_text().replace('"answer": "b"', '"doc_id": 1, "resps": [["b"]], "doc": {}')
                        .replace('"metrics": {"em": 1e308}', '"metrics": ["em"], "em": 1e308')
                        .replace(good, json.dumps({"doc_id": 0, "resps": [["a"]], "doc": {}})))
    with pytest.raises(AnswerFileError, match=r"forged.jsonl:2: stored score '(em|exact_match)' is .*not a finite"):
        read_answer_file(path, squad)


def test_the_same_file_twice_or_through_a_link_is_refused(tmp_path, split):
    path, rows = split
    a = plain(tmp_path / "a.jsonl", [{"id": r["id"], "answer": r["answers"][0]} for r in rows[:3]])
    os.symlink(a, tmp_path / "link.jsonl")
    for second in (a, tmp_path / "link.jsonl", tmp_path / "." / "a.jsonl"):
        with pytest.raises(CompareError, match="the same file as"):
            compare([a, second], path, n_boot=10)


def test_markup_and_control_characters_in_answers_stay_inert(tmp_path, split, capsys):
    path, rows = split
    evil = "</script><script>alert(1)</script>\x1b[31m\u202e\x00"
    a = plain(tmp_path / "a.jsonl", [{"id": r["id"], "answer": evil} for r in rows[:3]])
    b = plain(tmp_path / "b.jsonl", [{"id": r["id"], "answer": r["answers"][0]} for r in rows[:3]])
    out = tmp_path / "out"
    assert main([str(a), str(b), "--split", str(path), "--out", str(out), "--n-boot", "10"]) == 0
    page = (out / "index.html").read_text()
    assert "</script><script>alert" not in page and "\x1b" not in page
    assert "\x1b" not in (out / "compare.md").read_text() and "\x1b" not in capsys.readouterr().out


@pytest.mark.parametrize("make", ["fifo", "dev_zero", "fake_store", "not_utf8"])
def test_files_that_are_no_answers_are_refused_by_name(tmp_path, split, make, capsys):
    path, rows = split
    target = tmp_path / "x.jsonl"
    if make == "fifo":
        os.mkfifo(target)
    elif make == "dev_zero":
        os.symlink("/dev/zero", target)
    elif make == "fake_store":
        target.mkdir()
        (target / "meta.json").write_text(json.dumps({"task": "squad", "split": "dev-200"}))
        (target / "predictions.jsonl").mkdir()
    else:
        target.write_bytes(b'{"id": "x", "answer": "\xe9"}\n')
    b = plain(tmp_path / "b.jsonl", [{"id": r["id"], "answer": "x"} for r in rows[:3]])
    assert main([str(target), str(b), "--split", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "x.jsonl" in err and "Traceback" not in err
    assert issubclass(AnswerFileError, UserError)


def test_a_store_whose_answers_were_edited_after_the_run_is_refused(tmp_path, split):
    from slingshot.io import sha256_file
    path, rows = split
    store = tmp_path / "store"
    store.mkdir()
    predictions = plain(store / "predictions.jsonl", [{"id": r["id"], "answer": "x"} for r in rows[:3]])
    meta = {"task": "squad", "split": "dev-200", "split_sha256": sha256_file(path),
            "predictions_sha256": sha256_file(predictions)}
    (store / "meta.json").write_text(json.dumps(meta))
    other = plain(tmp_path / "b.jsonl", [{"id": r["id"], "answer": r["answers"][0]} for r in rows[:3]])
    assert compare([store, other], path, n_boot=10)["n"] == 3  # as the run finished it
    plain(predictions, [{"id": r["id"], "answer": r["answers"][0]} for r in rows[:3]])  # a better answer, forged
    with pytest.raises(CompareError, match=r"predictions.jsonl: its sha256 is not the .* changed after the run"):
        compare([store, other], path, n_boot=10)


def test_a_label_or_key_with_line_breaks_and_escapes_is_shown_on_one_line(tmp_path, split, capsys):
    from pathlib import Path
    path, rows = split
    log = json.loads((Path(__file__).parents[1] / "eval" / "data" / "inspect-mockllm-squad-dev-200.json").read_text())
    log["eval"]["model"] = "m\x1b[31mRED\n# injected heading"
    log["samples"].append(dict(log["samples"][0], id="nowhere", input="matches nothing", metadata={}))
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(log))
    other = plain(tmp_path / "b.jsonl", [{"id": s["id"], "answer": "x"} for s in log["samples"][:-1]])
    out = tmp_path / "out"
    assert main([str(evil), str(other), "--split", str(path), "--out", str(out), "--n-boot", "10",
                 "--min-matched", "0.5"]) == 0
    printed = capsys.readouterr()
    for text in (printed.out, printed.err, (out / "compare.md").read_text()):
        assert "\x1b" not in text and "\n# injected" not in text
    keys = tmp_path / "keys.jsonl"
    keys.write_text(json.dumps({"\x1b]0;title\x07": 1, "line\nbreak": 2}) + "\n")
    with pytest.raises(AnswerFileError) as refused:
        read_answer_file(keys, squad)
    assert "\x1b" not in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("name", ["big.jsonl", "big.json"])
def test_a_number_of_more_digits_than_python_reads_is_refused_by_name(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"id": ' + "1" * 5000 + ', "answer": "x"}\n')
    with pytest.raises(AnswerFileError, match=rf"{name}(:1)?: not JSON this can read"):
        read_answer_file(path, squad)
