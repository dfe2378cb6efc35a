"""The loading protocol of the answer's process and the checker's verdicts (no Julia needed): frames
out of place mark the answer forged; only the next step takes a verdict; the score's arithmetic."""
import pytest

from slingshot.metrics.julia.sample_run import SampleRun, points
from slingshot.metrics.julia.sandbox import ScorerFailure


def _run(start="main", n_examples=2, n_tests=3):
    run = SampleRun(n_examples, n_tests)
    run.begin(start)
    return run


def _feed(run, lines):
    for line in lines:
        run.load_frame(line.encode())
        if run.forged or run.loaded or run.done:
            break
    return run


def test_an_honest_load_is_accepted():
    run = _feed(_run(), ["READY", "P main 1", "M main note", "E main 1 1", "L wrap_string:f"])
    assert run.forged is None and run.loaded and run.attempts == {"main": (True, True)}
    run = _feed(_run(), ["READY", "P main 1", "E main 1 0", "P fallback 1", "E fallback 1 0", "DONE"])
    assert run.forged is None and run.done and not run.loaded


@pytest.mark.parametrize("lines", [
    ["X test 1 1"],                                               # a verdict: never the answer's to write
    ["READY", "P main 1", "E main 1 1", "X test 1 1"],
    ["P main 1"],                                                 # before READY
    ["READY", "L wrap_string:f"],                                 # loaded before the code ran
    ["READY", "P main 1", "E main 1 1", "DONE"],                  # DONE with tests left
    ["READY", "P main 1", "E main 1 1", "E main 1 1"],            # attempt twice
    ["READY", "P main 1", "E main 1 2"],                          # not 0 or 1
    ["READY", "READY"],
    ["READY", "Z 1"],
    ["READY", "P main 1", "E main 0 0", "E fallback 1 1", "R 1"],  # R only after a restart
])
def test_frames_out_of_place_mark_the_answer(lines):
    run = _feed(_run(), lines)
    assert run.forged, lines


def test_a_restart_must_restore_before_it_serves():
    run = _run()
    _feed(run, ["READY", "P main 1", "E main 1 1", "L wrap_string:f"])
    run.examples.update({1: True, 2: False})  # killed in example 2
    run.begin("tests")
    assert _feed(run, ["READY", "P restore 1", "R 1", "L wrap_string:f"]).forged is None and run.loaded
    run.begin("tests")
    assert _feed(run, ["READY", "L wrap_string:f"]).forged  # no R first


def test_only_the_next_step_takes_a_verdict():
    run = _feed(_run(), ["READY", "P main 1", "E main 1 1", "L wrap_string:f"])
    run.verdict("X example 1 1")
    with pytest.raises(ScorerFailure, match="test 1"):
        run.verdict("X test 1 1")
    assert run.examples == {1: True} and run.tests == {}


def test_points_and_the_final_score():
    assert points(True, True, 2, 4, 1, 1) == 87.5
    assert points(True, False, 0, 0, 0, 0) == 50.0  # no tests, no examples: parsed and executed only
    run = _feed(_run(n_examples=1, n_tests=2), ["READY", "P main 1", "E main 1 1", "L wrap_string:f"])
    run.verdict("X example 1 1")
    run.verdict("X test 1 1")
    run.verdict("X test 2 0")
    assert run.final()["score"] == 87.5 and run.final()["unit_tests_passed"] == 1
    run.forged = "forged"
    assert run.final()["score"] == 0.0
