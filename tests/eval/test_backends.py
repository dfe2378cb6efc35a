"""The backend registry: every module registers its class by spec prefix; specs, options and costs are asked of
the class that owns them."""
import pytest

from eval.backends import (MODULES, Backend, backend_for_meta, check_options, cost_for_run, parse_model_spec, registry,
                           run_backends, spec_forms)
from slingshot.errors import UserError


def test_every_module_registers_one_class_with_its_declarations():
    backends = registry()
    assert len(backends) == len(MODULES)
    for prefix, cls in backends.items():
        assert cls.PREFIX == prefix and cls.NAME and cls.SPEC and issubclass(cls, Backend)
    assert {b.PREFIX for b in run_backends()} == {"hf", "openai"}


def test_specs_parse_to_their_class_and_a_wrong_one_lists_the_forms():
    cls, name = parse_model_spec("hf:models/smollm2-135m-instruct")
    assert cls.PREFIX == "hf" and name == "models/smollm2-135m-instruct"
    assert parse_model_spec("openai:gpt-4o:mini")[1] == "gpt-4o:mini"
    for wrong in ("gpt-4o", "hf:", "gguf:x.gguf", "nope:x"):
        with pytest.raises(UserError, match=f"unknown model spec {wrong!r}: use ") as refused:
            parse_model_spec(wrong)
        assert "hf:<folder or hub id>" in str(refused.value) and "openai:<model name>" in str(refused.value)
        assert "gguf:<" not in str(refused.value)  # made by `eval exports`, not by `eval run`
    assert spec_forms([registry()["hf"]]) == "hf:<folder or hub id>"


def test_options_that_do_not_apply_to_a_backend_are_refused():
    assert check_options("hf:m", ["adapter", "batch_size"]).PREFIX == "hf"
    with pytest.raises(UserError, match="--adapter applies to hf: models only, not to openai: models"):
        check_options("openai:gpt-4o-mini", ["adapter"])
    with pytest.raises(UserError, match="--made-up applies to no models only"):
        check_options("hf:m", ["made_up"])


def test_a_run_is_priced_by_the_backend_that_wrote_it():
    assert backend_for_meta({"backend": "hf"}).PREFIX == "hf"
    assert backend_for_meta({"backend": "something old"}) is Backend
    meta = {"backend": "hf", "usd_per_hour": 3.6, "wall_s": 100}
    assert cost_for_run(meta, [{"tokens_in": 1, "tokens_out": 1}], {})["usd_total"] == pytest.approx(0.1)
    recorded = cost_for_run({"backend": "leaderboard", "n_samples": 4}, [], {})
    assert recorded["usd_total"] is None and "recorded no cost" in recorded["note"]
