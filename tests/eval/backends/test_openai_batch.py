"""Batch API runs against a real HTTP server on 127.0.0.1 (tests/helpers/servers.FakeBatchServer): the same
store as a live run, every way a batch can end, both ways to finish, resume without a second batch."""
import json

import pytest

from eval.backends.openai_api import OpenAIBackend
from eval.backends.openai_batch import BatchIncomplete, BatchJob
from eval.cost import load_prices
from eval.report import build_report
from eval.run import evaluate
from eval.store import RunStore
from slingshot.errors import UserError
from tests.helpers import first_squad_questions
from tests.helpers.servers import FakeBatchServer

N = 6
PRICES = {"word-model": {"input": 1.0, "output": 2.0, "as_of": "2026-01-01", "source": "test",
                         "batch": {"input": 0.5, "output": 1.0, "source": "test"}}}
SECRET = "sk-test-DoNotLeakThisBatchKey0123"


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return first_squad_questions(tmp_path_factory.mktemp("data"), N)


@pytest.fixture
def server():
    server = FakeBatchServer()
    yield server
    server.stop()


def run(server, split, results, label=None, **options):
    if options.get("batch"):
        options.setdefault("poll_interval", 0.01)
    backend = OpenAIBackend("word-model", base_url=server.url, **options)
    return evaluate(backend, split, 8, results_dir=results, label=label, quiet=True)


def answers(store):
    return {i: {k: v for k, v in p.items() if k != "latency_s"} for i, p in store.load_predictions().items()}


def test_a_batch_run_stores_what_a_live_run_stores_from_the_same_request_bodies(server, split, tmp_path, capsys):
    live = run(server, split, tmp_path / "live")
    live_bodies = [e["body"] for e in server.requests("POST", "/v1/chat/completions")]
    batch = run(server, split, tmp_path / "batch", batch=True)
    (upload,) = server.requests("POST", "/v1/files")
    assert upload["body"]["purpose"] == "batch"
    as_text = (lambda bodies: sorted(json.dumps(b, sort_keys=True, ensure_ascii=False) for b in bodies))
    assert as_text(line["body"] for line in upload["body"]["lines"]) == as_text(live_bodies)  # every prompt's bytes
    assert len(live_bodies) == N
    assert {line["url"] for line in upload["body"]["lines"]} == {"/v1/chat/completions"}
    (create,) = server.requests("POST", "/v1/batches")
    assert create["body"]["completion_window"] == "24h" and create["body"]["endpoint"] == "/v1/chat/completions"
    assert batch.folder.name == live.folder.name  # the same run key: batch or live, the answers are the same
    assert answers(batch) == answers(live)
    meta = batch.read_meta()
    assert meta["status"] == "done" and sorted(meta["batch"]["answered"]) == sorted(answers(live))
    state = json.loads((batch.folder / "batch.json").read_text())
    assert state["batches"][0]["batch_id"] == "batch-1" and state["batches"][0]["input_file_id"] == "file-1"
    assert "completed" in capsys.readouterr().err  # the progress line


def test_the_report_verifies_a_batch_store_as_a_live_one_and_prices_both_modes(server, split, tmp_path):
    live = run(server, split, tmp_path / "results", label="live row")
    other = FakeBatchServer()  # another address: another run key, so both rows are in one report
    try:
        backend = OpenAIBackend("word-model", base_url=other.url, poll_interval=0.01, batch=True)
        batch = evaluate(backend, split, 8, results_dir=tmp_path / "results", label="batch row", quiet=True)
    finally:
        other.stop()
    report = build_report([live, batch], tmp_path / "report", prices=PRICES, n_boot=50)
    rows = {m["name"]: m for m in report["models"]}
    assert rows["batch row"]["verified"] == rows["live row"]["verified"]
    assert rows["batch row"]["exact_match"] == rows["live row"]["exact_match"]
    live_cost, batch_cost = rows["live row"]["cost"], rows["batch row"]["cost"]
    assert (live_cost["mode"], live_cost["other"]["mode"], batch_cost["mode"]) == ("live", "batch", "batch")
    assert live_cost["other"]["usd_total"] == pytest.approx(batch_cost["usd_total"])
    assert batch_cost["other"]["usd_total"] == pytest.approx(live_cost["usd_total"])
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {m["name"]: m["cost"]["mode"] for m in saved["models"]} == {"live row": "live", "batch row": "batch"}


def test_batch_cost_is_half_and_shown_beside_the_list_cost(server, split, tmp_path):
    store = run(server, split, tmp_path / "results", batch=True)
    report = build_report([store], tmp_path / "report", prices=PRICES, n_boot=50)
    (row,) = report["models"]
    cost = row["cost"]
    assert cost["mode"] == "batch" and cost["other"]["mode"] == "live"
    assert cost["usd_total"] == pytest.approx(cost["other"]["usd_total"] / 2)
    text = (tmp_path / "report" / "report.md").read_text()
    assert " batch (live: $" in text and "api tokens, batch" in text
    assert "verified" not in row.get("verification", "") or "unverified" not in row.get("verification", "")


