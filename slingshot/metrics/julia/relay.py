"""One pass of a sample: the answer's process (driver.jl) and the checker (checker.jl), each in its
own sandbox, started from a step; the checker's calls relayed to the answer's process and its
verdicts recorded in the SampleRun. A process that never starts is the scorer's failure
(ScorerFailure), never an answer's score."""
import functools
import shutil
import time
from pathlib import Path

from slingshot.metrics.julia import sandbox
from slingshot.metrics.julia.process import Broken, SandboxedProcess, Timeout, TooLarge, stderr_tail
from slingshot.metrics.julia.rules import job_source

HERE = Path(__file__).resolve().parent  # driver.jl, checker.jl, wire.jl
STARTUP_LIMIT = 30.0


@functools.lru_cache(maxsize=None)
def julia_executable():
    return sandbox.find_julia()


def prepare(workdir, script, job):
    """The job files in `workdir`; the command that runs `script` on them in the sandbox."""
    Path(workdir, "job.jl").write_text(job_source(job), encoding="utf-8")
    for name in ("wire.jl", script):  # readable even when the repo is not
        shutil.copyfile(HERE / name, Path(workdir, name))
    jobdir, _ = sandbox.sample_paths(workdir)
    # the checker's snippets are small: interpreting them costs less than compiling them
    fast_start = ["--compile=min"] if script == "checker.jl" else []
    return [julia_executable(), "--startup-file=no", "--history-file=no", *fast_start, f"{jobdir}/{script}",
            f"{jobdir}/wire.jl", f"{jobdir}/job.jl"]


def _load(run, answer, startup_until, step_limit, deadline):
    """Read the answer's process until it has loaded; the names line, or None when nothing runs."""
    until = startup_until
    while True:
        try:
            frame = answer.receive(min(until, deadline))
        except TooLarge as e:
            run.forged = f"forged or garbled driver frame ({e})"
            return None
        names = run.load_frame(frame)
        if names is not None:
            return names if run.loaded else None
        until = time.monotonic() + step_limit


def _relay_call(run, answer, frame, step_end):
    """The checker's call (C frame) sent to the answer's process; its reply, or b"!" when too large."""
    answer.send(frame[1:], step_end)
    try:
        return b"V" + answer.receive(step_end, drop_large=True)
    except TooLarge as e:  # the step fails, the processes go on
        run.note(f"{run.step()}: {e}")
        return b"!"


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
            checker.send(_relay_call(run, answer, frame, step_end), step_end)
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


def one_pass(run, answer_job, checker_job, start, limits):
    """One answer process and one checker from `start`; "done", "step_timeout", "deadline" or "broken"."""
    step_limit, deadline, memory_limit = limits
    run.begin(start["start"])
    with sandbox.SampleDir() as answer_dir, sandbox.SampleDir() as checker_dir:
        answer_cmd = prepare(answer_dir, "driver.jl", {**answer_job, **start})
        checker_cmd = prepare(checker_dir, "checker.jl", {**checker_job, **start})
        startup_until = time.monotonic() + STARTUP_LIMIT
        with SandboxedProcess(answer_cmd, answer_dir, memory_limit) as answer, \
                SandboxedProcess(checker_cmd, checker_dir, memory_limit) as checker:
            try:
                names = _load(run, answer, startup_until, step_limit, deadline)
                if names is not None and not run.forged:
                    _check(run, answer, checker, names, startup_until, step_limit, deadline)
                return "done"
            except Timeout:
                status = "deadline" if time.monotonic() >= deadline else "step_timeout"
            except Broken as e:
                if e.process is checker:  # no answer can crash it: a bug or a broken machine
                    scorer_failure("Julia checker", "crashed", checker_dir)
                status = "broken"
                run.note(f"{run.step()}: {e}")
            _require_started(run, status, answer_dir, checker_dir)
            return status


def _require_started(run, status, answer_dir, checker_dir):
    """A process that never got going is an infrastructure failure, never an answer's score."""
    if status == "deadline":
        return
    if not run.ever_ready:
        scorer_failure("Julia driver", f"did not start ({status})", answer_dir)
    if run.loaded and not run.checker_ever_ready:
        scorer_failure("Julia checker", f"did not start ({status})", checker_dir)


def scorer_failure(who, what, folder):
    raise sandbox.ScorerFailure(
        f"the {who} {what}; julia {julia_executable()}; no answer can be scored. "
        f"Its stderr ends with:\n{stderr_tail(folder)[-1500:]}")
