"""Stores that lie about their files: a FIFO, a device or a link out of the store where a file should be, a
sparse file of 200 GB, a split a store names for itself. `eval report` and `eval run` refuse each at once,
naming the file. The commands run as a user runs them; HANG_GUARD only keeps a regression from hanging
the suite (a hang fails as a timeout): each case asserts the refusal, not a speed."""
import json
import os
import subprocess

import pytest

from data_prep.prepare import write_test_split
from eval.store import RunStore
from slingshot.io import sha256_file
from slingshot import layout
from slingshot.tasks import squad
from tests.helpers import DEFAULT_RECIPE, run_module, squad_dev_questions, write_run

HANG_GUARD = 10  # seconds
SPARSE = "200G"


@pytest.fixture
def store(tmp_path):
    """A finished store of 10 answers, hashed as `eval run` finishes it, scored on a data-prep split."""
    questions = squad_dev_questions()[:10]
    meta, _ = write_run(tmp_path / "results" / "run", questions, "base", 0.5, 1)
    split = layout.test_split_path("squad", tmp_path.name)
    write_test_split(split, [{"id": q, "answers": g, "messages": squad.build_messages(c, "?")} for q, c, g in questions],
                     {"dev": {"source": "test rows", "sha256": "0" * 64}}, squad.PROMPT_VERSION, DEFAULT_RECIPE)
    meta.update(split=split.stem, split_sha256=sha256_file(split), generation_s=2.0,
                segments=[{"started": "", "wall_s": meta["wall_s"], "n": 10, "concurrency": 1}])
    store = RunStore(tmp_path / "results" / "run")
    store.finish(meta)
    return store


def report(folder, out):
    try:
        return run_module("eval", "report", folder, "--out", out, "--n-boot", "20", timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        pytest.fail(f"eval report still running after {HANG_GUARD} s: it read a file it should have refused")


def sparse(path):
    path.unlink(missing_ok=True)
    subprocess.run(["truncate", "-s", SPARSE, str(path)], check=True)


def refused(result, *phrases):
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_the_honest_store_is_reported(store, tmp_path):
    result = report(store.folder, tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert "answers match their recorded sha256 and were re-scored against the split" in result.stdout


@pytest.mark.parametrize("name", ["predictions.jsonl", "meta.json"])
def test_a_fifo_in_the_store_is_refused(store, tmp_path, name):
    (store.folder / name).unlink()
    os.mkfifo(store.folder / name)
    refused(report(store.folder, tmp_path / "o"), f"{store.folder / name}: ", "is a FIFO, not a regular file")


def test_a_sparse_predictions_file_is_refused_unread(store, tmp_path):
    sparse(store.predictions_path)
    refused(report(store.folder, tmp_path / "o"), f"{store.predictions_path}: predictions.jsonl is 214,748,364,800 "
                                                  "bytes, more than the")


@pytest.mark.parametrize("target", ["/dev/zero", "outside"])
def test_a_link_out_of_the_store_is_refused(store, tmp_path, target):
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(store.predictions_path.read_bytes())
    store.predictions_path.unlink()
    store.predictions_path.symlink_to(target if target.startswith("/") else outside)
    refused(report(store.folder, tmp_path / "o"), "predictions.jsonl is a link out of")


@pytest.mark.parametrize("kind", ["fifo", "sparse"])
def test_a_shared_split_that_is_a_fifo_or_a_sparse_file_is_refused(store, tmp_path, kind):
    split = layout.test_split_path("squad", store.read_meta()["split"])
    split.unlink()
    os.mkfifo(split) if kind == "fifo" else sparse(split)
    phrase = "is a FIFO, not a regular file" if kind == "fifo" else "the split's bytes are not the ones data prep wrote"
    refused(report(store.folder, tmp_path / "o"), f"{split.name}: ", phrase)


@pytest.mark.parametrize("kind", ["fifo", "sparse"])
def test_a_split_the_store_names_is_never_opened(store, tmp_path, kind):
    named = tmp_path / "named.jsonl"
    os.mkfifo(named) if kind == "fifo" else sparse(named)
    meta = store.read_meta()
    meta["split_path"] = str(named)  # not a figure: the hashes still hold
    store.write_meta(meta)
    result = report(store.folder, tmp_path / "o")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["fifo", "sparse"])
def test_an_export_file_that_is_a_fifo_or_a_sparse_file_is_refused(store, tmp_path, kind):
    gguf = tmp_path / "runs" / "r" / "export" / "r-Q8_0.gguf"
    gguf.parent.mkdir(parents=True)
    os.mkfifo(gguf) if kind == "fifo" else sparse(gguf)
    forge_export(store, gguf, 4096 if kind == "fifo" else gguf.stat().st_size)  # a size that matches
    phrase = "is a FIFO, not a regular file" if kind == "fifo" else "more than the"
    refused(report(store.folder, tmp_path / "o"), f"{gguf}: an export file ", phrase)


def test_a_file_outside_an_export_folder_is_never_hashed(store, tmp_path):
    named = tmp_path / "disk.img"
    sparse(named)
    forge_export(store, named, named.stat().st_size)
    result = report(store.folder, tmp_path / "o")
    assert result.returncode == 0 and f"export file not re-checked ({named} is not a .gguf file in an export/ " \
        "folder)" in result.stdout


def forge_export(store, path, size):
    meta = {**store.read_meta(), "gguf_files": [str(path)], "gguf_sha256": "0" * 64, "gguf_bytes": size}
    store.write_complete(meta, store.load_predictions().values())  # every hash recomputed


def test_a_fifo_for_the_adapters_recipe_is_named_not_read(store, tmp_path):
    adapter = tmp_path / "runs" / "tuned"
    adapter.mkdir(parents=True)
    os.mkfifo(adapter / "recipe.yml")
    meta = {**store.read_meta(), "adapter": str(adapter)}
    store.write_meta(meta)
    result = report(store.folder, tmp_path / "o")
    assert result.returncode == 0, result.stderr
    statements = json.loads((tmp_path / "o" / "report.json").read_text())["contamination"]
    assert any("recipe.yml: the run's recipe is a FIFO" in s["statement"] for s in statements)


@pytest.mark.parametrize("kind", ["fifo", "sparse"])
def test_eval_run_refuses_a_split_that_is_a_fifo_or_a_sparse_file(tmp_path, kind):
    split = tmp_path / "squad" / "test" / "mine.jsonl"
    split.parent.mkdir(parents=True)
    os.mkfifo(split) if kind == "fifo" else sparse(split)
    try:
        result = run_module("eval", "run", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--split",
                            split, "--results-dir", tmp_path / "results", timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        pytest.fail(f"eval run still running after {HANG_GUARD} s")
    refused(result, f"{split}: the split is ", "a FIFO, not a regular file" if kind == "fifo" else "more than the")
