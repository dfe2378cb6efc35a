"""The OpenAI backend against real servers on 127.0.0.1, with a proxy that fails on purpose."""
import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from eval.backends.openai_api import BackendError, OpenAIBackend, clean_base_url
from tests.helpers.faulty_proxy import FaultyProxy, messages_hash
from tests.helpers.servers import WordBackend, start_server, stop_server
from slingshot.layout import ROOT
from slingshot.io import atomic_write_jsonl

MODEL_DIR = ROOT / "models" / "smollm2-135m-instruct"
needs_model = pytest.mark.skipif(
    not (MODEL_DIR / "config.json").exists(),
    reason=f"{MODEL_DIR.relative_to(ROOT)} is missing: run `make model` first")
SECRET = "sk-test-DoNotLeakThisKey0123456789"


def questions(n):
    return [(f"q{i}", [{"role": "system", "content": "Reverse the words."},
                       {"role": "user", "content": f"word{i} alpha{i} beta{i} gamma{i}"}])
            for i in range(n)]


def answer_all(backend, items, max_new_tokens=8):
    answers = {}
    backend.generate(items, max_new_tokens, lambda i, g: answers.__setitem__(i, g))
    return answers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def word_server():
    server = start_server(WordBackend())
    yield server
    stop_server(server)


def proxy_for(server, faults=None, **options):
    return FaultyProxy(server.url, faults, **options).start()


# ---------- keys, identity, configuration ----------

def test_missing_key_for_openai_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match="OPENAI_API_KEY is not set"):
        OpenAIBackend("gpt-4o-mini")
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(BackendError, match="MY_KEY is not set"):
        OpenAIBackend("gpt-4o-mini", api_key_env="MY_KEY")


def test_key_never_in_identity_info_or_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    backend = OpenAIBackend("gpt-4o-mini")
    shown = json.dumps([backend.identity(), backend.info(), repr(backend), backend.spec])
    assert SECRET not in shown and "DoNotLeak" not in shown
    assert backend.identity()["model"] == "gpt-4o-mini"
    assert backend.identity()["base_url"] == "https://api.openai.com/v1"


def test_base_url_is_stored_without_credentials_or_query():
    assert clean_base_url("http://user:pw@LOCALHOST:8000/v1/?token=x") == "http://localhost:8000/v1"
    with pytest.raises(ValueError, match="expected http"):
        clean_base_url("localhost:8000")


