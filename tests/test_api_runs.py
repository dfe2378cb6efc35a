"""API runs through the real CLI against real servers on 127.0.0.1: number options checked
before anything runs."""
import json

import pytest

from faulty_proxy import FaultyProxy
from servers import WordBackend, start_server, stop_server
from slingshot.io import atomic_write_jsonl
from tests.conftest import run_module

@pytest.fixture(scope="module")
def word_server():
    server = start_server(WordBackend())
    yield server
    stop_server(server)


@pytest.fixture
def proxy(word_server):
    """A FaultyProxy in front of the word server (faults set by each test)."""
    proxy = FaultyProxy(word_server.url).start()
    yield proxy
    proxy.stop()


def squad_split(folder, n):
    """The first n SQuAD dev-200 questions, as a split file the runner reads."""
    from data_prep import squad
    path = folder / "squad" / "test" / f"dev-first{n}.jsonl"
    dev = squad.test_split(squad.load_source("local", "dev")[0], "dev-200")[:n]
    rows = [squad.test_row(q) for q in dev]
    atomic_write_jsonl(path, rows)
    return path, rows


def eval_run(base_url, split, results, *extra, env=None):
    return run_module("eval", "run", "--model", "openai:word-model", "--base-url", base_url, "--split", split,
                      "--results-dir", results, "--max-new-tokens", "8", "--concurrency", "2", *extra,
                      timeout=300, env=env)


def run_folder(results):
    (meta,) = results.rglob("meta.json")
    return meta.parent


def stored(results):
    files = list(results.rglob("predictions.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


# ---------- number options ----------

@pytest.mark.parametrize("option, value, message", [
    ("--timeout", "nan", "--timeout: 'nan': expected a finite number > 0"),
    ("--timeout", "inf", "--timeout: 'inf': expected a finite number > 0"),
    ("--timeout", "-1", "--timeout: '-1': expected a finite number > 0"),
    ("--timeout", "soon", "--timeout: 'soon': expected a finite number > 0"),
    ("--max-new-tokens", "0", "--max-new-tokens: '0': expected a whole number >= 1"),
    ("--max-new-tokens", "-5", "--max-new-tokens: '-5': expected a whole number >= 1"),
    ("--max-new-tokens", "1.5", "--max-new-tokens: '1.5': expected a whole number >= 1"),
    ("--concurrency", "0", "--concurrency: '0': expected a whole number >= 1"),
    ("--max-retries", "-1", "--max-retries: '-1': expected a whole number >= 0"),
    ("--limit", "0", "--limit: '0': expected a whole number >= 1"),
    ("--shots", "-2", "--shots: '-2': expected a whole number >= 0"),
    ("--batch-size", "0", "--batch-size: '0': expected a whole number >= 1"),
    ("--usd-per-hour", "nan", "--usd-per-hour: 'nan': expected a finite number >= 0"),
])
def test_number_options_are_checked_before_anything_runs(option, value, message, proxy, tmp_path):
    split, _ = squad_split(tmp_path, 2)
    result = eval_run(proxy.url, split, tmp_path / "results", f"{option}={value}")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert proxy.log == [] and not (tmp_path / "results").exists()


@pytest.mark.parametrize("command", [
    ["report", "results", "--n-boot", "0"], ["report", "results", "--seed", "-1"],
    ["recipe", "r.yml", "--limit", "0"], ["serve", "--model", "hf:x", "--port", "70000"],
    ["serve", "--model", "hf:x", "--max-batch", "0"], ["serve", "--model", "hf:x", "--batch-wait-ms", "nan"],
])
def test_number_options_of_the_other_commands(command):
    result = run_module("eval", *command)
    assert result.returncode == 2 and ": expected a " in result.stderr, result.stderr


def test_max_new_tokens_is_used_as_given(proxy, tmp_path):
    split, _ = squad_split(tmp_path, 1)
    result = eval_run(proxy.url, split, tmp_path / "results", "--max-new-tokens", "3")
    assert result.returncode == 0, result.stderr
    meta = json.loads((run_folder(tmp_path / "results") / "meta.json").read_text())
    assert meta["generation"]["max_new_tokens"] == 3
    assert all(len(r["raw_output"].split()) <= 3 for r in stored(tmp_path / "results"))
