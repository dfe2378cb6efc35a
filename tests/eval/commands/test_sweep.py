"""python -m eval sweep, in process: its steps in order, and its usage errors (a sweep that trains: tests/e2e/)."""
import pytest

from eval.commands.sweep import STEPS, main


def test_a_cell_is_prepared_trained_and_scored_in_that_order():
    assert [name for name, _ in STEPS] == ["data preparation", "training", "scoring"]
    assert all(callable(step) for _, step in STEPS)


def test_a_missing_recipe_and_a_zero_limit_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "none.yml")]) == 2
    assert "none.yml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / "none.yml"), "--limit", "0"])
    assert stop.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err


def test_through_a_server_every_cell_must_be_trained_and_is_scored_by_its_name(monkeypatch):
    import eval.recipe
    from eval.commands import sweep
    from slingshot.recipe import load_recipe
    from slingshot.sweep import SweepError
    from tests.helpers import DEFAULT_RECIPE
    recipe = load_recipe(DEFAULT_RECIPE)
    with pytest.raises(SweepError, match=r"1 of 1 cells are not trained \(.*\); train them first \(make sweep RECIPE="):
        sweep.check_trained(recipe, [{"recipe": recipe}] if not recipe.paths["adapter"].exists() else [], "http://h/v1")
    sweep.check_trained(recipe, [{"recipe": recipe}], None)  # scored here: the sweep trains them
    seen = []
    monkeypatch.setattr(eval.recipe, "row_backend", lambda r, adapter, base_url, n: seen.append((adapter, base_url, n)))
    class Scored(Exception):
        pass

    def evaluate(backend, *args, **kwargs):
        raise Scored

    monkeypatch.setattr("eval.run.evaluate", evaluate)
    with pytest.raises(Scored):
        sweep.score(recipe, "runs/x", "label", "split.jsonl", 3, "results", "http://h/v1", 32)
    assert seen == [("runs/x", "http://h/v1", 32)]
