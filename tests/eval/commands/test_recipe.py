"""python -m eval recipe, in process, on its usage errors (scoring a recipe: tests/e2e/)."""
import pytest

from eval.commands.recipe import main


def test_a_missing_recipe_and_a_zero_limit_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "none.yml")]) == 2
    assert "none.yml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / "none.yml"), "--limit", "0"])
    assert stop.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err


def test_base_url_scores_every_row_through_the_server_by_its_served_name(monkeypatch):
    import eval.recipe
    from slingshot.recipe import load_recipe
    from tests.helpers import DEFAULT_RECIPE
    seen = {}
    monkeypatch.setattr(eval.recipe, "evaluate_recipe", lambda path, **kw: seen.update(path=path, **kw))
    assert main([str(DEFAULT_RECIPE), "--limit", "3", "--base-url", "http://127.0.0.1:9/v1"]) == 0
    assert seen == {"path": str(DEFAULT_RECIPE), "limit": 3, "out": None, "base_url": "http://127.0.0.1:9/v1",
                    "concurrency": None}
    assert main([str(DEFAULT_RECIPE), "--concurrency", "64"]) == 2  # a local model batches by itself
    recipe = load_recipe(DEFAULT_RECIPE)
    base, tuned = (eval.recipe.row_backend(recipe, adapter, "http://127.0.0.1:9/v1", 64) for adapter in (None, "runs/x"))
    assert tuned.concurrency == 64
    assert (base.model, tuned.model) == ("smollm2-135m-instruct", recipe.name)
    assert base.identity()["base_url"] == "http://127.0.0.1:9/v1" and base.NAME == "openai"
