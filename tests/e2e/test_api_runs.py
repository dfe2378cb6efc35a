"""API runs through the real CLI against real servers on 127.0.0.1: honest cost (missing and
broken usage), Ctrl-C that keeps what was paid for, runaway and cut-short answers, credentials in
--base-url, and number options checked before anything runs."""
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.faulty_proxy import FaultyProxy, messages_hash
from tests.helpers.servers import WordBackend, start_server, stop_server
from slingshot.io import atomic_write_jsonl
from slingshot.layout import ROOT
from tests.helpers import run_module

PRICE = {"input": 1.0, "output": 2.0}  # USD per 1M tokens of the test model
PASSWORD = "S3cret-Passw0rd"


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


def report(results, tmp_path):
    prices = tmp_path / "prices.yml"
    prices.write_text(f"as_of: 2026-01-01\nmodels:\n  word-model: {json.dumps(PRICE)}\n")
    out = tmp_path / "report"
    result = run_module("eval", "report", results, "--out", out, "--prices", prices, "--n-boot", "200",
                        timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "report.json").read_text()), (out / "report.md").read_text()


def run_folder(results):
    (meta,) = results.rglob("meta.json")
    return meta.parent


def stored(results):
    files = list(results.rglob("predictions.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def cost_of(rows):
    return sum(r["tokens_in"] * PRICE["input"] + r["tokens_out"] * PRICE["output"] for r in rows) / 1e6


# ---------- usage ----------

def test_no_usage_makes_the_cost_unknown_never_zero(proxy, tmp_path):
    proxy.always = "no_usage"
    split, _ = squad_split(tmp_path, 3)
    result = eval_run(proxy.url, split, tmp_path / "results")
    assert result.returncode == 0, result.stderr
    rows = stored(tmp_path / "results")
    assert len(rows) == 3 and all(r["tokens_in"] is None and r["tokens_out"] is None for r in rows)
    meta = json.loads((run_folder(tmp_path / "results") / "meta.json").read_text())
    assert meta["usage"] == {"tokens_in": None, "tokens_out": None, "n_without_usage": 3}

    summary, markdown = report(tmp_path / "results", tmp_path)
    cost = summary["models"][0]["cost"]
    assert cost["usd_per_1k_answers"] is None and cost["n_unknown"] == 3
    assert "unknown (no usage reported)" in markdown and "$0" not in markdown
    assert any("cost unknown (no usage reported)" in note for note in summary["notes"])
    viewer = (tmp_path / "report" / "index.html").read_text()
    assert "unknown (no usage reported)" in viewer


def test_partial_usage_prices_the_answers_that_have_it_and_counts_the_others(word_server, tmp_path):
    split, rows = squad_split(tmp_path, 4)
    proxy = FaultyProxy(word_server.url, {messages_hash(rows[0]["messages"]): ["no_usage"]}).start()
    try:
        result = eval_run(proxy.url, split, tmp_path / "results")
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    priced = [r for r in stored(tmp_path / "results") if r["tokens_in"] is not None]
    assert len(priced) == 3

    summary, markdown = report(tmp_path / "results", tmp_path)
    cost = summary["models"][0]["cost"]
    assert cost["n_unknown"] == 1
    assert cost["usd_per_1k_answers"] == pytest.approx(cost_of(priced) / 3 * 1000)
    assert "(1 of 4 answers: unknown, no usage reported)" in markdown
    assert any("1 of 4 answers came without usage" in note for note in summary["notes"])


def test_negative_usage_is_refused_naming_the_response(word_server, tmp_path):
    split, rows = squad_split(tmp_path, 4)
    bad = messages_hash(rows[1]["messages"])
    proxy = FaultyProxy(word_server.url, {bad: ["negative_usage"]}).start()
    try:
        result = eval_run(proxy.url, split, tmp_path / "results", "--concurrency", "1")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "usage.prompt_tokens = -100" in result.stderr and "response chatcmpl-" in result.stderr
        assert "Traceback" not in result.stderr
        kept = stored(tmp_path / "results")
        assert rows[1]["id"] not in {r["id"] for r in kept}
        assert all(r["tokens_in"] >= 0 and r["tokens_out"] >= 0 for r in kept)
        meta = json.loads((run_folder(tmp_path / "results") / "meta.json").read_text())
        assert meta["status"] == "running"

        # The server fixed: the run resumes and asks only what it does not hold.
        since = len(proxy.log)
        result = eval_run(proxy.url, split, tmp_path / "results", "--concurrency", "1")
        assert result.returncode == 0, result.stderr
        asked = proxy.requested_hashes(since)
    finally:
        proxy.stop()
    held = {messages_hash(r["messages"]) for r in rows if r["id"] in {k["id"] for k in kept}}
    assert not set(asked) & held and bad in asked
    assert len(stored(tmp_path / "results")) == 4


# ---------- Ctrl-C ----------

@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_keeps_answers_arriving_during_shutdown_and_nothing_is_asked_twice(word_server, tmp_path, stop):
    """Ctrl-C, and what a scheduler, timeout(1), a CI cancel or a closed terminal sends, stop a run alike."""
    split, rows = squad_split(tmp_path, 12)
    id_of = {messages_hash(r["messages"]): r["id"] for r in rows}
    results = tmp_path / "results"
    proxy = FaultyProxy(word_server.url, always="slow", slow_s=1.0).start()
    command = [sys.executable, "-m", "eval", "run", "--model", "openai:word-model", "--base-url", proxy.url,
               "--split", str(split), "--results-dir", str(results), "--max-new-tokens", "8",
               "--concurrency", "4"]
    try:
        # A suite started in the background (`cmd &`) hands its children SIGINT ignored; Ctrl-C is
        # what this test is about, so the run starts with the default handler either way.
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while len(stored(results)) < 4 or len(proxy.log) < 6:  # some answers kept, more in flight
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no answers within 120 s"
            time.sleep(0.05)
        interrupted_at = time.monotonic()
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 128 + stop, stderr
        assert "interrupted" in stderr and "Traceback" not in stderr
        first = proxy.log[:]
        answered = {id_of[e["hash"]] for e in first if e["status"] == 200}
        kept = {r["id"] for r in stored(results)}
        assert kept == answered, "every answer the server sent is stored, none is lost"
        assert any(e["end"] > interrupted_at for e in first if e["status"] == 200), \
            "no answer arrived during shutdown: the test did not test it"
        meta = json.loads((run_folder(results) / "meta.json").read_text())
        assert meta["status"] == "interrupted"
        assert meta["segments"][0]["requests"] == len(first) and meta["segments"][0]["n"] == len(kept)

        process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert process.returncode == 0, process.stderr
    finally:
        proxy.stop()
    asked = [e["hash"] for e in proxy.log]
    assert sorted(asked) == sorted(id_of), "every question asked exactly once over both segments"
    meta = json.loads((run_folder(results) / "meta.json").read_text())
    assert meta["status"] == "done" and meta["requests"] == 12
    assert [s["requests"] for s in meta["segments"]] == [s["n"] for s in meta["segments"]]
    assert sum(s["n"] for s in meta["segments"]) == 12 and len(stored(results)) == 12

    _, markdown = report(results, tmp_path)
    first_n = meta["segments"][0]["n"]
    assert f"12 for 12 answers (2 segments: {first_n}/{first_n}, {12 - first_n}/{12 - first_n})" in markdown


# ---------- answers that are too long, bodies that are cut ----------

def test_a_huge_answer_is_stored_cut_and_flagged(word_server, tmp_path):
    split, rows = squad_split(tmp_path, 3)
    proxy = FaultyProxy(word_server.url, {messages_hash(rows[0]["messages"]): ["huge"]},
                        huge_chars=2_000_000).start()
    try:
        result = eval_run(proxy.url, split, tmp_path / "results")
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    by_id = {r["id"]: r for r in stored(tmp_path / "results")}
    cut = by_id[rows[0]["id"]]
    assert cut["truncated"] is True and cut["raw_chars"] > 2_000_000
    assert len(cut["raw_output"]) == 8 * 32
    assert not any(r.get("truncated") for i, r in by_id.items() if i != rows[0]["id"])
    assert (run_folder(tmp_path / "results") / "predictions.jsonl").stat().st_size < 20_000
    meta = json.loads((run_folder(tmp_path / "results") / "meta.json").read_text())
    assert meta["n_truncated"] == 1
    summary, _ = report(tmp_path / "results", tmp_path)
    assert any("1 answer(s) ran past what max_new_tokens allows" in note for note in summary["notes"])


def test_a_cut_json_body_is_retried_then_fails_clearly(word_server, tmp_path):
    split, rows = squad_split(tmp_path, 2)
    first = messages_hash(rows[0]["messages"])
    proxy = FaultyProxy(word_server.url, {first: ["truncated"]}).start()
    try:
        result = eval_run(proxy.url, split, tmp_path / "once")
        assert result.returncode == 0, result.stderr
        assert proxy.requested_hashes().count(first) == 2
        meta = json.loads((run_folder(tmp_path / "once") / "meta.json").read_text())
        assert meta["retry_reasons"] == {"bad_response": 1} and len(stored(tmp_path / "once")) == 2

        proxy.always = "truncated"
        result = eval_run(proxy.url, split, tmp_path / "always", "--max-retries", "1")
    finally:
        proxy.stop()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "failed after 2 attempts" in result.stderr and "not valid JSON" in result.stderr


def test_a_stop_sent_twice_at_once_counts_once_and_a_second_stop_later_quits_at_once(word_server, tmp_path):
    """timeout(1) and some schedulers signal the process and its group: one stop arriving twice. A second stop
    a second later is a person insisting: the process ends at once, by the signal, waiting for nothing."""
    split, rows = squad_split(tmp_path, 12)
    id_of = {messages_hash(r["messages"]): r["id"] for r in rows}
    results = tmp_path / "results"
    proxy = FaultyProxy(word_server.url, always="slow", slow_s=1.0).start()
    command = [sys.executable, "-m", "eval", "run", "--model", "openai:word-model", "--base-url", proxy.url,
               "--split", str(split), "--results-dir", str(results), "--max-new-tokens", "8", "--concurrency", "4"]
    try:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: len(stored(results)) >= 4 and len(proxy.log) >= 6, process)
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 128 + signal.SIGTERM, stderr
        answered = {id_of[e["hash"]] for e in proxy.log if e["status"] == 200}
        assert {r["id"] for r in stored(results)} == answered, "the duplicate stop lost answers in flight"

        proxy.slow_s = 30.0
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: sum(e["end"] is None for e in proxy.log) >= 4, process)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == -signal.SIGTERM and "stopped at once" in stderr, stderr
        assert time.monotonic() - started < 20, "the second stop waited for the 30 s answers in flight"
    finally:
        proxy.stop()


