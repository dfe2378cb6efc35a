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
