"""python -m eval recipe, in process, on its usage errors (scoring a recipe: tests/e2e/)."""
import pytest

from eval.commands.recipe import main


def test_a_missing_recipe_and_a_zero_limit_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "none.yml")]) == 2
    assert "none.yml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / "none.yml"), "--limit", "0"])
    assert stop.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err
