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
then each example and unit test, counting those that do not throw.

Two processes per sample, each in its own sandbox (sandbox.py: own root, PID and network
namespaces, cgroup, Landlock, user nobody):
- the answer's process (driver.jl) gets the answer's code blocks and the case's imports, never the
  examples, unit tests or reference solution. It loads the code as the harness did, reports whether
  each attempt parsed and executed, then only answers calls: "call f with these arguments", "show
  this value", "this field of that value", "define this type" (a snippet's `struct X <: AnswerType`).
- the checker (checker.jl) holds the examples and unit tests and runs them with Test's macros. No
  code of the answer ever runs in it: each function or type the answer defines is bound to a proxy
  that sends the call to the answer's process (relayed by this module) and decodes the reply with
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
- The checker is another process in another PID namespace and sandbox, started by this module, not
  by the answer's process: the answer cannot see its /proc, signal it or ptrace it.
Harness fidelity in "leaderboard" mode: snippets run in the checker's module with the answer's
functions as proxies instead of in the answer's module, so an answer whose tests relied on sharing
its module (a test reading one of its globals, or its own `==` or a shadowed Base function) scores
differently; a value that is not plain data (a struct of the answer's) cannot be compared by
value, only printed, its fields read, or passed back; a type of the answer can be called and
subtyped by a snippet's struct, but `isa`/`typeof` comparisons with it fail; a function or
IO object of a snippet cannot be passed to the answer's functions."""
import functools
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.cases import load_case
from slingshot.metrics.julia.extract import answer_blocks, extract_function_name

HERE = Path(__file__).resolve().parent  # driver.jl, checker.jl, wire.jl
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
    """What a sample has earned so far, across restarts. Loading is reported by the answer's process
    (checked against the order driver.jl writes in); examples and tests only by the checker."""

    def __init__(self, n_examples, n_tests):
        self.n_examples, self.n_tests = n_examples, n_tests
        self.provisional = {}  # attempt -> parsed, known before it runs
        self.attempts = {}     # attempt -> (parsed, executed)
        self.examples, self.tests = {}, {}
        self.restored = None
        self.done = False
        self.errors = []
        self.forged = None
        self.ever_ready = self.checker_ever_ready = False

    def begin(self, start):
        """A new pair of processes, starting at `start`."""
        self.start = start
        self.ready = self.loaded = self.process_restored = False

    def step(self):
        return _current_step(self, self.n_examples, self.n_tests)

    def note(self, text):
        if len(self.errors) < 20:
            self.errors.append(text[:300])

    def load_frame(self, frame):
        """One frame of the answer's process while it loads; returns the names line once loaded,
        "" when nothing executed, None to read on. A frame out of place marks the answer forged."""
        text = frame.decode("utf-8", errors="replace")
        try:
            return self._load_frame(text)
        except (IndexError, ValueError) as e:
            self.forged = f"forged or garbled driver frame ({e}): {text[:80]!r}"
            return ""

    def _load_frame(self, text):
        kind, _, rest = text.partition(" ")
        args = rest.split(" ")
        if kind == "READY":
            if self.ready:
                raise ForgedLine("second READY")
            self.ready = self.ever_ready = True
            return None
        if not self.ready:
            raise ForgedLine("before READY")
        if kind == "M":
            self.note(rest)
            return None
        step = self.step()
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
        elif kind == "L":
            if step is None or step in ("main", "fallback") or (restoring and not self.process_restored):
                raise ForgedLine(f"L when {step} is next")
            self.loaded = True
            return rest
        elif kind == "DONE":
            if step is not None:
                raise ForgedLine(f"DONE before {step}")
            self.done = True
            return ""
        else:
            raise ForgedLine(f"unknown kind {kind[:10]!r}")
        return None

    def verdict(self, text):
        """One X line of the checker (trusted); it must be the next step's."""
        kind, index, bit = text.split(" ")[1:]
        if self.step() != (kind, int(index)):
            raise sandbox.ScorerFailure(f"the checker reported {kind} {index} when {self.step()} was next")
        (self.examples if kind == "example" else self.tests)[int(index)] = bit == "1"


def _bit(text):
    if text not in ("0", "1"):
        raise ForgedLine(f"{text[:10]!r} is not 0 or 1")
    return text == "1"


def _prepare(workdir, script, job):
    Path(workdir, "job.jl").write_text(_job_source(job), encoding="utf-8")
    for name in ("wire.jl", script):  # readable even when the repo is not
        shutil.copyfile(HERE / name, Path(workdir, name))
    jobdir, _ = sandbox.sample_paths(workdir)
    # the checker's snippets are small: interpreting them costs less than compiling them
    fast_start = ["--compile=min"] if script == "checker.jl" else []
    return [_julia(), "--startup-file=no", "--history-file=no", *fast_start, f"{jobdir}/{script}",
            f"{jobdir}/wire.jl", f"{jobdir}/job.jl"]


def _load(run, answer, startup_until, step_limit, deadline):
    """Read the answer's process until it has loaded; the names line, or None when nothing runs."""
    until = startup_until
    while True:
        try:
            frame = answer.receive(min(until, deadline))
        except sandbox.TooLarge as e:
            run.forged = f"forged or garbled driver frame ({e})"
            return None
        names = run.load_frame(frame)
        if names is not None:
            return names if run.loaded else None
        until = time.monotonic() + step_limit


def _check(run, answer, checker, names, startup_until, step_limit, deadline):
    """Let the checker run the remaining steps, relaying its calls to the answer's process."""
    frame = checker.receive(min(startup_until, deadline))
    if frame != b"READY":
        raise sandbox.ScorerFailure(f"the checker started with {frame[:80]!r}")
    run.checker_ever_ready = True
    until = time.monotonic() + step_limit
    checker.send(b"B" + names.encode(), min(until, deadline))
    while True:
        step_end = min(until, deadline)
        frame = checker.receive(step_end)
        if frame[:1] == b"C":
            answer.send(frame[1:], step_end)
            try:
                reply = b"V" + answer.receive(step_end, drop_large=True)
            except sandbox.TooLarge as e:  # the step fails, the processes go on
                run.note(f"{run.step()}: {e}")
                reply = b"!"
            checker.send(reply, step_end)
        elif frame[:2] == b"X ":
            run.verdict(frame.decode())
            until = time.monotonic() + step_limit
        elif frame[:2] == b"M ":
            run.note(frame[2:].decode("utf-8", errors="replace"))
        elif frame == b"DONE":
            run.done = True
            return
        else:
            raise sandbox.ScorerFailure(f"the checker wrote {frame[:80]!r}")


def _one_pass(run, answer_job, checker_job, start, limits):
    """One answer process and one checker from `start`; "done", "step_timeout", "deadline" or "broken"."""
    step_limit, deadline, memory_limit = limits
    run.begin(start["start"])
    with sandbox.SampleDir() as answer_dir, sandbox.SampleDir() as checker_dir:
        answer_cmd = _prepare(answer_dir, "driver.jl", {**answer_job, **start})
        checker_cmd = _prepare(checker_dir, "checker.jl", {**checker_job, **start})
        startup_until = time.monotonic() + STARTUP_LIMIT
        with sandbox.SandboxedProcess(answer_cmd, answer_dir, memory_limit) as answer, \
                sandbox.SandboxedProcess(checker_cmd, checker_dir, memory_limit) as checker:
            try:
                names = _load(run, answer, startup_until, step_limit, deadline)
                if names is not None and not run.forged:
                    _check(run, answer, checker, names, startup_until, step_limit, deadline)
                return "done"
            except sandbox.Timeout:
                status = "deadline" if time.monotonic() >= deadline else "step_timeout"
            except sandbox.Broken as e:
                if e.process is checker:  # no answer can crash it: a bug or a broken machine
                    _scorer_failure("Julia checker", "crashed", checker_dir)
                status = "broken"
                run.note(f"{run.step()}: {e}")
            _require_started(run, status, answer_dir, checker_dir)
            return status


def _require_started(run, status, answer_dir, checker_dir):
    """A process that never got going is an infrastructure failure, never an answer's score."""
    if status == "deadline":
        return
    if not run.ever_ready:
        _scorer_failure("Julia driver", f"did not start ({status})", answer_dir)
    if run.loaded and not run.checker_ever_ready:
        _scorer_failure("Julia checker", f"did not start ({status})", checker_dir)


def _scorer_failure(who, what, folder):
    raise sandbox.ScorerFailure(
        f"the {who} {what}; julia {_julia()}; no answer can be scored. "
        f"Its stderr ends with:\n{sandbox.stderr_tail(folder)[-1500:]}")


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
    n_examples, n_tests = len(case["examples"]), len(case["unit_tests"])
    result = {"name": case["name"], "mode": mode, "timestamp": timestamp,
              "unit_tests_count": n_tests, "examples_count": n_examples}
    missing = missing_packages(tuple(case["imports"]))
    if missing:
        return {**result, "skipped": True, "parsed": None, "executed": None,
                "unit_tests_passed": None, "examples_executed": None, "score": None,
                "reason": f"packages not installed for the local julia: {', '.join(missing)}"}
    answer_job, checker_job = _jobs(case, answer_text, rules)
    run, timeouts, restarts = _Run(n_examples, n_tests), [], 0
    limits = (step_limit, time.monotonic() + total_limit, memory_limit)
    start = {"start": "main", "start_index": 1, "restore": "main"}
    while True:
        status = _one_pass(run, answer_job, checker_job, start, limits)
        if run.done or run.forged:
            break
        # A process was killed (or died) mid-step: that step fails, the next one gets fresh processes.
        step = run.step()
        timeouts.append({"step": step if step is None or isinstance(step, str) else f"{step[0]} {step[1]}",
                         "status": status})
        start = _restart_point(run, step)
        if start is None or time.monotonic() >= limits[1]:
            break
        restarts += 1
    return {**result, **_final(run, n_examples, n_tests), "timeouts": timeouts, "restarts": restarts,
            "sandbox": {k: v for k, v in sandbox.isolation().items() if not k.startswith("_")}}


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


def _restart_point(run, step):
    """Where fresh processes start after `step` failed, or None when nothing is left to run."""
    if step is None:
        return None
    if step in ("main", "fallback"):
        run.attempts.setdefault(step, (run.provisional.get(step, False), False))
        if step == "fallback" or run.attempts.get("main", (0, 0))[1]:
            return None
        return {"start": "fallback", "start_index": 1, "restore": "main"}
    kind, index = step
    (run.examples if kind == "example" else run.tests)[index] = False
    nxt = run.step()
    if nxt is None:
        return None
    restore = "main" if run.attempts.get("main", (0, 0))[1] else "fallback"
    return {"start": "examples" if nxt[0] == "example" else "tests", "start_index": nxt[1], "restore": restore}


def _final(run, n_examples, n_tests):
    if run.forged:
        return {"skipped": False, "parsed": False, "executed": False, "unit_tests_passed": 0,
                "examples_executed": 0, "score": 0.0, "forged": run.forged,
                "errors": [f"forged result: {run.forged}"]}
    final = run.attempts.get("fallback") or run.attempts.get("main") or (False, False)
    if run.attempts.get("main", (False, False))[1]:
        final = run.attempts["main"]
    parsed, executed = final
    examples_ok = min(sum(run.examples.values()), n_examples) if executed else 0
    tests_ok = min(sum(run.tests.values()), n_tests) if executed else 0
    points = _points(parsed, executed, tests_ok, n_tests, examples_ok, n_examples)
    return {"skipped": False, "parsed": parsed, "executed": executed, "unit_tests_passed": tests_ok,
            "examples_executed": examples_ok, "score": min(max(points, 0.0), 100.0), "errors": run.errors[:5]}


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
        limits = {k: job[k] for k in ("step_limit", "total_limit") if k in job}
        return score_answer(job["case"], job["answer"], mode=job.get("mode", "corrected"),
                            timestamp=job.get("timestamp"), **limits)
    return score_answer(*job)


def score_many(jobs, workers=None, progress=True, desc="julia"):
    """Score many jobs ({case, answer, mode, timestamp[, step_limit, total_limit]} dicts) in parallel;
    results in job order."""
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
