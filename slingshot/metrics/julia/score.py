"""Score a markdown answer against a Julia-LLM-Leaderboard case.

    score = 25*parsed + 25*executed + 25*unit_tests_passed/count + 25*examples_executed/count

Two modes (rules.py): "leaderboard" reproduces the stored leaderboard scores, harness quirks
included, picked by the run's timestamp (any \"\"\" in the answer's code breaks the run); "corrected"
runs the same steps without the quoting bugs.

Steps (each with its own time limit, all within a total one): the answer's code in a fresh module
(`using Test` + the case imports), and if that fails only the block defining the target function;
then each example and unit test, counting those that do not throw.

Two processes per sample (relay.py), each in its own sandbox (sandbox.py: own root, PID, network
and IPC namespaces, cgroup, Landlock, user nobody):
- the answer's process (driver.jl) gets the answer's code blocks and the case's imports, never the
  examples, unit tests or reference solution. It loads the code as the harness did, reports whether
  each attempt parsed and executed, then only answers calls: "call f with these arguments", "show
  this value", "this field of that value", "define this type" (a snippet's `struct X <: AnswerType`).
- the checker (checker.jl) holds the examples and unit tests and runs them with Test's macros. No
  code of the answer ever runs in it: each function or type the answer defines is bound to a proxy
  that sends the call to the answer's process (relayed by relay.py) and decodes the reply with
  wire.jl, which builds plain data only (nothing, Bool, numbers, Char, String, SubString, Symbol,
  Tuple, NamedTuple, Array, Dict, Set, Pair, Dates values and a whitelist of types; size and depth
  limited; never Julia's Serialization, never eval of the answer's text). Anything else stays in the
  answer's process as a handle that equals only itself; an exception comes back as its type (when
  it is one of Base's, so @test_throws works for honest answers) and message.

Threat model. The answer is arbitrary Julia code; what this design enforces:
- Verdicts are computed where the answer cannot run code. Whatever its process writes is at most
  "the function returned X" (a reply, decoded as plain data), so returning the expected X is
  implementing the function; there is no key, channel or harness in its process to steal or
  overwrite. A reply that does not decode, or one over wire.jl's MAX_FRAME, fails the step even
  under @test_throws; a reply that never comes is a step timeout.
- Plain values compare as plain values in both modes, so a type with `==`, `isequal`, `hash` or
  `show` overloads, or a custom AbstractString/AbstractVector, is converted (or stays a handle) and
  never equals what the test expects unless its data does. The answer's names are bound only where
  the snippets do not already see a name (Base, Test, the case's imports): an answer's own `==` or
  `@test` is not used by the tests, as it was when they shared a module.
- Loading frames (READY, P, E, R, L, DONE) must come in the order driver.jl writes them; one out of
  place marks the answer forged (score 0). "Parsed" and "executed" are the answer's own report:
  forging them gains nothing over an honest stub that parses and runs. Scores are clamped to 0..100.
- The checker is another process in another PID namespace and sandbox, started by the scorer, not
  by the answer's process: the answer cannot see its /proc, signal it or ptrace it.
Harness fidelity in "leaderboard" mode: snippets run in the checker's module with the answer's
functions as proxies instead of in the answer's module, so an answer whose tests relied on sharing
its module (a test reading one of its globals, or its own `==` or a shadowed Base function) scores
differently; a value that is not plain data (a struct of the answer's) cannot be compared by
value, only printed, its fields read, or passed back; a type of the answer can be called and
subtyped by a snippet's struct, but `isa`/`typeof` comparisons with it fail; a function or
IO object of a snippet cannot be passed to the answer's functions."""
import functools
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.cases import load_case
from slingshot.metrics.julia.extract import answer_blocks, extract_function_name
from slingshot.metrics.julia.relay import julia_executable, one_pass
from slingshot.metrics.julia.rules import MODES, NEW_FUNCTION_RULES, SNIPPETS_ESCAPED, harness_rules
from slingshot.metrics.julia.sample_run import SampleRun

__all__ = ["MODES", "NEW_FUNCTION_RULES", "SNIPPETS_ESCAPED", "STEP_LIMIT", "TOTAL_LIMIT", "harness_rules",
           "missing_packages", "score_answer", "score_many"]
STEP_LIMIT = 10.0
TOTAL_LIMIT = 60.0


