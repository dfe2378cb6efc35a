"""What every backend is: defaults priced by the hour, one Generation per answer, registration by prefix."""
from eval.backends.base import BACKENDS, Backend, Generation, register


def test_register_files_a_class_by_its_prefix():
    saved = dict(BACKENDS)
    try:
        @register
        class MadeUp(Backend):
            PREFIX, NAME, SPEC = "made-up", "made up", "<x>"

        assert BACKENDS["made-up"] is MadeUp
    finally:
        BACKENDS.clear()
        BACKENDS.update(saved)
    assert "made-up" not in BACKENDS


def test_the_defaults_fit_a_model_paid_by_the_hour():
    meta = {"usd_per_hour": 1.8, "wall_s": 20.0}
    cost = Backend.cost(meta, [{"tokens_in": 10, "tokens_out": 2, "latency_s": 0.1}] * 4, {})
    assert cost["basis"] == "wall time" and cost["usd_per_1k_answers"] == 2.5
    assert Backend.report_fields(meta) == {} and Backend.report_lines({}) == []
    assert Backend.BUILT_BY_RUN and not Backend.SERVABLE and Backend.RECORDED_SCORING is None
    answer = Generation("text", None, 3, 0.5)
    assert (answer.text, answer.tokens_in, answer.tokens_out, answer.latency_s) == ("text", None, 3, 0.5)
