"""Few-shot baseline rows, prefix KV reuse, and honest accounting across a kill and resume."""
import json
import signal
import subprocess
import sys
import time

import pytest

from eval.backends.local import LocalBackend
from slingshot.contamination import check
from slingshot.layout import ROOT
from slingshot.tasks import squad as task
from tests.helpers import run_module, squad_test_rows, write_squad_split
from tests.helpers.servers import WordBackend, start_server, stop_server


@pytest.fixture(scope="module")
def dev_rows():
    return squad_test_rows("dev-200")


def write_split(folder, rows, name="dev-x"):
    return write_squad_split(folder, rows, name)


def test_few_shot_examples_are_deterministic_training_rows_outside_every_test_split(dev_rows):
    shots = task.few_shot_examples(3)
    assert [s["id"] for s in shots] == [s["id"] for s in task.few_shot_examples(3)]
    assert [s["id"] for s in shots] != [s["id"] for s in task.few_shot_examples(3, seed=1)]
    assert check("squad", shots, dev_rows)["contaminated"] is False
    messages = task.with_shots(dev_rows[0]["messages"], shots)
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert messages[-1] == dev_rows[0]["messages"][-1] and messages[2]["content"] == shots[0]["answer"]
    built = task.build_messages("P", "Q", shots=shots)
    assert built == task.with_shots(task.build_messages("P", "Q"), shots)


def test_julia_refuses_shots_clearly():
    from slingshot.errors import UserError
    from slingshot.tasks import julia
    with pytest.raises(UserError, match="squad task only"):
        julia.few_shot_examples(3)


@pytest.mark.slow
def test_prefix_reuse_gives_identical_answers_and_runs_the_prefix_once(model_dir, dev_rows):
    backend = LocalBackend("models/smollm2-135m-instruct", batch_size=3)
    shots = task.few_shot_examples(3)
    items = [(r["id"], task.with_shots(r["messages"], shots)) for r in dev_rows[:8]]
    answers = {}
    for reuse in (True, False):
        backend.reuse_prefix = reuse
        backend.prefix_stats = {"computed": 0, "tokens": 0}
        out = {}
        backend.generate(items, 24, lambda i, g: out.__setitem__(i, g))
        answers[reuse] = {i: g.text for i, g in out.items()}
        if reuse:  # 8 questions in 3 batches, one prefix computation: system prompt + 3 examples
            assert backend.prefix_stats["computed"] == 1
            assert backend.prefix_stats["tokens"] > 3 * 100
            assert all(g.tokens_in == len(backend.encode(m)) for (i, m), g in zip(items, [out[i] for i, _ in items]))
        else:
            assert backend.prefix_stats["computed"] == 0
    assert answers[True] == answers[False]
    assert len(answers[True]) == 8


def test_kill_and_resume_wall_time_is_the_sum_of_segments(tmp_path, dev_rows):
    """A real runner process, killed with SIGKILL mid-run, then resumed: its wall time counts both."""
    split = write_split(tmp_path, dev_rows[:12])
    delay = 0.4
    server = start_server(WordBackend(delay_s=delay))
    results = tmp_path / "results"
    command = [sys.executable, "-m", "eval", "run", "--model", "openai:word-model", "--base-url", server.url,
               "--split", str(split), "--results-dir", str(results), "--concurrency", "1",
               "--max-new-tokens", "8"]
    try:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while True:
            files = list(results.rglob("predictions.jsonl"))
            if files and len(files[0].read_text().splitlines()) >= 4:
                break
            assert process.poll() is None, process.stdout.read()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed = json.loads(next(results.rglob("meta.json")).read_text())
        assert killed["status"] == "running" and killed["segments"][0]["n"] >= 3  # a kill may land between an answer and its meta write
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        stop_server(server)
    meta = json.loads(next(results.rglob("meta.json")).read_text())
    segments = meta["segments"]
    assert meta["status"] == "done" and len(segments) == 2
    assert meta["wall_s"] == pytest.approx(sum(s["wall_s"] for s in segments), abs=1e-3)
    assert 11 <= sum(s["n"] for s in segments) <= 12  # n of a killed segment may miss its last answer
    assert segments[0]["wall_s"] >= segments[0]["n"] * delay * 0.9
    assert meta["wall_s"] >= 12 * delay * 0.9  # every answer's time counted, not only the resumed part


def test_squad_cli_ignores_unknown_prediction_ids_like_the_official_script(tmp_path):
    dataset = tmp_path / "dev.json"
    dataset.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{
        "context": "Denver Broncos won.", "qas": [
            {"id": "q1", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 0}]}]}]}]}))
    predictions = tmp_path / "pred.json"
    predictions.write_text(json.dumps({"q1": "Denver Broncos", "q9": "y", "q10": 3}))
    result = run_module("eval", "evaluate-v1.1", dataset, predictions)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"exact_match": 100.0, "f1": 100.0}
    assert "2 prediction ids are not questions of the dataset" in result.stderr
