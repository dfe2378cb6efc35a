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
then each example and unit test in that module, counting those that do not throw.

Threat model. The answer is arbitrary Julia code and runs in the driver's process, so nothing in
that process is trusted to report results honestly by default; what this module enforces:
- Results travel on a pipe, not stdout, and every line must start with a per-run random key that
  reaches the driver on stdin before the answer runs and lives only in a local and a closure (no
  global, file or environment variable holds it). The driver's `emit` cannot be called without it.
- Lines must follow the exact order the driver produces (READY, attempts, each example and test
  index once, in order, DONE); an unknown key, an out-of-range or repeated index, a line after
  DONE or a garbled line marks the answer as forged: score 0, `forged` says why. Writing anything
  to the channel therefore only ever costs the answer points. Scores are clamped to 0..100.
- The snippets' @test/@testset/@test_throws... are bound to Test's own macros, whatever the
  answer's module defines, and a method of Test or of the driver (re)defined by the answer is
  reported as tampering (forged).
- The sandbox (sandbox.py) keeps the answer away from the repository (answer keys), other
  processes and host sockets, and limits the whole sample's memory, processes and disk.
Not covered: an answer that reads its own process memory to find the key, or redefines Base
methods the driver itself calls (e.g. string conversion) to capture it. Closing that needs the
tests evaluated in a process the answer's code never runs in, with the answer's functions reached
by serialised calls; that changes how the leaderboard's snippets run, so it is not done here."""
import functools
import json
import os
import re
import secrets
import shutil
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


class ForgedLine(ValueError):
    pass


class _Run:
    """Results gathered from protocol lines, across restarts of the driver; each line is checked
    against the run's key and the order the driver writes them in (see the threat model above)."""

    def __init__(self, n_examples, n_tests):
        self.n_examples, self.n_tests = n_examples, n_tests
        self.provisional = {}  # attempt -> parsed, known before it runs
        self.attempts = {}     # attempt -> (parsed, executed)
        self.examples, self.tests = {}, {}
        self.restored = None
        self.done = False
        self.errors = []
        self.forged = None
        self.ever_ready = False

    def begin(self, key, start):
        """A new driver process with its own key, starting at `start`."""
        self.key, self.start = key, start
        self.ready = self.process_done = self.process_restored = False

    def line(self, text):
        """Handle one line; False stops the process (DONE, or a forged line)."""
        try:
            self._line(text)
        except (IndexError, ValueError) as e:
            self.forged = f"forged or garbled driver line ({e}): {text[:80]!r}"
        return not (self.forged or self.process_done)

    def _line(self, text):
        key, _, body = text.partition(" ")
        if not secrets.compare_digest(key.encode(), self.key.encode()):
            raise ForgedLine("wrong key")
        kind, _, rest = body.partition(" ")
        args = rest.split(" ")
        if kind == "READY":
            if self.ready:
                raise ForgedLine("second READY")
            self.ready = self.ever_ready = True
            return
        if not self.ready:
            raise ForgedLine("before READY")
        if kind == "M":
            if len(self.errors) < 20:
                self.errors.append(rest[:300])
            return
        if kind == "F":
            self.forged = rest[:200] or "tampering reported by the driver"
            return
        step = _current_step(self, self.n_examples, self.n_tests)
        restoring = self.start in ("examples", "tests")
        if kind == "P":
            expected = "restore" if restoring else step
            if args[0] != expected or args[0] in self.provisional and not restoring or len(args) != 2:
                raise ForgedLine(f"P for {args[0]} when {expected} runs")
            self.provisional[args[0]] = _bit(args[1])
        elif kind == "E":
            if restoring or args[0] not in ("main", "fallback") or args[0] != step or len(args) != 3:
                raise ForgedLine(f"E for {args[0]} when {step} runs")
            self.attempts[args[0]] = (_bit(args[1]), _bit(args[2]))
        elif kind == "R":
            if not restoring or self.process_restored or len(args) != 1:
                raise ForgedLine("R out of place")
            self.restored, self.process_restored = _bit(args[0]), True
        elif kind == "X":
            if (restoring and not self.process_restored) or len(args) != 3 or step != (args[0], int(args[1])):
                raise ForgedLine(f"X {args[0]} {args[1]} when {step} is next")
            (self.examples if args[0] == "example" else self.tests)[int(args[1])] = _bit(args[2])
        elif kind == "DONE":
            if self._unfinished(step):
                raise ForgedLine(f"DONE before {step}")
            self.done = self.process_done = True
        else:
            raise ForgedLine(f"unknown kind {kind[:10]!r}")

    def _unfinished(self, step):
        """DONE is legitimate when no example or test is left, or the code did not execute."""
        return step is not None


