"""Score a markdown answer against a Julia-LLM-Leaderboard case.

    score = 25*parsed + 25*executed + 25*unit_tests_passed/count + 25*examples_executed/count

Two modes:
- "leaderboard" reproduces the stored leaderboard scores, harness quirks included, picked by the
  run's timestamp: the answer's code is pasted into a triple-quoted literal (any \"\"\" in it breaks
  the run); before 2024-08-12 the examples and unit tests were pasted the same way; before
  2024-02-01 PromptingTools found the target function with looser rules.
- "corrected" runs the same steps without the quoting bugs: code reaches Julia untouched.

Steps (each with its own time limit, all within a total one): the answer's code in a fresh module
(`using Test` + the case imports), and if that fails only the block defining the target function;
then each example and unit test in that module, counting those that do not throw."""
import functools
import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.cases import load_case
from slingshot.metrics.julia.extract import answer_blocks, extract_function_name

DRIVER = Path(__file__).resolve().with_name("driver.jl")
MODES = ("leaderboard", "corrected")
NEW_FUNCTION_RULES = "20240201"  # PromptingTools 0.10 (anchored function-name regexes)
SNIPPETS_ESCAPED = "20240812"  # Julia-LLM-Leaderboard "Fix string inclusion"
STEP_LIMIT = 10.0
TOTAL_LIMIT = 60.0
STARTUP_LIMIT = 30.0

# Packages the leaderboard's environment knew (its Project.toml, Julia's standard library and some
# of their common dependencies): the harness kept `using X` lines for these and dropped the others.
HARNESS_PACKAGES = sorted(set("""
ArgTools Artifacts Base64 CRC32c Dates DelimitedFiles Distributed Downloads FileWatching Future
InteractiveUtils LazyArtifacts LibCURL LibGit2 Libdl LinearAlgebra Logging Markdown Mmap
NetworkOptions Pkg Printf Profile REPL Random SHA Serialization SharedArrays Sockets SparseArrays
Statistics SuiteSparse TOML Tar Test UUIDs Unicode
AlgebraOfGraphics CairoMakie DataFrames DataFramesMeta HTTP JSON3 MarkdownTables OpenAI Preferences
ProgressMeter PromptingTools
Chain Compat DataAPI DataStructures Distributions JSON Makie MacroTools Missings OrderedCollections
Parsers PrettyTables Reexport StaticArrays StatsBase StructTypes Tables
""".split()))


def _julia_literal(value):
    """Julia source for a Python str / bool / int / list of str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.encode("utf-8", errors="replace").decode("utf-8")
        return json.dumps(text, ensure_ascii=False).replace("$", "\\$")
    if isinstance(value, (list, tuple)):
        return "String[" + ", ".join(_julia_literal(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as Julia")


def _job_source(fields):
    body = ",\n    ".join(f"{key} = {_julia_literal(val)}" for key, val in fields.items())
    return f"const JOB = (\n    {body},\n)\n"


def _date(timestamp):
    digits = re.sub(r"\D", "", str(timestamp or ""))
    return digits[:8] if len(digits) >= 8 else None


def harness_rules(mode, timestamp=None):
    """How the answer is run: quoting of code and snippets, function-name rules, package policy."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "corrected":
        return {"quote_code": False, "snippet_quoting": "none", "legacy_names": False,
                "known_packages": [], "local_packages": True}
    date = _date(timestamp)
    if timestamp is not None and date is None:
        raise ValueError(f"timestamp {timestamp!r} has no YYYYMMDD date")
    return {"quote_code": True,
            "snippet_quoting": "dollar" if date and date < SNIPPETS_ESCAPED else "full",
            "legacy_names": bool(date and date < NEW_FUNCTION_RULES),
            "known_packages": HARNESS_PACKAGES, "local_packages": False}


@functools.lru_cache(maxsize=None)
def _julia():
    return sandbox.find_julia()