def wait_for(condition, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.05)


# ---------- credentials in --base-url ----------

def test_a_password_in_the_base_url_is_never_stored_or_printed(word_server, tmp_path):
    import base64
    split, rows = squad_split(tmp_path, 2)
    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    proxy = FaultyProxy(word_server.url, {messages_hash(rows[1]["messages"]): ["401"]}, always="echo").start()
    url = proxy.url.replace("http://", f"http://alice:{PASSWORD}@")
    try:
        echoed = eval_run(url, split, tmp_path / "results")  # q1 is refused with the credentials echoed
        rejected_output = echoed.stdout + echoed.stderr
        proxy.faults = {}
        result = eval_run(url, split, tmp_path / "results")
    finally:
        proxy.stop()
    assert echoed.returncode == 2 and "401" in echoed.stderr
    assert result.returncode == 0, result.stderr
    assert all(e["authorization"] == f"Basic {token}" for e in proxy.log), "the credentials are still sent"
    summary, markdown = report(tmp_path / "results", tmp_path)
    texts = [rejected_output, result.stdout, result.stderr, markdown, json.dumps(summary)]
    texts += [f.read_text(errors="replace") for f in tmp_path.rglob("*") if f.is_file()]
    for text in texts:
        assert PASSWORD not in text and token not in text
    assert all("you sent 'Basic ***'" in r["raw_output"] for r in stored(tmp_path / "results"))
    meta = json.loads((run_folder(tmp_path / "results") / "meta.json").read_text())
    assert meta["base_url"] == proxy.url

    bad = run_module("eval", "run", "--model", "openai:word-model", "--split", split,
                     "--base-url", f"ftp://alice:{PASSWORD}@example.com/v1")
    assert bad.returncode == 2 and "expected http(s)" in bad.stderr and PASSWORD not in bad.stderr