def test_openai_key_is_not_sent_to_another_server_unless_asked(word_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LOCAL_SERVER_KEY", "local-key-123")
    proxy = proxy_for(word_server)
    try:
        answer_all(OpenAIBackend("word-model", base_url=proxy.url), questions(1))
        answer_all(OpenAIBackend("word-model", base_url=proxy.url, api_key_env="LOCAL_SERVER_KEY"),
                   questions(1))
    finally:
        proxy.stop()
    assert [e["authorization"] for e in proxy.log] == ["Bearer no-key", "Bearer local-key-123"]


def test_rejected_key_error_does_not_show_the_key(word_server, monkeypatch):
    monkeypatch.setenv("LOCAL_SERVER_KEY", SECRET)
    items = questions(1)
    proxy = proxy_for(word_server, {messages_hash(items[0][1]): ["401"]})
    try:
        backend = OpenAIBackend("word-model", base_url=proxy.url, api_key_env="LOCAL_SERVER_KEY")
        with pytest.raises(BackendError) as error:
            answer_all(backend, items)
    finally:
        proxy.stop()
    assert "401" in str(error.value) and "API key" in str(error.value)
    assert SECRET not in str(error.value) and "DoNotLeak" not in str(error.value)
    assert backend.info()["retries"] == 0, "a rejected key must not be retried"


# ---------- retries ----------

def test_retries_recover_and_answers_equal_direct(word_server):
    items = questions(8)
    direct = answer_all(OpenAIBackend("word-model", base_url=word_server.url), items)
    plans = {0: ["429"], 1: ["500", "500"], 2: ["drop"], 3: ["stall"], 4: ["429", "drop", "500"]}
    faults = {messages_hash(items[i][1]): plan for i, plan in plans.items()}
    proxy = proxy_for(word_server, faults, retry_after_s=1, stall_s=2.0)
    try:
        backend = OpenAIBackend("word-model", base_url=proxy.url, concurrency=4, timeout=1.0,
                                backoff_s=0.05)
        through_proxy = answer_all(backend, items)
    finally:
        proxy.stop()

    assert through_proxy.keys() == direct.keys() == {item_id for item_id, _ in items}
    for item_id in direct:
        assert through_proxy[item_id].text == direct[item_id].text
        assert through_proxy[item_id].tokens_out == direct[item_id].tokens_out > 0
    info = backend.info()
    assert info["retry_reasons"] == {"429": 2, "500": 3, "connection": 2, "timeout": 1}
    assert info["retries"] == 8 and info["requests"] == 16
    for i, (_, messages) in enumerate(items):
        asked = proxy.requested_hashes().count(messages_hash(messages))
        assert asked == len(plans.get(i, [])) + 1, f"q{i} asked {asked} times"
    # The Retry-After (1 s) of the 429 was waited out before asking again, not the 0.05 s backoff. Measured
    # from the first request's start, so the margin is the request's own time, not a clock at the boundary.
    first = [e for e in proxy.log if e["hash"] == messages_hash(items[0][1])]
    assert first[1]["start"] - first[0]["start"] >= 0.9


def test_gives_up_after_max_retries_but_hands_over_finished_answers(word_server):
    items = questions(6)
    proxy = proxy_for(word_server, {messages_hash(items[2][1]): ["500"] * 5})
    answers = {}
    try:
        backend = OpenAIBackend("word-model", base_url=proxy.url, concurrency=2, max_retries=2,
                                backoff_s=0.01)
        with pytest.raises(BackendError, match="failed after 3 attempts.*HTTP 500"):
            backend.generate(items, 8, lambda i, g: answers.__setitem__(i, g))
    finally:
        proxy.stop()
    assert "q2" not in answers
    # Whatever the pool had started before the failure is delivered, never dropped.
    started = {e["hash"] for e in proxy.log}
    for item_id, messages in items:
        if item_id != "q2" and messages_hash(messages) in started:
            assert item_id in answers
    assert proxy.requested_hashes().count(messages_hash(items[2][1])) == 3


def test_unreachable_server_fails_clearly_after_retries():
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend("word-model", base_url=url, max_retries=2, backoff_s=0.01)
    answers = {}
    with pytest.raises(BackendError, match=r"127\.0\.0\.1.*failed after 3 attempts.*connection"):
        backend.generate(questions(2), 8, lambda i, g: answers.__setitem__(i, g))
    assert answers == {}
    assert backend.info()["retry_reasons"] == {"connection": 4}


def test_out_of_credit_is_not_retried(word_server):
    items = questions(1)
    proxy = proxy_for(word_server, {messages_hash(items[0][1]): ["quota"]})
    try:
        backend = OpenAIBackend("word-model", base_url=proxy.url, backoff_s=0.01)
        with pytest.raises(BackendError, match="HTTP 429.*quota.*out of credit"):
            answer_all(backend, items)
    finally:
        proxy.stop()
    assert backend.info()["requests"] == 1


def test_client_errors_are_not_retried(word_server):
    backend = OpenAIBackend("no-such-model", base_url=word_server.url, backoff_s=0.01)
    with pytest.raises(BackendError, match="HTTP 404.*not served here"):
        answer_all(backend, questions(1))
    assert backend.info()["requests"] == 1


# ---------- the real model through the real server ----------

@pytest.fixture(scope="module")
def real_server():
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip(f"{MODEL_DIR.relative_to(ROOT)} is missing: run `make model` first")
    from eval.backends import make_backend
    # Requests share batches however they happen to arrive; greedy answers must not care.
    server = start_server(make_backend(f"hf:{MODEL_DIR}"), served_name="smollm2", max_batch=4)
    yield server
    stop_server(server)


def squad_split(folder, n):
    """The first n questions of the CPU test split, as a split JSONL the runner reads
    (it takes the task from the path: <task>/test/<split>.jsonl)."""
    path = folder / "squad" / "test" / f"dev-200-first{n}.jsonl"
    from data_prep import squad
    articles, _ = squad.load_source("local", "dev")
    rows = [squad.test_row(q) for q in squad.test_split(articles, "dev-200")[:n]]
    atomic_write_jsonl(path, rows)
    return path, rows


@pytest.mark.slow
def test_real_model_through_faulty_proxy_equals_direct(real_server, tmp_path):
    _, rows = squad_split(tmp_path, 6)
    items = [(row["id"], row["messages"]) for row in rows]
    direct = answer_all(OpenAIBackend("smollm2", base_url=real_server.url, timeout=600), items, 24)
    faults = {messages_hash(items[0][1]): ["429"], messages_hash(items[1][1]): ["drop"],
              messages_hash(items[2][1]): ["500"]}
    proxy = proxy_for(real_server, faults, retry_after_s=0)
    try:
        backend = OpenAIBackend("smollm2", base_url=proxy.url, concurrency=4, timeout=600,
                                backoff_s=0.05)
        through_proxy = answer_all(backend, items, 24)
    finally:
        proxy.stop()
    assert {k: g.text for k, g in through_proxy.items()} == {k: g.text for k, g in direct.items()}
    assert all(g.tokens_in > 50 and 0 < g.tokens_out <= 24 for g in through_proxy.values())
    assert backend.info()["retry_reasons"] == {"429": 1, "connection": 1, "500": 1}


def run_cli(server_url, split_path, results_dir, limit=None):
    command = [sys.executable, "-m", "eval", "run", "--model", "openai:smollm2",
               "--base-url", server_url, "--split", str(split_path),
               "--results-dir", str(results_dir), "--max-new-tokens", "24"]
    if limit:
        command += ["--limit", str(limit)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def stored_rows(results_dir):
    files = sorted(results_dir.rglob("predictions.jsonl"))
    assert len(files) <= 1, f"expected one run folder, got {files}"
    if not files:
        return []
    lines = files[0].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def mean(rows, metric):
    return sum(r["metrics"][metric] for r in rows) / len(rows)


@pytest.mark.slow
def test_killed_run_resumes_without_asking_finished_questions_again(real_server, tmp_path):
    split_path, rows = squad_split(tmp_path, 8)
    hash_to_id = {messages_hash(r["messages"]): r["id"] for r in rows}

    # An uninterrupted run, straight to the server.
    reference_dir = tmp_path / "reference"
    process = run_cli(real_server.url, split_path, reference_dir)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    reference = {r["id"]: r for r in stored_rows(reference_dir)}
    assert set(reference) == set(hash_to_id.values())

    # The same run through the proxy, which answers the first 3 questions (one after a 500)
    # and holds the others until the runner is killed.
    hashes = [messages_hash(r["messages"]) for r in rows]
    faults = {hashes[0]: ["500"], hashes[6]: ["429"]}
    proxy = proxy_for(real_server, faults, retry_after_s=0, hold=hashes[3:])
    resumed_dir = tmp_path / "resumed"
    try:
        process = run_cli(proxy.url, split_path, resumed_dir)
        deadline = time.monotonic() + 900
        while len(stored_rows(resumed_dir)) < 3:
            assert process.poll() is None, f"runner ended early: {process.stdout.read()[-3000:]}"
            assert time.monotonic() < deadline, "runner stored 3 answers not within 900 s"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        proxy.release()
        proxy.hold = set()
        first_run = {r["id"] for r in stored_rows(resumed_dir)}
        assert first_run == {r["id"] for r in rows[:3]}
        meta = json.loads(next(resumed_dir.rglob("meta.json")).read_text())
        assert meta["status"] == "running"

        restarted = time.monotonic()
        process = run_cli(proxy.url, split_path, resumed_dir)
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output[-3000:]
    finally:
        proxy.stop()

    second_run = [e["hash"] for e in proxy.log if e["start"] > restarted]
    assert set(second_run) <= set(hash_to_id), "the proxy saw a prompt not in the split"
    asked_again = {hash_to_id[h] for h in second_run} & first_run
    assert not asked_again, f"finished questions were asked again: {sorted(asked_again)}"
    assert {hash_to_id[h] for h in second_run} == set(hash_to_id.values()) - first_run

    resumed_rows = stored_rows(resumed_dir)
    assert len(resumed_rows) == len(rows), "every question is stored exactly once"
    resumed = {r["id"]: r for r in resumed_rows}
    assert {i: r["answer"] for i, r in resumed.items()} == {i: r["answer"] for i, r in reference.items()}
    for metric in ("exact_match", "f1"):
        assert mean(resumed_rows, metric) == mean(list(reference.values()), metric)
    meta = json.loads(next(resumed_dir.rglob("meta.json")).read_text())
    assert meta["status"] == "done"


def test_cli_sends_the_key_named_by_api_key_env_and_never_stores_it(word_server, tmp_path):
    """A keyed OpenAI-compatible server from the command line: the key reaches the server
    as a Bearer token, and appears in no output and no result file."""
    split = tmp_path / "squad" / "test" / "dev-2.jsonl"
    from data_prep import squad
    dev = squad.test_split(squad.load_source("local", "dev")[0], "dev-200")[:2]
    atomic_write_jsonl(split, [squad.test_row(q) for q in dev])
    proxy = proxy_for(word_server)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "eval", "run", "--model", "openai:word-model", "--base-url", proxy.url,
             "--api-key-env", "HOSTED_VLLM_KEY", "--split", str(split), "--max-new-tokens", "8",
             "--results-dir", str(tmp_path / "results")],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**__import__("os").environ, "HOSTED_VLLM_KEY": SECRET})
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["authorization"] for e in proxy.log] == [f"Bearer {SECRET}"] * 2
    stored = "".join(f.read_text() for f in (tmp_path / "results").rglob("*") if f.is_file())
    assert "predictions" in " ".join(str(f) for f in (tmp_path / "results").rglob("*"))
    for text in (result.stdout, result.stderr, stored):
        assert SECRET not in text and "DoNotLeak" not in text


@pytest.mark.parametrize("key", ["abcdEFGH\r\nX-Injected: 1", "ключ-секрет-1234", "two words"])
def test_a_key_no_header_can_carry_is_refused_before_any_request_without_echoing_it(monkeypatch, key):
    monkeypatch.setenv("ODD_KEY", key)
    with pytest.raises(BackendError, match="ODD_KEY: the key holds characters an HTTP header cannot carry") as error:
        OpenAIBackend("word-model", base_url="http://127.0.0.1:9/v1", api_key_env="ODD_KEY")
    assert key not in str(error.value) and key.split()[0] not in str(error.value)
