"""The local backend and the resumable runner, on the real embedded model."""
import json

import pytest

from eval.backends import parse_model_spec
from eval.backends.local import LocalBackend
from eval.run import EvalError, evaluate, load_split
from slingshot.errors import UserError
from slingshot.io import atomic_write_jsonl, read_jsonl
from tests.helpers import run_module



@pytest.fixture(scope="module")
def split_file(tmp_path_factory):
    """Eight real dev questions, in a split file of their own."""
    from data_prep import squad
    rows = [squad.test_row(q) for q in squad.test_split(squad.load_source("local", "dev")[0], "dev-200")[:8]]
    path = tmp_path_factory.mktemp("data") / "squad" / "test" / "dev-8.jsonl"
    atomic_write_jsonl(path, rows)
    return path


@pytest.fixture(scope="module")
def backend(model_dir):
    return LocalBackend("models/smollm2-135m-instruct")


def test_model_spec_errors():
    with pytest.raises(ValueError, match="unknown model spec 'gpt-4'"):
        parse_model_spec("gpt-4")
    result = run_module("eval", "run", "--model", "claude:x", "--split", "dev-200")
    assert result.returncode == 2 and "unknown model spec" in result.stderr


def test_split_errors(tmp_path):
    empty = tmp_path / "squad" / "test" / "empty.jsonl"
    empty.parent.mkdir(parents=True)
    empty.write_text("")
    with pytest.raises(EvalError, match="the split is empty"):
        load_split(empty)
    bad = empty.with_name("bad.jsonl")
    bad.write_text('{"id": "a", "messages": []}\n{"messages": []}\n')
    with pytest.raises(EvalError, match="bad.jsonl: row 2: missing key 'id'"):
        load_split(bad)
    with pytest.raises(EvalError, match="not found"):
        load_split(tmp_path / "nope.jsonl")


def test_a_shared_split_is_run_only_while_it_is_what_data_prep_wrote(tmp_path):
    """A hand-edited data/<task>/test/ split is refused with the command that rebuilds it; a user's own
    JSONL elsewhere is run (reports call it not a data-prep split)."""
    from data_prep import squad as squad_prep
    from data_prep.prepare import write_test_split
    from slingshot.layout import test_split_path
    from slingshot.tasks import squad
    from tests.helpers import DEFAULT_RECIPE
    rows = [squad_prep.test_row(q) for q in squad_prep.test_split(squad_prep.load_source("local", "dev")[0],
                                                                  "dev-200")[:3]]
    shared = test_split_path("squad", tmp_path.name)
    write_test_split(shared, rows, {"dev": {"source": "x", "sha256": "0" * 64}}, squad.PROMPT_VERSION, DEFAULT_RECIPE)
    assert load_split(shared) == rows
    shared.write_text(shared.read_text().replace('"answers": [', '"answers": ["anything", '))
    with pytest.raises(UserError, match=r"the split's bytes are not the ones data prep wrote .*`make prepare "
                                        r"RECIPE=recipes/squad/smollm2-135m/lora-cpu.yml`"):
        load_split(shared)
    shared.with_name(f"{shared.stem}.manifest.json").unlink()
    with pytest.raises(UserError, match="a shared split with no manifest"):
        load_split(shared)
    own = tmp_path / "squad" / "test" / "mine.jsonl"
    atomic_write_jsonl(own, rows)
    assert load_split(own) == rows


@pytest.mark.slow
def test_batched_answers_equal_one_at_a_time(backend, split_file):
    rows = read_jsonl(split_file)
    items = [(r["id"], r["messages"]) for r in rows]
    batched, single = {}, {}
    backend.generate(items, 24, lambda i, g: batched.__setitem__(i, g))
    one = LocalBackend.__new__(LocalBackend)
    one.__dict__.update(backend.__dict__, batch_size=1)
    one.generate(items, 24, lambda i, g: single.__setitem__(i, g))
    assert {i: g.text for i, g in batched.items()} == {i: g.text for i, g in single.items()}
    assert all(g.tokens_in > 50 and 0 < g.tokens_out <= 24 for g in batched.values())


@pytest.mark.slow
def test_runner_stores_resumes_and_keys_by_settings(backend, split_file, tmp_path):
    store = evaluate(backend, split_file, 16, results_dir=tmp_path, label="base", quiet=True)
    meta = store.read_meta()
    assert meta["status"] == "done" and meta["n_expected"] == 8 and meta["split"] == "dev-8"
    predictions = store.load_predictions()
    assert len(predictions) == 8
    row = next(iter(predictions.values()))
    assert set(row["metrics"]) == {"exact_match", "f1"} and row["prompt_hash"] and row["latency_s"] > 0

    # a run cut short keeps what it stored: drop 3 predictions and a torn line, then resume
    lines = store.predictions_path.read_text().splitlines(keepends=True)
    store.predictions_path.write_text("".join(lines[:5]) + lines[5][:20])
    meta["status"] = "running"
    store.write_meta(meta)
    asked = []
    original = backend.generate
    backend.generate = lambda items, n, cb, **kw: (asked.extend(i for i, _ in items), original(items, n, cb, **kw))
    try:
        again = evaluate(backend, split_file, 16, results_dir=tmp_path, label="base", quiet=True)
    finally:
        backend.generate = original
    assert again.folder == store.folder
    assert len(asked) == 3
    assert {i: p["answer"] for i, p in again.load_predictions().items()} == {i: p["answer"] for i, p in predictions.items()}

    other = evaluate(backend, split_file, 8, results_dir=tmp_path, label="base", quiet=True)
    assert other.folder != store.folder  # other generation settings never mix with stored ones
    assert json.loads((other.folder / "meta.json").read_text())["generation"]["max_new_tokens"] == 8