def test_an_api_key_a_server_echoes_in_every_field_never_reaches_a_file_or_a_terminal(word_server, tmp_path):
    """The key comes back in the answer, the model, the id, the fingerprint, a 500's message and header, and a
    401's message: what is stored (meta, predictions, report, viewer) and printed holds none of it."""
    key = "k3y-" + "Zq9" * 12  # not sk- shaped: only the exact value can be found
    split, rows = squad_split(tmp_path, 3)
    faults = {messages_hash(rows[0]["messages"]): ["500echo"], messages_hash(rows[2]["messages"]): ["401"]}
    proxy = FaultyProxy(word_server.url, faults, always="echo").start()
    env = {"HOSTED_KEY": key}
    try:
        refused = eval_run(proxy.url, split, tmp_path / "results", "--api-key-env", "HOSTED_KEY", env=env)
        proxy.faults = {}
        result = eval_run(proxy.url, split, tmp_path / "results", "--api-key-env", "HOSTED_KEY", env=env)
    finally:
        proxy.stop()
    assert refused.returncode == 2 and "401" in refused.stderr, refused.stderr
    assert result.returncode == 0, result.stderr
    assert all(e["authorization"] == f"Bearer {key}" for e in proxy.log), "the key is still sent"
    summary, markdown = report(tmp_path / "results", tmp_path)
    texts = [refused.stdout, refused.stderr, result.stdout, result.stderr, markdown, json.dumps(summary)]
    texts += [f.read_text(errors="replace") for f in tmp_path.rglob("*") if f.is_file()]
    assert len(texts) > 8
    for text in texts:
        assert key not in text
    meta = json.loads((run_folder(tmp_path / "results") / "meta.json").read_text())
    assert meta["served_models"] == ["model Bearer ***"], meta["served_models"]
    assert all("you sent 'Bearer ***'" in r["raw_output"] for r in stored(tmp_path / "results"))


def test_a_lone_surrogate_is_stored_and_a_5000_digit_usage_is_named(word_server, tmp_path):
    split, rows = squad_split(tmp_path, 2)
    proxy = FaultyProxy(word_server.url, always="surrogate").start()
    try:
        result = eval_run(proxy.url, split, tmp_path / "results")
        proxy.always = "usage_digits"
        digits = eval_run(proxy.url, split, tmp_path / "digits", "--max-retries", "0")
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    assert [r["raw_output"] for r in stored(tmp_path / "results")] == ["half a pair: \ufffd\ufffd\ufffd then the rest"] * 2
    report(tmp_path / "results", tmp_path)
    assert digits.returncode == 2 and "Traceback" not in digits.stderr
    assert "not valid JSON" in digits.stderr and "4300 digits" in digits.stderr and "9999999999" not in digits.stderr


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
