"""One pass of a sample, without Julia: the job files and command each process gets, and the relay between
the checker and the answer's process, driven by endpoints that hand out frames as the processes would
write them. A process that never starts is the scorer's failure, never the answer's score."""
import time

import pytest

from slingshot.metrics.julia import relay, sandbox
from slingshot.metrics.julia.process import TooLarge
from slingshot.metrics.julia.rules import job_source
from slingshot.metrics.julia.sample_run import SampleRun


class Endpoint:
    """A process's side of the pipe: `receive` hands out the frames given (raising any exception among
    them) and `send` keeps what was sent."""

    def __init__(self, *frames):
        self.frames, self.sent = list(frames), []

    def receive(self, until, drop_large=False):
        frame = self.frames.pop(0)
        if isinstance(frame, Exception):
            raise frame
        return frame

    def send(self, data, until):
        self.sent.append(data)


@pytest.fixture
def stand_in_julia(tmp_path, monkeypatch):
    """An executable file where julia would be (nothing here runs it)."""
    path = tmp_path / "bin" / "julia"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)
    monkeypatch.setenv("SLINGSHOT_JULIA", str(path))
    relay.julia_executable.cache_clear()
    yield str(path)
    relay.julia_executable.cache_clear()


def test_each_process_gets_its_job_files_and_command(tmp_path, stand_in_julia):
    job = {"name": "f", "blocks": ["f() = 1"], "quote_code": False}
    checker, driver = tmp_path / "checker", tmp_path / "driver"
    checker.mkdir()
    driver.mkdir()
    jobdir = sandbox.sample_paths(str(checker))[0]
    assert relay.prepare(str(checker), "checker.jl", job) == [
        stand_in_julia, "--startup-file=no", "--history-file=no", "--compile=min",
        f"{jobdir}/checker.jl", f"{jobdir}/wire.jl", f"{jobdir}/job.jl"]
    assert sorted(p.name for p in checker.iterdir()) == ["checker.jl", "job.jl", "wire.jl"]
    assert (checker / "job.jl").read_text() == job_source(job)
    assert (checker / "wire.jl").read_bytes() == (relay.HERE / "wire.jl").read_bytes()
    assert "--compile=min" not in relay.prepare(str(driver), "driver.jl", job)  # the answer's code is compiled


def fresh_run():
    run = SampleRun(n_examples=1, n_tests=1)
    run.begin("main")
    return run


def test_loading_reads_the_answers_frames_until_its_names():
    run = fresh_run()
    answer = Endpoint(b"READY", b"P main 1", b"E main 1 1", b"L add_one helper")
    far = time.monotonic() + 60
    assert relay._load(run, answer, far, 5, far) == "add_one helper"
    assert run.loaded and run.attempts == {"main": (True, True)} and not answer.frames

    forged = fresh_run()
    assert relay._load(forged, Endpoint(TooLarge("a 9 MB frame")), far, 5, far) is None
    assert forged.forged == "forged or garbled driver frame (a 9 MB frame)" and forged.final()["score"] == 0.0


def test_the_checkers_calls_are_relayed_and_its_verdicts_recorded():
    run = fresh_run()
    far = time.monotonic() + 60
    assert relay._load(run, Endpoint(b"READY", b"P main 1", b"E main 1 1", b"L add_one"), far, 5, far) == "add_one"
    answer = Endpoint(b"2", TooLarge("reply over the limit"))
    checker = Endpoint(b"READY", b"Cadd_one(1)", b"X example 1 1", b"M a note", b"Cadd_one(2)", b"X test 1 0",
                       b"DONE")
    relay._check(run, answer, checker, "add_one", far, 5, far)
    assert answer.sent == [b"add_one(1)", b"add_one(2)"]  # the call, without its C
    assert checker.sent == [b"Badd_one", b"V2", b"!"]  # names, then each reply (or ! for one too large)
    assert run.done and run.examples == {1: True} and run.tests == {1: False}
    assert run.errors == ["a note", "('test', 1): reply over the limit"]
    assert run.final()["score"] == 75.0  # parsed, executed, the example ran, the test failed


@pytest.mark.parametrize("frames, message", [
    ([b"hello"], "the checker started with b'hello'"),
    ([b"READY", b"Zzz"], "the checker wrote b'Zzz'"),
])
def test_a_checker_that_breaks_the_protocol_is_the_scorers_failure(frames, message):
    far = time.monotonic() + 60
    with pytest.raises(sandbox.ScorerFailure, match=message):
        relay._check(fresh_run(), Endpoint(), Endpoint(*frames), "f", far, 5, far)


def test_a_process_that_never_started_fails_the_scorer_with_its_stderr(tmp_path, stand_in_julia):
    (tmp_path / ".stderr").write_text("ERROR: could not load library\n")
    run = fresh_run()
    relay._require_started(run, "deadline", str(tmp_path), str(tmp_path))  # out of time: the answer's doing
    with pytest.raises(sandbox.ScorerFailure) as error:
        relay._require_started(run, "broken", str(tmp_path), str(tmp_path))
    assert str(error.value).startswith(f"the Julia driver did not start (broken); julia {stand_in_julia}; ")
    assert str(error.value).endswith("Its stderr ends with:\nERROR: could not load library\n")
    run.ever_ready = run.loaded = True
    with pytest.raises(sandbox.ScorerFailure, match="the Julia checker did not start"):
        relay._require_started(run, "step_timeout", str(tmp_path), str(tmp_path))
