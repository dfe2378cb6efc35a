"""Files of answers from anywhere, read into one shape: real lm-eval and inspect-ai files (tests/eval/data/README.md
says how each was made), stores and plain JSONL, and hostile ones refused by file and line."""
import json
from pathlib import Path

import pytest

from eval.answer_files import (MAX_LINE_BYTES, AnswerFileError, key_of, lm_eval_label, question_key, read_answer_file,
                               stored_scores)
from slingshot.tasks import get_task

DATA = Path(__file__).with_name("data")
LM_EVAL = next(DATA.glob("samples_slingshot_squad_dev200_*.jsonl"))
INSPECT = DATA / "inspect-mockllm-squad-dev-200.json"
SQUAD = get_task("squad")


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_an_lm_eval_samples_file_gives_ids_raw_responses_and_its_own_scores():
    answers = read_answer_file(LM_EVAL, SQUAD)
    rows = [json.loads(line) for line in LM_EVAL.read_text().splitlines()]
    assert answers.kind == "lm-eval samples" and len(answers.entries) == len(rows)
    for entry, row in zip(answers.entries, rows):
        assert entry.id == row["doc"]["id"] and entry.raw and entry.answer == row["filtered_resps"][0]
        assert entry.stored == {"exact_match": 100 * row["exact_match"]}
        passage, _, question = row["doc"]["messages"][1]["content"].rpartition("\n\nQuestion: ")
        assert entry.key == question_key(question, passage.removeprefix("Passage: "))


def test_an_inspect_log_gives_completions_and_maps_its_scorers_to_ours():
    answers = read_answer_file(INSPECT, SQUAD)
    log = json.loads(INSPECT.read_text())
    assert answers.kind == "inspect log" and "mockllm/model" in answers.label
    by_id = {e.id: e for e in answers.entries}
    for sample in log["samples"]:
        entry = by_id[sample["id"]]
        assert entry.raw and entry.answer == sample["output"]["completion"] and entry.key is not None
        exact = sample["scores"]["exact"]["value"]
        assert entry.stored == {"exact_match": 100.0 if exact == "C" else 0.0,
                                "f1": pytest.approx(100 * sample["scores"]["f1"]["value"])}


def test_a_store_and_a_plain_file(tmp_path):
    store = tmp_path / "run"
    store.mkdir()
    (store / "meta.json").write_text(json.dumps({"task": "squad", "split": "dev-200", "label": "base"}))
    write_lines(store / "predictions.jsonl", [
        json.dumps({"id": "a", "answer": "x", "metrics": {"exact_match": 0.0, "f1": 50.0}}),
        json.dumps({"id": "b", "answer": "", "metrics": {"skipped": True}})])
    answers = read_answer_file(store, SQUAD)
    assert (answers.kind, answers.label, [e.id for e in answers.entries]) == ("store", "base", ["a"])
    assert answers.entries[0].stored == {"exact_match": 0.0, "f1": 50.0} and not answers.entries[0].raw
    plain = write_lines(tmp_path / "mine.jsonl", [json.dumps({"id": 1, "answer": "y", "question": " Who?\n",
                                                              "context": "A  b"})])
    entry = read_answer_file(plain, SQUAD).entries[0]
    assert entry.id == 1 and entry.key == question_key("Who?", "A b") and entry.stored == {}


def test_question_key_ignores_whitespace_only():
    assert question_key("Who  is\nit?", " ctx ") == question_key("Who is it?", "ctx")
    assert question_key("Who is it?", "ctx") != question_key("Who is it?", "ctx.")
    assert key_of(SQUAD, {"messages": "not a list"}) is None and key_of(SQUAD, {}) is None


def test_stored_scores_map_names_and_scales():
    assert stored_scores({"exact": "C", "f1": 0.5, "bleu": 1.0, "em": True}, 100.0) == {"exact_match": 100.0,
                                                                                     "f1": 50.0}


@pytest.mark.parametrize("lines, message", [
    ([], "empty; no answers to compare"),
    (['{"id": 1, "answer": "a"}', '{"id": 2, "answer": '], ":2: not valid JSON"),
    (['{"id": 1, "answer": "a"}', '[1, 2]'], ":2: a JSON list, not an object"),
    (['{"id": 1, "answer": "a"}', '{"id": 2}'], ":2: missing key 'answer'"),
    (['{"id": 1, "answer": 3}'], ":1: key 'answer' must be text"),
    (['{"id": [1], "answer": "a"}'], ":1: key 'id' must be text or a whole number"),
    (['{"question": "q"}'], ":1: neither an lm-eval samples line"),
    (['{"doc_id": 0, "resps": [], "doc": {}}'], ":1: no response text"),
])
def test_broken_jsonl_is_refused_naming_file_and_line(tmp_path, lines, message):
    path = write_lines(tmp_path / "answers.jsonl", lines)
    with pytest.raises(AnswerFileError) as error:
        read_answer_file(path, SQUAD)
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_huge_line_and_bytes_that_are_not_utf8_are_refused(tmp_path):
    huge = tmp_path / "huge.jsonl"
    with open(huge, "wb") as f:
        f.write(b'{"id": 1, "answer": "a"}\n{"id": 2, "answer": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n')
    with pytest.raises(AnswerFileError, match=r"huge.jsonl:2: a line longer than"):
        read_answer_file(huge, SQUAD)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"id": 1, "answer": "\xff"}\n')
    with pytest.raises(AnswerFileError, match=r"binary.jsonl:1: not UTF-8"):
        read_answer_file(binary, SQUAD)


def test_what_is_not_a_file_of_answers_is_named(tmp_path):
    with pytest.raises(AnswerFileError, match="not a prediction store"):
        read_answer_file(tmp_path, SQUAD)
    with pytest.raises(AnswerFileError, match="no such file"):
        read_answer_file(tmp_path / "gone.jsonl", SQUAD)
    (tmp_path / "log.eval").write_bytes(b"PK\x03\x04")
    with pytest.raises(AnswerFileError, match="inspect log convert --to json"):
        read_answer_file(tmp_path / "log.eval", SQUAD)
    (tmp_path / "other.json").write_text('{"results": {}}')
    with pytest.raises(AnswerFileError, match="other.json: not an inspect-ai log"):
        read_answer_file(tmp_path / "other.json", SQUAD)
    log = json.loads(INSPECT.read_text())
    log["samples"] = []
    (tmp_path / "empty.json").write_text(json.dumps(log))
    with pytest.raises(AnswerFileError, match="empty.json: an inspect-ai log with no samples"):
        read_answer_file(tmp_path / "empty.json", SQUAD)


def test_an_lm_eval_file_is_named_by_its_model_folder_and_task(tmp_path):
    folder = tmp_path / "models__smollm2-135m-instruct"
    folder.mkdir()
    copy = folder / LM_EVAL.name
    copy.write_bytes(LM_EVAL.read_bytes())
    assert lm_eval_label(copy) == "lm-eval models/smollm2-135m-instruct (slingshot_squad_dev200)"
