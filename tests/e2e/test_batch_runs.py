"""`python -m eval run --batch` as a user runs it, killed at the worst moments and run again: exactly one
batch is ever created, as the fake server's request log shows (tests/helpers/servers.FakeBatchServer)."""
import json
import signal
import subprocess
import sys
import time

import pytest

from slingshot.layout import ROOT
from tests.helpers import first_squad_questions, run_module
from tests.helpers.servers import FakeBatchServer

N = 6


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return first_squad_questions(tmp_path_factory.mktemp("data"), N)


@pytest.fixture
def server():
    server = FakeBatchServer()
    yield server
    server.stop()


def command(server, split, results):
    return ["eval", "run", "--model", "openai:word-model", "--base-url", server.url, "--split", split,
            "--results-dir", results, "--max-new-tokens", "8", "--batch", "--poll-interval", "0.05"]


def start(server, split, results):
    return subprocess.Popen([sys.executable, "-m", *map(str, command(server, split, results))], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)


def resume(server, split, results):
    result = run_module(*command(server, split, results), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (predictions,) = results.rglob("predictions.jsonl")
    assert len(predictions.read_text().splitlines()) == N
    return result


def test_killed_after_the_create_was_sent_the_rerun_finds_the_batch_by_its_tag(server, split, tmp_path):
    import threading
    server.block_create = threading.Event()  # the batch exists, but its id never reaches the client
    process = start(server, split, tmp_path)
    wait_for(lambda: server.batches, process)
    process.kill()
    process.wait()
    server.block_create.set()
    server.block_create = None
    resume(server, split, tmp_path)
    assert len(server.requests("POST", "/v1/batches")) == 1 and len(server.batches) == 1
    assert len(server.requests("POST", "/v1/files")) == 1
    (state,) = tmp_path.rglob("batch.json")
    assert json.loads(state.read_text())["batches"][0]["batch_id"] == "batch-1"


def test_killed_before_the_batch_was_created_the_rerun_reuses_the_uploaded_file(server, split, tmp_path):
    import threading
    server.block_before_create = threading.Event()
    process = start(server, split, tmp_path)
    wait_for(lambda: server.requests("POST", "/v1/batches"), process)
    process.kill()
    process.wait()
    server.block_before_create.set()
    time.sleep(0.1)
    server.block_before_create = None
    resume(server, split, tmp_path)
    assert len(server.batches) == 1 and len(server.requests("POST", "/v1/files")) == 1
    assert server.requests("GET", "/v1/files/file-1")  # the recorded upload was looked up and reused


def test_stopped_while_polling_the_rerun_polls_the_same_batch(server, split, tmp_path):
    server.outcomes = ["hold"]
    server.hold_polls.set()
    process = start(server, split, tmp_path)
    wait_for(lambda: len(server.requests("GET", "/v1/batches/batch-1")) >= 2, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM and "run the same command again" in err
    server.hold_polls.clear()
    result = resume(server, split, tmp_path)
    assert "batch batch-1: completed" in result.stderr
    assert len(server.requests("POST", "/v1/batches")) == 1 and len(server.batches) == 1


def test_a_short_batch_stops_naming_both_ways_to_finish(server, split, tmp_path):
    server.outcomes = ["expired"]
    result = run_module(*command(server, split, tmp_path), timeout=120)
    assert result.returncode == 2
    assert f"{N - N // 2} questions have no answer" in result.stderr
    assert "--finish live" in result.stderr and "--finish batch" in result.stderr
    finished = run_module(*command(server, split, tmp_path), "--finish", "live", timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert len(server.requests("POST", "/v1/chat/completions")) == N - N // 2
