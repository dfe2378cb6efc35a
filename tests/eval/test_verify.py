"""A store is checked before it is reported: its recorded hashes, its numbers, its meta against its answers,
and every answer scored again, where the task allows, against the split data prep built (never one the store
names), each refusal naming the file."""
import json

import pytest

from data_prep.prepare import write_test_split
from eval.store import RunStore, figures_sha256
from eval.verify import (check_meta_against_rows, check_meta_numbers, is_unverified, number_problem, verify_run)
from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_jsonl, sha256_file
from slingshot import layout
from slingshot.tasks import squad
from tests.helpers import DEFAULT_RECIPE, squad_dev_questions, write_run

SOURCES = {"dev": {"source": "data_prep/sources/squad/dev-v1.1.json.gz", "sha256": "0" * 64}}


def data_prep_split(name, questions):
    """A shared split and its manifest, written by data prep's own writer."""
    rows = [{"id": q, "answers": golds, "messages": squad.build_messages(c, "?")} for q, c, golds in questions]
    path = layout.test_split_path("squad", name)
    write_test_split(path, rows, SOURCES, squad.PROMPT_VERSION, DEFAULT_RECIPE)
    return path


@pytest.fixture
def run(tmp_path):
    """A store of 10 answers and its data-prep split (named after the test, so no two tests share one)."""
    questions = squad_dev_questions()[:10]
    meta, rows = write_run(tmp_path / "run", questions, "base", 0.5, 1)
    split = data_prep_split(tmp_path.name, questions)
    meta.update(split=tmp_path.name)
    return RunStore(tmp_path / "run"), meta, rows, split


def finished(store, meta, **changes):
    """meta as `eval run` finishes it (both hashes recorded), with `changes` made before finishing."""
    meta = {**meta, "segments": [{"started": "", "wall_s": meta["wall_s"], "n": 10, "requests": 10, "concurrency": 2}],
            "requests": 10, "concurrency": 2, "generation_s": 2.0, **changes}
    store.finish(meta)
    return store.read_meta()


def test_how_a_store_was_verified(run):
    store, meta, rows, split = run
    how = verify_run(store, meta, rows, squad)
    assert how.startswith("unverified: no recorded sha256") and "every answer was re-scored" not in how
    meta.update(predictions_sha256=sha256_file(store.predictions_path), segments=[{"wall_s": 40.0, "n": 10}])
    assert "match their recorded sha256 but were not re-scored" in verify_run(store, meta, rows, squad)
    meta["split_sha256"] = sha256_file(split)
    how = verify_run(store, meta, rows, squad)
    assert how.startswith("answers match their recorded sha256 and were re-scored against the split")
    assert "not covered by a hash" in how and is_unverified(how)  # stored before figures were hashed
    how = verify_run(store, finished(store, meta), rows, squad)
    assert how == "answers match their recorded sha256 and were re-scored against the split"
    assert not is_unverified(how)


def test_a_store_naming_its_own_copy_of_the_split_is_not_scored_against_it(run, tmp_path):
    """Gold answers replaced by the store's own, every hash recomputed: the copy is never read."""
    store, meta, rows, split = run
    copy = tmp_path / "run" / "split.jsonl"
    answers = {r["id"]: r["answer"] for r in rows}
    atomic_write_jsonl(copy, [{**json.loads(line), "answers": [answers[json.loads(line)["id"]]]}
                              for line in split.read_text().splitlines()])
    rows = [{**r, "metrics": {"exact_match": 100.0, "f1": 100.0}} for r in rows]
    atomic_write_jsonl(store.predictions_path, rows)
    meta = finished(store, {**meta, "split_path": str(copy), "split_sha256": sha256_file(copy)})
    how = verify_run(store, meta, rows, squad)
    assert how.startswith("unverified: its answers match their recorded sha256 but were not re-scored: its split")
    assert f"is not a data-prep split: data prep's data/squad/test/{split.name} has sha256" in how
    assert is_unverified(how)
    split.unlink()  # no data-prep split of that name here: still never the store's copy
    how = verify_run(store, meta, rows, squad)
    assert "is not a data-prep split here: data prep has built no" in how and is_unverified(how)
    for name in ("../../../etc/passwd", "/etc/passwd", ".hidden"):  # nothing is looked up outside data/squad/test/
        assert "is not a data-prep split: data prep names none so" in verify_run(store, {**meta, "split": name},
                                                                                  rows, squad)