@functools.lru_cache(maxsize=None)
def missing_packages(imports):
    """Imports (tuple) that the local Julia cannot load; Base submodules always load."""
    names = [p for p in imports if not p.startswith(("Base", "Core"))]
    if not names:
        return ()
    script = "for p in ARGS; Base.find_package(p) === nothing && println(p); end"
    out = subprocess.run([_julia(), "--startup-file=no", "-e", script, *names], capture_output=True,
                         text=True, timeout=120, env=sandbox.minimal_env(os.getcwd()))
    if out.returncode != 0:
        raise RuntimeError(f"julia failed while checking packages: {out.stderr[-500:]}")
    return tuple(sorted(set(out.stdout.split())))


def _points(parsed, executed, tests, n_tests, examples, n_examples):
    parts = [float(parsed), float(executed)]
    parts += [tests / n_tests] if n_tests else []
    parts += [examples / n_examples] if n_examples else []
    return 100.0 * sum(parts) / len(parts)


class _Run:
    """Results gathered from protocol lines, across restarts of the driver."""

    def __init__(self):
        self.provisional = {}  # attempt -> parsed, known before it runs
        self.attempts = {}     # attempt -> (parsed, executed)
        self.examples, self.tests = {}, {}
        self.restored = None
        self.done = False
        self.errors = []

    def line(self, text):
        try:
            self._line(text)
        except (IndexError, ValueError):
            self.errors.append(f"unreadable driver line: {text[:100]}")

    def _line(self, text):
        kind, _, rest = text.partition(" ")
        args = rest.split(" ")
        if kind == "P":
            self.provisional[args[0]] = args[1] == "1"
        elif kind == "E":
            self.attempts[args[0]] = (args[1] == "1", args[2] == "1")
        elif kind == "R":
            self.restored = args[0] == "1"
        elif kind == "X":
            (self.examples if args[0] == "example" else self.tests)[int(args[1])] = args[2] == "1"
        elif kind == "M" and len(self.errors) < 20:
            self.errors.append(rest[:300])
        elif kind == "DONE":
            self.done = True


