"""Hostile answers against the Julia scorer: each must score no more than an answer that solves
nothing. Escapes are written so that a working one turns into the reference solution (score 100),
so "contained" and "scored no more than nothing" are the same assertion.

`python tests/test_julia_hostile.py [CASE_DIR]` prints the table of attacks and their scores."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from slingshot.metrics.julia.sandbox import find_julia
from tests.test_julia_scorer import needs_julia  # one place decides whether Julia is here
from slingshot.metrics.julia.score import _julia_literal

REPO = Path(__file__).resolve().parents[1]
NOTHING = "solves_nothing = 1"
MARKER = "4242.25"  # a host process with this in its command line: `sleep 4242.25`


def fence(code):
    return f"```julia\n{code}\n```\n"


def _forge_lines(case):
    """Every protocol line a perfect run would write, in both the old and the new format."""
    lines = ["READY", "P main 1", "E main 1 1"]
    lines += [f"X example {i} 1" for i in range(1, len(case["examples"]) + 1)]
    lines += [f"X test {i} 1" for i in range(1, len(case["unit_tests"]) + 1)]
    return lines + ["DONE"]


def attacks(case, bait):
    """{name: julia code}. `bait` holds host-side paths set up by `host_bait`."""
    ref = _julia_literal(case["reference_solution"])
    solve = f"include_string(@__MODULE__, {ref})"
    lines = _forge_lines(case)
    emits = "\n".join(f"Main.SlingshotDriver.emit({', '.join(_julia_literal(p) for p in l.split(' '))})"
                      for l in lines[2:]) + "\nexit(0)"
    raw = _julia_literal("\n".join(lines[2:]) + "\n")
    many = _julia_literal("E main 1 1\n" + "\n".join(f"X test {i} 1" for i in range(1, 1001)) + "\nDONE\n")
    return {
        # --- forged protocol ---
        "emit_driver": emits,  # call the driver's protocol writer
        "emitter_guess": f"for fd in 0:64\n  try\n    e = Main.SlingshotDriver.emitter(Cint(fd), \"\")\n"
                         f"    for l in split({raw}, '\\n'); isempty(l) || e(split(l)...); end\n  catch\n  end\nend\nexit(0)",
        "raw_fds": f"for fd in 0:64\n  s = {raw}\n  ccall(:write, Cssize_t, (Cint, Ptr{{UInt8}}, Csize_t), fd, s, sizeof(s))\nend\nexit(0)",
        "out_of_range": f"for fd in 0:64\n  s = {many}\n  ccall(:write, Cssize_t, (Cint, Ptr{{UInt8}}, Csize_t), fd, s, sizeof(s))\nend\nexit(0)",
        "read_job": "x = Main.JOB\nfor fd in 0:64\n  s = \"X test 1 1\\n\"\n"
                    "  ccall(:write, Cssize_t, (Cint, Ptr{UInt8}, Csize_t), fd, s, sizeof(s))\nend",
        # --- the test harness ---
        "own_test_macros": "macro test(ex) :(true) end\nmacro test_throws(a, ex) :(true) end\n"
                           "macro testset(args...) :(nothing) end",
        "redefine_test_macro": "Core.eval(Test, :(macro test(ex) :(nothing) end))",
        "redefine_do_test": "Core.eval(Test, :(do_test(r::ExecutionResult, orig) = nothing))",
        # --- reading what the sample should not see ---
        "read_answer_key": f"src = read({_julia_literal(bait['key_file'])}, String)\n"
                           "include_string(@__MODULE__, src)",
        "read_case_file": f"src = read({_julia_literal(str(Path(case['dir']) / 'definition.toml'))}, String)\n"
                          "m = match(r\"reference_solution = \\\"\\\"\\\"(.*?)\\\"\\\"\\\"\"s, src)\n"
                          "include_string(@__MODULE__, unescape_string(m[1]))",
        "host_processes": "seen = false\nfor p in readdir(\"/proc\")\n  try\n"
                          f"    occursin({_julia_literal(MARKER)}, read(\"/proc/$p/cmdline\", String)) && (global seen = true)\n"
                          f"  catch\n  end\nend\nseen && {solve}",
        "host_socket": f"using Sockets\ns = connect({_julia_literal(bait['socket'])})\n"
                       "include_string(@__MODULE__, String(read(s)))",
        # --- limits for the whole sample ---
        "many_processes": "ps = Any[]\nfor i in 1:300\n  try\n    push!(ps, run(`sleep 20`, wait=false))\n"
                          f"  catch\n    break\n  end\nend\nlength(ps) >= 300 && {solve}\nforeach(kill, ps)",
        "memory_in_children": "cmd = `python3 -c \"import time; x = b'1' * (1100 * 10**6); time.sleep(1)\"`\n"
                              "ps = [run(cmd, wait=false) for _ in 1:4]\n"
                              "foreach(p -> try wait(p) catch end, ps)\n"
                              f"count(p -> success(p), ps) == 4 && {solve}",
        "big_files": "for i in 1:3\n  try\n    open(\"big$i\", \"w\") do f\n"
                     "      chunk = zeros(UInt8, 1 << 24)\n      for _ in 1:24; write(f, chunk); end\n"
                     "    end\n  catch\n  end\nend\n"  # Julia drops ENOSPC silently: count what landed
                     f"sum(i -> isfile(\"big$i\") ? filesize(\"big$i\") : 0, 1:3) >= 3 * 24 << 24 && {solve}",
    }


class host_bait:
    """Things on the host an escaped answer could use: a world-readable answer key, a Unix
    socket that hands out the reference solution, a process with MARKER in its command line."""

    def __init__(self, case):
        self.case = case

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="slingshot-bait-")
        os.chmod(self.dir, 0o755)
        key = Path(self.dir, "answer_key.jl")
        key.write_text(self.case["reference_solution"])
        key.chmod(0o644)
        self.socket_path = os.path.join(self.dir, "host.sock")
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.socket_path)
        os.chmod(self.socket_path, 0o777)
        self.server.listen(5)
        self.server.settimeout(0.2)
        self.stop, self.served = threading.Event(), []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.sleeper = subprocess.Popen(["sleep", MARKER])
        return {"key_file": str(key), "socket": self.socket_path}

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.served.append(1)
            conn.sendall(self.case["reference_solution"].encode())
            conn.close()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.server.close()
        self.sleeper.kill()
        self.sleeper.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def score_attacks(case, workers=2):
    """{name: result} for the attacks, the answer that solves nothing and the reference."""
    from slingshot.metrics.julia import score_many
    with host_bait(case) as bait:
        answers = {**attacks(case, bait), "NOTHING": NOTHING, "REFERENCE": case["reference_solution"]}
        jobs = [{"case": case, "answer": fence(code), "mode": "corrected"} for code in answers.values()]
        return dict(zip(answers, score_many(jobs, workers=workers, progress=False)))




@pytest.fixture(scope="module")
def case():
    from slingshot.metrics.julia.cases import load_case
    return load_case(REPO / "data/julia-llm-leaderboard/code_generation/utility_functions/wrap_string")


@pytest.mark.slow
@needs_julia
@pytest.mark.julia
def test_hostile_answers_score_no_more_than_nothing(case):
    results = score_attacks(case)
    nothing = results["NOTHING"]["score"]
    assert nothing == 50.0, results["NOTHING"]  # parses and runs; every example and test fails
    assert results["REFERENCE"]["score"] == 100.0, results["REFERENCE"]
    for name, r in results.items():
        if name in ("NOTHING", "REFERENCE"):
            continue
        assert 0.0 <= r["score"] <= nothing, (name, r)
        assert r["unit_tests_passed"] == 0, (name, r)
    for name in ("raw_fds", "out_of_range", "read_job", "redefine_test_macro", "redefine_do_test"):
        assert results[name]["score"] == 0.0 and results[name]["forged"], (name, results[name])
        assert any("forged" in e for e in results[name]["errors"])


# ---------- the protocol checks (no Julia needed) ----------

def _run(start="main", n_examples=2, n_tests=3):
    from slingshot.metrics.julia.score import _Run
    run = _Run(n_examples, n_tests)
    run.begin("k" * 32, start)
    return run


def _feed(run, lines):
    for line in lines:
        if not run.line(f"{run.key} {line}" if not line.startswith("!") else line[1:]):
            break
    return run


def test_an_honest_run_is_accepted():
    run = _feed(_run(), ["READY", "P main 1", "M main note", "E main 1 1", "X example 1 1", "X example 2 0",
                         "X test 1 1", "X test 2 1", "X test 3 0", "DONE"])
    assert run.forged is None and run.done
    assert run.examples == {1: True, 2: False} and run.tests == {1: True, 2: True, 3: False}


@pytest.mark.parametrize("lines", [
    ["!X test 1 1"],                                             # no key
    ["READY", "!kkkk X test 1 1"],                                # wrong key
    ["X example 1 1"],                                            # before READY
    ["READY", "P main 1", "X example 1 1"],                       # before the code ran
    ["READY", "P main 1", "E main 1 1", "X test 1 1"],            # skips the examples
    ["READY", "P main 1", "E main 1 1", "X example 1 1", "X example 1 1"],   # repeated index
    ["READY", "P main 1", "E main 1 1", "X example 1 1", "X example 2 1", "X test 4 1"],  # out of range
    ["READY", "P main 1", "E main 1 1", "X example 1 1", "X example 2 1", "X test 1 2"],  # not 0 or 1
    ["READY", "P main 1", "E main 1 1", "DONE"],                  # DONE with tests left
    ["READY", "P main 1", "E main 1 1", "E main 1 1"],            # attempt twice
    ["READY", "READY"],
    ["READY", "Z 1"],
    ["READY", "P main 1", "E main 0 0", "E fallback 1 1", "R 1"],  # R only after a restart
])
def test_forged_lines_mark_the_answer(lines):
    run = _feed(_run(), lines)
    assert run.forged, lines


def test_a_restart_must_restore_before_its_steps():
    run = _run()
    _feed(run, ["READY", "P main 1", "E main 1 1", "X example 1 1"])  # then killed in example 2
    run.examples[2] = False
    run.begin("j" * 32, "tests")
    assert _feed(run, ["READY", "P restore 1", "R 1", "X test 1 1", "X test 2 1", "X test 3 1", "DONE"]).forged is None
    run2 = _run()
    _feed(run2, ["READY", "P main 1", "E main 1 1", "X example 1 1", "X example 2 1"])
    run2.begin("j" * 32, "tests")
    assert _feed(run2, ["READY", "X test 1 1"]).forged  # no R first


def test_missing_layers_refuse_unless_opted_out(monkeypatch):
    from slingshot.metrics.julia import sandbox
    weak = {"landlock_abi": 0, "namespaces": False, "filesystem": "none", "network": "none",
            "cgroup": "none", "user": "self", "_prefix": [], "_cgroups": {}}
    monkeypatch.setattr(sandbox, "_ISOLATION", weak)
    monkeypatch.delenv(sandbox.WEAK_ENV, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable, match="cgroups.*SLINGSHOT_JULIA_WEAK_SANDBOX"):
        sandbox.require()
    assert len(sandbox.require(allow_weak=True)) == 4
    monkeypatch.setenv(sandbox.WEAK_ENV, "1")
    assert "namespaces" in sandbox.require()[0]


# ---------- infrastructure failures and a locked-down repository (real Julia) ----------

@pytest.mark.slow
@needs_julia
@pytest.mark.julia
def test_a_julia_that_does_not_start_stops_the_run(case, tmp_path):
    fake = tmp_path / "fake" / "bin" / "julia"
    fake.parent.mkdir(parents=True)
    fake.parent.parent.chmod(0o755)  # mounted as the install folder, which the sample must traverse
    fake.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    answer = tmp_path / "answer.md"
    answer.write_text(fence(case["reference_solution"]))
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "SLINGSHOT_JULIA": str(fake)}
    out = subprocess.run([sys.executable, "-m", "slingshot.metrics.julia", case["dir"], str(answer)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert "did not start" in out.stderr and "cannot start" in out.stderr


@pytest.mark.slow
@needs_julia
@pytest.mark.julia
@pytest.mark.skipif(os.geteuid() != 0, reason="the sample drops to nobody only when run as root")
def test_reference_scores_100_with_the_repository_in_a_0700_folder(case, tmp_path):
    home = Path(tempfile.mkdtemp(prefix="slingshot-home-"))  # like /root on a rented box
    try:
        home.chmod(0o700)
        repo = home / "repo"
        shutil.copytree(REPO / "slingshot", repo / "slingshot", ignore=shutil.ignore_patterns("__pycache__"))
        julia_install = Path(os.path.realpath(find_julia())).parents[1]
        subprocess.run(["cp", "-al", str(julia_install), str(repo / ".julia-install")], check=True)
        case_dir = repo / "case"
        case_dir.mkdir()
        shutil.copy(Path(case["dir"]) / "definition.toml", case_dir)
        answer = repo / "answer.md"
        answer.write_text(fence(case["reference_solution"]))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SLINGSHOT_JULIA")}
        out = subprocess.run([sys.executable, "-m", "slingshot.metrics.julia", str(case_dir), str(answer)],
                             capture_output=True, text=True, cwd=repo, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)
        assert row["score"] == 100.0, row
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv):
    from slingshot.metrics.julia.cases import load_case
    target = load_case(argv[0] if argv else REPO / "data/julia-llm-leaderboard/code_generation/utility_functions/wrap_string")
    for name, r in score_attacks(target).items():
        why = r.get("forged") or (r.get("errors") or [""])[0]
        print(f"| {name} | {r['score']} | {r['unit_tests_passed']}/{r['unit_tests_count']} | {why[:70]} |")


if __name__ == "__main__":
    main(sys.argv[1:])