def test_a_hand_edited_shared_split_is_refused_with_the_command_that_rebuilds_it(run):
    store, meta, rows, split = run
    meta = finished(store, {**meta, "split_sha256": sha256_file(split)})
    verify_run(store, meta, rows, squad)
    lines = split.read_text().splitlines()
    edited = [json.dumps({**json.loads(line), "answers": ["anything"]}) for line in lines]
    split.write_text("\n".join(edited) + "\n")
    with pytest.raises(UserError, match=r"the split's bytes are not the ones data prep wrote .* rebuild it with "
                                        r"`make prepare RECIPE=recipes/squad/smollm2-135m/lora-cpu.yml`"):
        verify_run(store, meta, rows, squad)
    split.with_name(split.stem + ".manifest.json").unlink()
    with pytest.raises(UserError, match="a shared split with no manifest"):
        verify_run(store, meta, rows, squad)


def test_numbers_must_be_finite_and_not_negative(run):
    store, meta, rows, _ = run
    assert number_problem(True) and number_problem(float("nan")) and number_problem(101, high=100)
    assert number_problem(0) is None
    with pytest.raises(UserError, match="key usage.tokens_in must be a finite number >= 0, got -1"):
        check_meta_numbers(store.meta_path, {**meta, "usage": {"tokens_in": -1}})
    bad = [{**rows[0], "latency_s": -0.1}] + rows[1:]
    with pytest.raises(UserError, match="key latency_s must be a finite number >= 0"):
        verify_run(store, meta, bad, squad)


def test_meta_sums_must_be_the_answers_sums(run):
    store, meta, rows, _ = run
    meta = {**meta, "segments": [{"requests": 10, "n": 10}]}
    check_meta_against_rows(store, meta, rows)
    with pytest.raises(UserError, match="key usage.tokens_out is 1, but the answers in predictions.jsonl add up"):
        check_meta_against_rows(store, {**meta, "usage": {**meta["usage"], "tokens_out": 1}}, rows)
    with pytest.raises(UserError, match=r"segments\[0\] kept 10 answers from 2 requests"):
        check_meta_against_rows(store, {**meta, "segments": [{"requests": 2, "n": 10}]}, rows)
    assert json.loads(store.meta_path.read_text())["label"] == "base"


FORGED = {  # each figure that feeds cost or speed, edited in meta.json alone
    "tokens_in": lambda m: m["usage"].update(tokens_in=1),
    "tokens_out": lambda m: m["usage"].update(tokens_out=1),
    "wall_s": lambda m: m.update(wall_s=0.001),
    "segments_removed": lambda m: m.pop("segments"),
    "segment_wall_s": lambda m: m["segments"][0].update(wall_s=0.001),
    "segment_requests": lambda m: m["segments"][0].update(requests=11),
    "requests": lambda m: m.update(requests=1),
    "generation_s": lambda m: m.update(generation_s=0.001),
    "usd_per_hour": lambda m: m.update(usd_per_hour=0.0001),
    "concurrency": lambda m: m.update(concurrency=64),
}
# what the answers alone still prove once figures_sha256 is stripped too (the store then reads as unhashed)
REDERIVED = {"tokens_in": "key usage.tokens_in is 1", "tokens_out": "key usage.tokens_out is 1",
             "wall_s": "key wall_s is 0.001", "segment_wall_s": "its segments' wall_s add up to",
             "requests": "key requests is 1, but its segments add up to 10",
             "segment_requests": "key requests is 10, but its segments add up to 11",
             "generation_s": "key generation_s is 0.001", "segments_removed": "key segments is missing"}


@pytest.mark.parametrize("field", FORGED)
def test_every_cost_and_speed_figure_edited_in_meta_alone_is_refused(run, field):
    store, meta, rows, split = run
    meta = finished(store, {**meta, "split_sha256": sha256_file(split), "usd_per_hour": 1.0})
    FORGED[field](meta)
    atomic_write_json(store.meta_path, meta)
    with pytest.raises(UserError, match=f"{store.meta_path}: "):
        verify_run(store, store.read_meta(), rows, squad)
    del meta["figures_sha256"]
    if field in REDERIVED:
        with pytest.raises(UserError, match=REDERIVED[field]):
            verify_run(store, meta, rows, squad)
    else:  # not re-derivable: reported, but said to be unverified
        how = verify_run(store, meta, rows, squad)
        assert "cost and speed figures are not covered by a hash" in how and is_unverified(how)


def test_the_hash_covers_every_figure():
    base = {"predictions_sha256": "a" * 64, "wall_s": 1.0, "usage": {"tokens_in": 1}}
    assert figures_sha256(base) == figures_sha256(dict(base)) and len(figures_sha256(base)) == 64
    assert figures_sha256(base) != figures_sha256({**base, "predictions_sha256": "b" * 64})
    assert figures_sha256(base) != figures_sha256({**base, "segments": []})
    assert figures_sha256(base) == figures_sha256({**base, "label": "renamed"})  # not a figure
