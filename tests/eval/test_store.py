"""Stores that must not freeze wrong results: bad 200 answers, two writers, corrupt lines, hung servers.

Each fault comes from a real HTTP server on 127.0.0.1 (a small stdlib server answering the
bodies that broken OpenAI-compatible servers send); the client, the runner and the store are real.
"""
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.backends.openai_api import (DEFAULT_MAX_RETRIES, SELF_HOSTED_TIMEOUT_S, BackendError,
                                      OpenAIBackend)
from eval.run import evaluate
from eval.store import RUN_LOCK, RunStore, find_runs
from slingshot.errors import UserError
from slingshot.io import atomic_write_jsonl
from slingshot.layout import ROOT

N = 5


class ScriptedServer(ThreadingHTTPServer):
    """Answers /v1/chat/completions as `mode` says, counting the requests for each question."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.mode, self.delay_s = "ok", 0.0
        self.asked = Counter()
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends the handlers of a "hang" server
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"


class ScriptedHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = request["messages"][-1]["content"]
        server = self.server
        with server.lock:
            server.asked[question] += 1
        if server.mode == "hang":
            server.release.wait(60)
            return
        time.sleep(server.delay_s)
        completion = {"id": "c", "object": "chat.completion", "created": 0, "model": "scripted",
                      "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": "Paris"}}],
                      "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}}
        content_type = "application/json"
        if server.mode == "empty_choices":
            completion["choices"] = []
        elif server.mode == "null_content":
            completion["choices"][0]["message"]["content"] = None
        body = json.dumps(completion).encode()
        if server.mode == "html":
            content_type, body = "text/html", b"<html><body>Bad gateway, but 200</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    server = ScriptedServer()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def split(tmp_path):
    rows = [{"id": f"q{i}", "answers": ["Paris"], "paragraph": f"p{i}",
             "messages": [{"role": "system", "content": "Answer with a span."},
                          {"role": "user", "content": f"question {i}: where?"}]} for i in range(N)]
    path = tmp_path / "squad" / "test" / f"dev-{N}.jsonl"
    atomic_write_jsonl(path, rows)
    return path


def backend(server, **options):
    return OpenAIBackend("scripted", base_url=server.url, concurrency=1, backoff_s=0.01, **options)


def eval_run(server, split, results, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "eval", "run", "--model", "openai:scripted", "--base-url", server.url,
         "--split", str(split), "--results-dir", str(results), "--concurrency", "1", *map(str, extra)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.mark.parametrize("mode, message", [
    ("empty_choices", "200 with no choices"),
    ("null_content", "200 with NoneType content"),
    ("html", "200 with a body that is not a chat completion"),
])
def test_a_200_without_an_answer_is_retried_then_fails_the_run(server, split, tmp_path, mode, message):
    server.mode = mode
    with pytest.raises(BackendError, match=f"failed after 3 attempts; last error: the server answered {message}"):
        evaluate(backend(server, max_retries=2), split, 8, results_dir=tmp_path / "results", quiet=True)
    assert sum(server.asked.values()) == 3  # one question, three attempts; nothing more asked
    store = RunStore(next((tmp_path / "results").glob("*/*")))
    assert store.read_meta()["status"] == "running" and store.load_predictions() == {}
    assert store.read_meta()["retry_reasons"] == {"bad_response": 2}

    server.mode, server.asked = "ok", Counter()  # the server is fixed: the rerun asks everything
    again = evaluate(backend(server), split, 8, results_dir=tmp_path / "results", quiet=True)
    assert again.folder == store.folder and again.read_meta()["status"] == "done"
    assert sum(server.asked.values()) == N
    assert {p["answer"] for p in again.load_predictions().values()} == {"Paris"}


def test_an_html_200_ends_in_an_error_line_not_a_traceback(server, split, tmp_path):
    server.mode = "html"
    code, _, err = finish(eval_run(server, split, tmp_path, "--max-retries", 1))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ") and "not a chat completion" in err


def wait_for_lock_holder(results, process, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for lock in results.glob(f"*/*/{RUN_LOCK}"):
            if lock.read_text().strip() == str(process.pid):
                return lock
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the first run never took the store's lock")


def test_a_second_process_on_the_same_store_refuses_or_waits(server, split, tmp_path):
    server.delay_s = 3.0  # the first run takes about 15 s: long enough for two more to start
    results = tmp_path / "results"
    first = eval_run(server, split, results)
    wait_for_lock_holder(results, first)
    second, queued = eval_run(server, split, results), eval_run(server, split, results, "--wait")
    code, _, err = finish(second)
    assert code == 2 and f"pid {first.pid}" in err and "--wait" in err
    assert finish(first)[0] == 0
    code, out, err = finish(queued)
    assert code == 0 and f"waiting for pid {first.pid}" in err and "already scored" in out, err
    assert server.asked == Counter({f"question {i}: where?": 1 for i in range(N)})  # each asked, and paid, once
    meta = RunStore(next(results.glob("*/*"))).read_meta()
    assert meta["requests"] == N and meta["status"] == "done"


def test_a_finished_store_with_missing_or_corrupt_lines_is_reported_and_repaired(server, split, tmp_path):
    results = tmp_path / "results"
    store = evaluate(backend(server), split, 32, results_dir=results, quiet=True)  # the CLI default
    lines = store.predictions_path.read_text().splitlines(keepends=True)
    store.predictions_path.write_text(lines[0] + '{"id": "q1", "answ\n' + lines[2] + lines[4])
    with pytest.raises(UserError, match=r"expects 5 predictions but the file holds 3 usable, "
                                        r"1 corrupt line\(s\) \(line 2\).*eval run"):
        find_runs([results])

    server.asked = Counter()
    code, _, err = finish(eval_run(server, split, results))
    assert code == 0, err
    assert "expects 5 predictions but the file holds 3 usable" in err
    assert server.asked == Counter({"question 1: where?": 1, "question 3: where?": 1})  # only the missing
    assert [s.folder for s in find_runs([results])] == [store.folder]
    assert sorted(store.load_predictions()) == [f"q{i}" for i in range(N)]
    assert store.scan()[1] == []  # the corrupt line is gone from the file


def test_a_hung_server_fails_within_the_timeout_flags(server, split, tmp_path):
    server.mode = "hang"
    started = time.monotonic()
    code, _, err = finish(eval_run(server, split, tmp_path, "--timeout", 1, "--max-retries", 1))
    assert code == 2 and "Traceback" not in err
    assert "failed after 2 attempts; last error: no answer within 1s" in err
    assert time.monotonic() - started < 30  # two 1 s attempts, not 7 of 600 s
    assert sum(server.asked.values()) == 2


def test_self_hosted_defaults_suit_a_local_server(server):
    local = OpenAIBackend("scripted", base_url=server.url)
    assert (local.timeout, local.max_retries) == (SELF_HOSTED_TIMEOUT_S, DEFAULT_MAX_RETRIES) == (120.0, 4)
    result = subprocess.run([sys.executable, "-m", "eval", "run", "--help"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "COLUMNS": "200"})
    assert "--timeout" in result.stdout and "--max-retries" in result.stdout and "--wait" in result.stdout
    result = subprocess.run([sys.executable, "-m", "eval", "run", "--model", "hf:x", "--split", "x.jsonl",
                             "--timeout", "5"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "--timeout applies to openai: models only" in result.stderr
