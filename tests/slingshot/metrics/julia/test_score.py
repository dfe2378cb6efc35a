"""The Julia scorer: what each of its two processes is given, and on real Julia: reference solutions,
harness quirks, timeouts and hostile samples kept in. (The `julia-score` command:
tests/slingshot/commands/test_julia_score.py.)"""
import socket
import subprocess
import threading
import time

import pytest

from slingshot.metrics.julia.rules import harness_rules
from slingshot.metrics.julia.score import _jobs, missing_packages, score_answer, score_many
from tests.helpers import needs_julia


def fence(code, lang="julia"):
    return f"Here you go:\n\n```{lang}\n{code}\n```\n\nDone."


CASE = {"name": "add_one", "imports": ["Dates"], "examples": ["add_one(1)"], "unit_tests": ["@test add_one(1) == 2"],
        "reference_solution": "add_one(y) = 1 + y", "examples_setup": "x = 0"}


def test_the_answers_process_never_gets_the_tests_or_the_reference():
    answer = "```julia\nadd_one(x) = x + 1\n```\n\nand\n\n```julia\nhelper() = 0\n```"
    answer_job, checker_job = _jobs(CASE, answer, harness_rules("corrected"))
    assert answer_job["blocks"] == ["add_one(x) = x + 1", "helper() = 0"]
    assert answer_job["block_names"] == ["add_one", "helper"] and answer_job["prefix"] == "using Dates"
    shown_to_the_answer = repr(answer_job)
    for secret in ("@test", "add_one(1)", "1 + y", "x = 0"):
        assert secret not in shown_to_the_answer, secret
    assert checker_job["examples"] == CASE["examples"] and checker_job["unit_tests"] == CASE["unit_tests"]
    assert checker_job["examples_setup"] == "x = 0" and checker_job["unit_tests_teardown"] == ""
    assert "blocks" not in checker_job  # no code of the answer runs in the checker


def test_leaderboard_mode_quotes_the_answers_code_as_the_harness_did():
    answer_job, checker_job = _jobs(CASE, "```julia\nf() = 1\n```", harness_rules("leaderboard", "20240301"))
    assert answer_job["quote_code"] is True and checker_job["snippet_quoting"] == "dollar"
    assert _jobs(CASE, "", harness_rules("corrected"))[0]["quote_code"] is False


def test_base_and_core_modules_are_never_missing():
    assert missing_packages(("Base.Iterators", "Core.Intrinsics")) == ()  # answered without starting Julia
    assert missing_packages(()) == ()


def test_an_unknown_mode_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="mode must be one of"):
        score_answer(CASE, "```julia\nadd_one(x) = x + 1\n```", mode="lenient", allow_weak_sandbox=True)


# ---------- real Julia ----------

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def cases():
    from slingshot.metrics.julia.cases import iter_cases
    return {c["name"]: c for c in iter_cases()}


@slow
@needs_julia
@pytest.mark.julia
def test_reference_solutions_score_100(cases):
    # bare fences: extract_julia_code's solution holds ```julia in a regex, and with text after the
    # closing fence the harness's fence pairing would split it (as it does for model answers)
    jobs = [{"case": c, "answer": f"```julia\n{c['reference_solution']}\n```", "mode": mode,
             "timestamp": "20240901_000000" if mode == "leaderboard" else None}
            for c in cases.values() for mode in ("corrected", "leaderboard")]
    results = score_many(jobs, workers=2, progress=False)
    scored = 0
    for job, r in zip(jobs, results):
        if r["skipped"]:
            assert "DataFrames" in r["reason"] and r["score"] is None
            continue
        scored += 1
        assert r["score"] == 100.0, (job["case"]["name"], job["mode"], r)
    assert scored >= 20  # the 10 utility cases and weather_data_analyzer, in both modes


@slow
@needs_julia
@pytest.mark.julia
def test_triple_quote_bug_only_in_leaderboard_mode(cases):
    case = cases["wrap_string"]
    answer = fence('"""\n    wrap_string(text, width)\n\nWrap words.\n"""\n' + case["reference_solution"])
    assert score_answer(case, answer, mode="corrected")["score"] == 100.0
    broken = score_answer(case, answer, mode="leaderboard", timestamp="20240601_000000")
    assert broken["parsed"] is False and broken["score"] == 0.0


@slow
@needs_julia
@pytest.mark.julia
def test_old_snippet_quoting_breaks_tests_with_triple_quotes(cases):
    case = cases["q_and_a_extractor"]  # every unit test holds a """ string
    answer = fence(case["reference_solution"])
    old = score_answer(case, answer, mode="leaderboard", timestamp="20240410_000000")
    new = score_answer(case, answer, mode="leaderboard", timestamp="20240814_000000")
    assert old["unit_tests_passed"] == 0 and new["unit_tests_passed"] == 5


@slow
@needs_julia
@pytest.mark.julia
def test_one_hanging_example_fails_alone(cases):
    case = cases["wrap_string"]  # example 2 calls wrap_string(..., 15)
    hanging = case["reference_solution"].replace(
        "words = split(text)", "text_width == 15 && while true end\n    words = split(text)")
    t0 = time.monotonic()
    r = score_answer(case, fence(hanging), mode="corrected", step_limit=3)
    assert time.monotonic() - t0 < 30
    assert r["executed"] and r["examples_executed"] == 1 and r["unit_tests_passed"] == 6
    assert [t["step"] for t in r["timeouts"]] == ["example 2"]


@slow
@needs_julia
@pytest.mark.julia
def test_hostile_samples_are_contained(cases, tmp_path, monkeypatch):
    case = cases["wrap_string"]
    good = case["reference_solution"]
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o666)  # even a world-writable file outside the sample folder must survive
    monkeypatch.setenv("OPENAI_API_KEY", "sk-slingshot-test-secret")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept_loop(stop):
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=accept_loop, args=(stop,), daemon=True)
    thread.start()
    marker = "7777.5"
    hostile = {
        "loop": "while true end",
        "rm": f"run(`rm {victim}`)",
        "julia_rm": f'rm("{victim}")',
        "overwrite": f'write("{victim}", "gone")',
        "alloc": "x = zeros(10^11); x[end] = 1",
        "secret": 'haskey(ENV, "OPENAI_API_KEY") && error("secret leaked")\n' + good,
        "socket": f'using Sockets\ns = connect("127.0.0.1", {port})\nwrite(s, "leak")\nclose(s)',
        "orphan": f"run(`sleep {marker}`, wait=false)\nsleep(0.5)",
    }
    jobs = [{"case": case, "answer": fence(code), "mode": "corrected"} for code in hostile.values()]
    jobs.append({"case": case, "answer": fence(good), "mode": "corrected"})
    t0 = time.monotonic()
    results = dict(zip(list(hostile) + ["good"], score_many(jobs, workers=2, progress=False)))
    stop.set()
    thread.join()
    server.close()
    assert time.monotonic() - t0 < 240
    assert victim.read_text() == "keep me"
    assert accepted == []
    for name in ("loop", "rm", "julia_rm", "overwrite", "alloc", "socket"):
        assert results[name]["executed"] is False, (name, results[name])
    assert results["loop"]["timeouts"]
    assert results["secret"]["score"] == 100.0, results["secret"]  # ran fine: no key in its env
    assert results["good"]["score"] == 100.0
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"sleep {marker}" not in ps