def score_answer(case, answer_text, mode="corrected", timestamp=None, step_limit=STEP_LIMIT,
                 total_limit=TOTAL_LIMIT, memory_limit=sandbox.MEMORY_LIMIT):
    """Score one markdown answer. `case` is a case dict (cases.load_case) or a case folder."""
    if not isinstance(case, dict):
        case = load_case(case)
    rules = harness_rules(mode, timestamp)
    n_examples, n_tests = len(case["examples"]), len(case["unit_tests"])
    result = {"name": case["name"], "mode": mode, "timestamp": timestamp,
              "unit_tests_count": n_tests, "examples_count": n_examples}
    missing = missing_packages(tuple(case["imports"]))
    if missing:
        return {**result, "skipped": True, "parsed": None, "executed": None,
                "unit_tests_passed": None, "examples_executed": None, "score": None,
                "reason": f"packages not installed for the local julia: {', '.join(missing)}"}

    blocks, used_fallback = answer_blocks(answer_text)
    imports = case["imports"]
    fields = {
        "name": case["name"],
        "prefix": "using " + ", ".join(imports) if imports else "",
        "blocks": blocks,
        "block_names": [extract_function_name(b, rules["legacy_names"]) or "" for b in blocks],
        "known_packages": rules["known_packages"],
        "local_packages": rules["local_packages"],
        "quote_code": rules["quote_code"],
        "snippet_quoting": rules["snippet_quoting"],
        "examples": case["examples"],
        "unit_tests": case["unit_tests"],
        "examples_setup": case.get("examples_setup", ""),
        "examples_teardown": case.get("examples_teardown", ""),
        "unit_tests_setup": case.get("unit_tests_setup", ""),
        "unit_tests_teardown": case.get("unit_tests_teardown", ""),
    }
    run, timeouts, restarts = _Run(), [], 0
    deadline = time.monotonic() + total_limit
    start, start_index, restore = "main", 1, "main"
    while True:
        with sandbox.SampleDir() as workdir:
            Path(workdir, "job.jl").write_text(_job_source(
                {**fields, "start": start, "start_index": start_index, "restore": restore}), encoding="utf-8")
            if sandbox.isolation()["user"] == "nobody":
                os.chown(Path(workdir, "job.jl"), sandbox.NOBODY, sandbox.NOBODY)
            status = sandbox.run_streaming(
                [_julia(), "--startup-file=no", "--history-file=no", str(DRIVER)], workdir, run.line,
                startup_limit=STARTUP_LIMIT, step_limit=step_limit, deadline=deadline,
                memory_limit=memory_limit)
            if not run.done and status == "done" and not run.provisional and not run.attempts:
                run.errors.append("driver failed: " + sandbox.stderr_tail(workdir)[-500:])
        if run.done:
            break
        # The driver was killed (or died) mid-step: that step fails, the next one gets a fresh process.
        step = _current_step(run, n_examples, n_tests)
        timeouts.append({"step": step if step is None or isinstance(step, str) else f"{step[0]} {step[1]}",
                         "status": status})
        if step is None or time.monotonic() >= deadline:
            break
        if step in ("main", "fallback"):
            run.attempts.setdefault(step, (run.provisional.get(step, False), False))
            if step == "fallback" or run.attempts.get("main", (0, 0))[1]:
                break
            start, restore = "fallback", "main"
        else:
            kind, index = step
            (run.examples if kind == "example" else run.tests)[index] = False
            nxt = _current_step(run, n_examples, n_tests)
            if nxt is None:
                break
            start, start_index = ("examples", nxt[1]) if nxt[0] == "example" else ("tests", nxt[1])
            restore = "main" if run.attempts.get("main", (0, 0))[1] else "fallback"
        restarts += 1

    final = run.attempts.get("fallback") or run.attempts.get("main") or (False, False)
    if run.attempts.get("main", (False, False))[1]:
        final = run.attempts["main"]
    parsed, executed = final
    examples_ok = sum(run.examples.values()) if executed else 0
    tests_ok = sum(run.tests.values()) if executed else 0
    return {**result, "skipped": False, "parsed": parsed, "executed": executed,
            "unit_tests_passed": tests_ok, "examples_executed": examples_ok,
            "score": _points(parsed, executed, tests_ok, n_tests, examples_ok, n_examples),
            "timeouts": timeouts, "restarts": restarts, "errors": run.errors[:5],
            "sandbox": {k: v for k, v in sandbox.isolation().items() if not k.startswith("_")}}


def _current_step(run, n_examples, n_tests):
    """First step without a result: 'main', 'fallback', ('example', i), ('test', i) or None."""
    if "main" not in run.attempts and run.restored is None:
        return "main"
    main_ok = run.attempts.get("main", (False, False))[1]
    if not main_ok and "fallback" not in run.attempts and run.restored is None:
        return "fallback"
    if not main_ok and not run.attempts.get("fallback", (False, False))[1] and run.restored is None:
        return None
    if run.restored is False:
        return None
    for i in range(1, n_examples + 1):
        if i not in run.examples:
            return ("example", i)
    for i in range(1, n_tests + 1):
        if i not in run.tests:
            return ("test", i)
    return None


def _score_job(job):
    if isinstance(job, dict):
        return score_answer(job["case"], job["answer"], mode=job.get("mode", "corrected"),
                            timestamp=job.get("timestamp"))
    return score_answer(*job)


def score_many(jobs, workers=None, progress=True, desc="julia"):
    """Score many jobs ({case, answer, mode, timestamp} dicts) in parallel; results in job order."""
    jobs = list(jobs)
    workers = max(1, workers or os.cpu_count() or 1)
    _julia()  # fail early and clearly when julia is missing
    sandbox.isolation()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_score_job, jobs)
        if progress:
            from tqdm import tqdm
            results = tqdm(results, total=len(jobs), desc=desc, unit="answer")
        return list(results)