@functools.lru_cache(maxsize=None)
def missing_packages(imports):
    """Imports (tuple) that the local Julia cannot load; Base submodules always load."""
    names = [p for p in imports if not p.startswith(("Base", "Core"))]
    if not names:
        return ()
    script = "for p in ARGS; Base.find_package(p) === nothing && println(p); end"
    out = subprocess.run([julia_executable(), "--startup-file=no", "-e", script, *names], capture_output=True,
                         text=True, timeout=120, env=sandbox.minimal_env(os.getcwd()))
    if out.returncode != 0:
        raise RuntimeError(f"julia failed while checking packages: {out.stderr[-500:]}")
    return tuple(sorted(set(out.stdout.split())))


def score_answer(case, answer_text, mode="corrected", timestamp=None, step_limit=STEP_LIMIT,
                 total_limit=TOTAL_LIMIT, memory_limit=sandbox.MEMORY_LIMIT, allow_weak_sandbox=None):
    """Score one markdown answer. `case` is a case dict (cases.load_case) or a case folder.

    Raises sandbox.SandboxUnavailable when the machine cannot build the whole sandbox (unless
    allow_weak_sandbox, or SLINGSHOT_JULIA_WEAK_SANDBOX=1), and sandbox.ScorerFailure when Julia,
    the driver or the checker does not start: an infrastructure failure is never an answer's score."""
    sandbox.require(allow_weak_sandbox)
    if not isinstance(case, dict):
        case = load_case(case)
    rules = harness_rules(mode, timestamp)
    result = {"name": case["name"], "mode": mode, "timestamp": timestamp,
              "unit_tests_count": len(case["unit_tests"]), "examples_count": len(case["examples"])}
    missing = missing_packages(tuple(case["imports"]))
    if missing:
        return {**result, "skipped": True, "parsed": None, "executed": None,
                "unit_tests_passed": None, "examples_executed": None, "score": None,
                "reason": f"packages not installed for the local julia: {', '.join(missing)}"}
    run = SampleRun(len(case["examples"]), len(case["unit_tests"]))
    timeouts, restarts = _run_passes(run, *_jobs(case, answer_text, rules),
                                     (step_limit, time.monotonic() + total_limit, memory_limit))
    return {**result, **run.final(), "timeouts": timeouts, "restarts": restarts,
            "sandbox": {k: v for k, v in sandbox.isolation().items() if not k.startswith("_")}}


def _run_passes(run, answer_job, checker_job, limits):
    """Passes until the sample is done, forged, out of steps or out of time; (timeouts, restarts).
    A process killed (or dead) mid-step fails that step; the next one gets fresh processes."""
    timeouts, restarts = [], 0
    start = {"start": "main", "start_index": 1, "restore": "main"}
    while True:
        status = one_pass(run, answer_job, checker_job, start, limits)
        if run.done or run.forged:
            return timeouts, restarts
        step = run.step()
        timeouts.append({"step": step if step is None or isinstance(step, str) else f"{step[0]} {step[1]}",
                         "status": status})
        start = run.restart_point(step)
        if start is None or time.monotonic() >= limits[1]:
            return timeouts, restarts
        restarts += 1


def _jobs(case, answer_text, rules):
    """What the answer's process gets (its code, never the tests) and what the checker gets."""
    blocks, _ = answer_blocks(answer_text)
    imports = case["imports"]
    prefix = "using " + ", ".join(imports) if imports else ""
    answer_job = {
        "name": case["name"], "prefix": prefix, "blocks": blocks,
        "block_names": [extract_function_name(b, rules["legacy_names"]) or "" for b in blocks],
        "known_packages": rules["known_packages"], "local_packages": rules["local_packages"],
        "quote_code": rules["quote_code"]}
    checker_job = {
        "prefix": prefix, "snippet_quoting": rules["snippet_quoting"],
        "examples": case["examples"], "unit_tests": case["unit_tests"],
        **{k: case.get(k, "") for k in ("examples_setup", "examples_teardown", "unit_tests_setup",
                                        "unit_tests_teardown")}}
    return answer_job, checker_job


def _score_job(job):
    if isinstance(job, dict):
        limits = {k: job[k] for k in ("step_limit", "total_limit") if k in job}
        return score_answer(job["case"], job["answer"], mode=job.get("mode", "corrected"),
                            timestamp=job.get("timestamp"), **limits)
    return score_answer(*job)


def score_many(jobs, workers=None, progress=True, desc="julia"):
    """Score many jobs ({case, answer, mode, timestamp[, step_limit, total_limit]} dicts) in parallel;
    results in job order."""
    jobs = list(jobs)
    workers = max(1, workers or os.cpu_count() or 1)
    julia_executable()  # fail early and clearly when julia is missing
    sandbox.require()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_score_job, jobs)
        if progress:
            from tqdm import tqdm
            results = tqdm(results, total=len(jobs), desc=desc, unit="answer")
        return list(results)