@pytest.mark.parametrize("outcome", ["failed", "expired", "cancelled", "partial"])
@pytest.mark.parametrize("finish", ["live", "batch"])
def test_a_batch_that_ends_short_keeps_its_answers_and_finishes_as_asked(server, split, tmp_path, outcome, finish):
    server.outcomes = [outcome]
    with pytest.raises(BatchIncomplete, match="--finish live .*--finish batch") as stopped:
        run(server, split, tmp_path / "r", batch=True)
    store = RunStore(next((tmp_path / "r").rglob("batch.json")).parent)
    kept = len(store.load_predictions())
    expected_kept = {"failed": 0, "expired": N // 2, "cancelled": N // 2, "partial": N - N // 3}[outcome]
    assert kept == expected_kept and f"{N - kept} questions have no answer" in str(stopped.value)
    done = run(server, split, tmp_path / "r", batch=True, finish=finish)
    assert len(done.load_predictions()) == N and done.read_meta()["status"] == "done"
    assert len(server.requests("POST", "/v1/batches")) == (2 if finish == "batch" else 1)
    live_asked = len(server.requests("POST", "/v1/chat/completions"))
    assert live_asked == (N - kept if finish == "live" else 0)
    answered = done.read_meta()["batch"]["answered"]
    assert len(answered) == (kept if finish == "live" else N)


def test_a_failed_batch_error_never_shows_the_key(server, split, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BATCH_KEY", SECRET)
    server.outcomes = ["failed"]
    with pytest.raises(BatchIncomplete):
        run(server, split, tmp_path / "r", batch=True, api_key_env="BATCH_KEY")
    err = capsys.readouterr().err
    assert "invalid_request" in err and SECRET not in err and "DoNotLeak" not in err


def test_a_resumed_run_polls_the_recorded_batch_and_never_creates_another(server, split, tmp_path):
    server.outcomes = ["hold"]
    server.hold_polls.set()
    backend = OpenAIBackend("word-model", base_url=server.url, poll_interval=0.01, batch=True)
    polls = []
    backend.batch.poll_s = 0.01

    def stop_after_polls(seconds):
        polls.append(seconds)
        if len(polls) >= 3:
            raise KeyboardInterrupt  # as Ctrl-C while it waits

    import eval.backends.openai_batch as module
    original = module.time.sleep
    module.time.sleep = stop_after_polls
    try:
        with pytest.raises(KeyboardInterrupt):
            evaluate(backend, split, 8, results_dir=tmp_path / "r", quiet=True)
    finally:
        module.time.sleep = original
    server.hold_polls.clear()
    store = run(server, split, tmp_path / "r", batch=True)
    assert len(store.load_predictions()) == N
    assert len(server.requests("POST", "/v1/batches")) == 1 and len(server.requests("POST", "/v1/files")) == 1


def forge_lines(lines):
    stray = json.loads(json.dumps(lines[0]))
    stray["custom_id"] = "not-a-question"
    twice = json.loads(json.dumps(lines[1]))
    other = lines[2]
    other["response"]["body"]["model"] = "another-model"
    return [stray, twice] + lines


def test_a_forged_output_file_is_refused_line_by_line(server, split, tmp_path, capsys):
    server.forge = forge_lines
    with pytest.raises(BatchIncomplete, match="2 questions have no answer"):
        run(server, split, tmp_path / "r", batch=True)
    err = capsys.readouterr().err
    assert "'not-a-question' is not a question of this batch" in err
    assert "comes twice" in err and "'another-model', not 'word-model'; refused" in err
    server.forge = None
    done = run(server, split, tmp_path / "r", batch=True, finish="batch")
    assert len(done.load_predictions()) == N


def test_options_that_need_batch_and_a_bad_state_file_are_refused(server, split, tmp_path):
    with pytest.raises(UserError, match="apply to --batch runs only"):
        OpenAIBackend("word-model", base_url=server.url, finish="live")
    with pytest.raises(UserError, match="choose live or batch"):
        BatchJob(OpenAIBackend("word-model", base_url=server.url), finish="later")
    store = run(server, split, tmp_path / "r", batch=True)
    (store.folder / "batch.json").write_text("{broken")
    meta = store.read_meta()
    meta["status"] = "running"
    store.write_meta(meta)
    with pytest.raises(UserError, match="batch.json: not valid JSON"):
        run(server, split, tmp_path / "r", batch=True)


def test_the_price_table_has_a_batch_price_for_every_model():
    table = load_prices()
    assert all(p["batch"]["input"] == pytest.approx(p["input"] / 2) for p in table.values())


def test_batch_options_are_refused_for_a_local_model():
    from eval.commands.run import main
    assert main(["--model", "hf:models/smollm2-135m-instruct", "--split", "dev-200", "--batch"]) == 2


def test_a_batch_run_without_a_batch_price_is_priced_unknown_never_at_list(server, split, tmp_path):
    store = run(server, split, tmp_path / "r", batch=True)
    meta, rows = store.read_meta(), list(store.load_predictions().values())
    list_only = {"word-model": {k: v for k, v in PRICES["word-model"].items() if k != "batch"}}
    cost = OpenAIBackend.cost(meta, rows, list_only)
    assert cost["usd_total"] is None and "no batch price for 'word-model'" in cost["note"]
    assert OpenAIBackend.cost(meta, rows, PRICES)["usd_total"] == pytest.approx(
        sum(r["tokens_in"] * 0.5 + r["tokens_out"] * 1.0 for r in rows) / 1e6)


def test_a_server_that_cannot_list_batches_still_runs(server, split, tmp_path, capsys):
    server.list_status = 404
    store = run(server, split, tmp_path / "r", batch=True)
    assert len(store.load_predictions()) == N and "cannot list batches (HTTP 404)" in capsys.readouterr().err


def test_an_answer_with_impossible_usage_is_not_stored_and_not_priced_as_the_batchs(server, split, tmp_path, capsys):
    def broken_usage(lines):
        lines[0]["response"]["body"]["usage"]["prompt_tokens"] = -5
        return lines
    server.forge = broken_usage
    store = run(server, split, tmp_path / "r", batch=True, finish="live")
    assert "usage.prompt_tokens = -5" in capsys.readouterr().err
    assert len(store.load_predictions()) == N and len(server.requests("POST", "/v1/chat/completions")) == 1
    assert len(store.read_meta()["batch"]["answered"]) == N - 1
