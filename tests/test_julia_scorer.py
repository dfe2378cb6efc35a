"""Julia scorer: extraction rules (fast), case loading (fast), and real Julia runs (slow)."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from slingshot.metrics.julia import extract
from slingshot.metrics.julia.cases import iter_stored_runs, load_case
from slingshot.metrics.julia.sandbox import JuliaNotFound, find_julia
from slingshot.metrics.julia.score import harness_rules

REPO = Path(__file__).resolve().parents[1]


def fence(code, lang="julia"):
    return f"Here you go:\n\n```{lang}\n{code}\n```\n\nDone."


# ---------- extraction (no Julia needed) ----------

def test_julia_blocks_in_order():
    md = "a\n```julia\nx = 1\n```\ntext\n```julia\ny = 2\n```\n"
    assert extract.extract_code_blocks(md) == ["x = 1", "y = 2"]


def test_code_on_fence_line_and_end_of_text():
    assert extract.extract_code_blocks("```julia f(x) = 1\n```") == ["f(x) = 1"]
    assert extract.extract_code_blocks("```julia\nz = 3\n```") == ["z = 3"]


def test_nested_fences():
    # a nested ```julia block pairs with the inner closing fence and is dropped as nested
    md = '```julia\ns = """\n```julia\nx\n```\n"""\n```\n'
    assert extract.extract_code_blocks(md) == ['s = """\n```julia\nx\n```\n"""']
    # any other inner fence closes the julia block early, as in the harness
    md = '```julia\ns = """\n```python\nx\n```\n"""\n```\n'
    assert extract.extract_code_blocks(md) == ['s = """\n```python\nx']


def test_julia_prompt_lines_kept_only():
    md = fence("julia> x = 1\n1\n\njulia> f(y) = y +\n         1")
    assert extract.extract_code_blocks(md) == ["x = 1\nf(y) = y +\n         1"]


def test_bare_fences_are_the_fallback():
    md = "text\n```\nx = 1\n```\nmore\n```\ny = 2\n```\n"
    blocks, used_fallback = extract.answer_blocks(md)
    assert used_fallback and blocks == ["x = 1", "more", "y = 2"]
    assert extract.answer_blocks(fence("z = 1"))[1] is False
    assert extract.answer_blocks("no code at all") == ([], True)


def test_function_name_rules_by_version():
    code = "# helper\nhelper(x) = x\nfunction target(a)\n    a\nend"
    assert extract.extract_function_name(code) == "target"  # explicit form wins
    assert extract.extract_function_name("  short(x) = 2x") == "short"
    assert extract.extract_function_name("  short(x) = 2x", legacy=True) is None  # old: only at start
    assert extract.extract_function_name("x = 1; function Base.show(io)", legacy=True) is None
    assert extract.extract_function_name("function Base.show(io)\nend") == "Base.show"
    assert extract.extract_function_name("x = 1") is None


def test_harness_rules_follow_timestamp():
    old = harness_rules("leaderboard", "20231215_101010__123")
    mid = harness_rules("leaderboard", "20240410_000000")
    new = harness_rules("leaderboard", "20240814_054919__194")
    assert old["legacy_names"] and old["snippet_quoting"] == "dollar" and old["quote_code"]
    assert not mid["legacy_names"] and mid["snippet_quoting"] == "dollar"
    assert new["snippet_quoting"] == "full" and new["quote_code"]
    fixed = harness_rules("corrected")
    assert not fixed["quote_code"] and fixed["snippet_quoting"] == "none"
    with pytest.raises(ValueError):
        harness_rules("bogus")
    with pytest.raises(ValueError):
        harness_rules("leaderboard", "yesterday")


# ---------- cases (no Julia needed) ----------

def write_case(folder, **overrides):
    fields = {"name": "double", "prompt": "Write double(x).", "examples": ["double(2)"],
              "unit_tests": ["@test double(2) == 4", "@test double(0) == 0"], "imports": [],
              "reference_solution": "double(x) = 2x\n"}
    fields.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[code_generation]"] + [f"{k} = {json.dumps(v)}" for k, v in fields.items() if v is not None]
    (folder / "definition.toml").write_text("\n".join(lines) + "\n")
    return folder


def test_load_case_and_stored_runs(tmp_path):
    case_dir = write_case(tmp_path / "code_generation" / "utility" / "double")
    case = load_case(case_dir)
    assert case["name"] == "double" and case["category"] == "utility"
    model_dir = case_dir / "org" / "model-x"
    model_dir.mkdir(parents=True)
    stem = "InJulia__1SHOT__20240101_000000__001.json"
    (model_dir / f"conversation__{stem}").write_text(json.dumps([{"content": "hi"}, {"content": "answer"}]))
    (model_dir / f"evaluation__{stem}").write_text(json.dumps({"parsed": True, "timestamp": "20240101_000000__001"}))
    runs = list(iter_stored_runs(tmp_path / "code_generation"))
    assert len(runs) == 1 and runs[0]["answer"] == "answer" and runs[0]["model"] == "org/model-x"
    assert list(iter_stored_runs(tmp_path / "code_generation", case="other")) == []


def test_bad_case_names_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="definition.toml"):
        load_case(tmp_path)
    broken = write_case(tmp_path / "c" / "broken", unit_tests=None)
    with pytest.raises(ValueError, match="unit_tests"):
        load_case(broken)


def test_julia_not_found_names_make_target(monkeypatch, tmp_path):
    monkeypatch.setenv("SLINGSHOT_JULIA", str(tmp_path / "nope"))
    with pytest.raises(JuliaNotFound, match="SLINGSHOT_JULIA"):
        find_julia()


# ---------- real Julia ----------

def _have_julia():
    try:
        find_julia()
        return True
    except JuliaNotFound:
        return False


needs_julia = pytest.mark.skipif(not _have_julia(), reason="julia not installed: run `make julia`")
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def cases():
    from slingshot.metrics.julia.cases import iter_cases
    return {c["name"]: c for c in iter_cases()}


@slow
@needs_julia
@pytest.mark.julia
def test_reference_solutions_score_100(cases):
    from slingshot.metrics.julia import score_many
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


@needs_julia
@pytest.mark.julia
def test_strings_reach_julia_unchanged(tmp_path):
    from slingshot.metrics.julia.score import _julia_literal
    tricky = ['a $x "q" \\ \n\t end', 'é ∀ 😀 \x00\x1f', '"""', "$(run(`false`))"]
    script = tmp_path / "echo.jl"
    script.write_text(f'for s in {_julia_literal(tricky)}\n    write(stdout, s, "<SEP>")\nend\n')
    out = subprocess.run([find_julia(), "--startup-file=no", str(script)], capture_output=True, timeout=120)
    assert out.stdout.decode("utf-8").split("<SEP>")[:-1] == tricky


@slow
@needs_julia
@pytest.mark.julia
def test_triple_quote_bug_only_in_leaderboard_mode(cases):
    from slingshot.metrics.julia import score_answer
    case = cases["wrap_string"]
    answer = fence('"""\n    wrap_string(text, width)\n\nWrap words.\n"""\n' + case["reference_solution"])
    assert score_answer(case, answer, mode="corrected")["score"] == 100.0
    broken = score_answer(case, answer, mode="leaderboard", timestamp="20240601_000000")
    assert broken["parsed"] is False and broken["score"] == 0.0


@slow
@needs_julia
@pytest.mark.julia
def test_old_snippet_quoting_breaks_tests_with_triple_quotes(cases):
    from slingshot.metrics.julia import score_answer
    case = cases["q_and_a_extractor"]  # every unit test holds a """ string
    answer = fence(case["reference_solution"])
    old = score_answer(case, answer, mode="leaderboard", timestamp="20240410_000000")
    new = score_answer(case, answer, mode="leaderboard", timestamp="20240814_000000")
    assert old["unit_tests_passed"] == 0 and new["unit_tests_passed"] == 5


@slow
@needs_julia
@pytest.mark.julia
def test_one_hanging_example_fails_alone(cases):
    from slingshot.metrics.julia import score_answer
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
    from slingshot.metrics.julia import score_many
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


@slow
@needs_julia
@pytest.mark.julia
def test_cli_prints_one_json_line(cases, tmp_path):
    case = cases["keep_only_names"]
    answer = tmp_path / "answer.md"
    answer.write_text(fence(case["reference_solution"]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "slingshot.metrics.julia", case["dir"], str(answer), "--mode", "leaderboard",
                          "--timestamp", "20240501_000000"], capture_output=True, text=True, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    for key in ("parsed", "executed", "unit_tests_passed", "unit_tests_count", "examples_executed",
                "examples_count", "score"):
        assert key in row
    assert row["score"] == 100.0
    bad = subprocess.run([sys.executable, "-m", "slingshot.metrics.julia", str(tmp_path), str(answer)],
                         capture_output=True, text=True, cwd=REPO, env=env)
    assert bad.returncode == 2 and "definition.toml" in bad.stderr