def _bit(text):
    if text not in ("0", "1"):
        raise ForgedLine(f"{text[:10]!r} is not 0 or 1")
    return text == "1"


def score_answer(case, answer_text, mode="corrected", timestamp=None, step_limit=STEP_LIMIT,
                 total_limit=TOTAL_LIMIT, memory_limit=sandbox.MEMORY_LIMIT, allow_weak_sandbox=None):
    """Score one markdown answer. `case` is a case dict (cases.load_case) or a case folder.

    Raises sandbox.SandboxUnavailable when the machine cannot build the whole sandbox (unless
    allow_weak_sandbox, or SLINGSHOT_JULIA_WEAK_SANDBOX=1), and sandbox.ScorerFailure when Julia or
    the driver does not start: an infrastructure failure is never an answer's score."""
    sandbox.require(allow_weak_sandbox)
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
    run, timeouts, restarts = _Run(n_examples, n_tests), [], 0
    deadline = time.monotonic() + total_limit
    start, start_index, restore = "main", 1, "main"
    while True:
        with sandbox.SampleDir() as workdir:
            jobdir, _ = sandbox.sample_paths(workdir)
            Path(workdir, "job.jl").write_text(_job_source(
                {**fields, "start": start, "start_index": start_index, "restore": restore}), encoding="utf-8")
            shutil.copyfile(DRIVER, Path(workdir, "driver.jl"))  # readable even when the repo is not
            key = secrets.token_hex(16)
            run.begin(key, start)
            status = sandbox.run_streaming(
                [_julia(), "--startup-file=no", "--history-file=no", f"{jobdir}/driver.jl", f"{jobdir}/job.jl"],
                workdir, run.line, startup_limit=STARTUP_LIMIT, step_limit=step_limit, deadline=deadline,
                memory_limit=memory_limit, stdin_data=(key + "\n").encode())
            if not run.ready and not run.forged and status != "deadline":  # no time left is a timeout
                raise sandbox.ScorerFailure(
                    f"the Julia driver did not start ({status}; julia {_julia()}); no answer can be "
                    f"scored. Its stderr ends with:\n{sandbox.stderr_tail(workdir)[-1500:]}")
        if run.done or run.forged:
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

    info = {"timeouts": timeouts, "restarts": restarts,
            "sandbox": {k: v for k, v in sandbox.isolation().items() if not k.startswith("_")}}
    if run.forged:
        return {**result, "skipped": False, "parsed": False, "executed": False, "unit_tests_passed": 0,
                "examples_executed": 0, "score": 0.0, "forged": run.forged,
                "errors": [f"forged result: {run.forged}"], **info}
    final = run.attempts.get("fallback") or run.attempts.get("main") or (False, False)
    if run.attempts.get("main", (False, False))[1]:
        final = run.attempts["main"]
    parsed, executed = final
    examples_ok = min(sum(run.examples.values()), n_examples) if executed else 0
    tests_ok = min(sum(run.tests.values()), n_tests) if executed else 0
    points = _points(parsed, executed, tests_ok, n_tests, examples_ok, n_examples)
    return {**result, "skipped": False, "parsed": parsed, "executed": executed,
            "unit_tests_passed": tests_ok, "examples_executed": examples_ok,
            "score": min(max(points, 0.0), 100.0), "errors": run.errors[:5], **info}


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
    sandbox.require()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_score_job, jobs)
        if progress:
            from tqdm import tqdm
            results = tqdm(results, total=len(jobs), desc=desc, unit="answer")
        return list(results)
