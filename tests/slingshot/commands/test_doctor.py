"""python -m slingshot doctor, in process, on its usage errors (the checks themselves:
tests/slingshot/test_doctor.py)."""
import pytest

from slingshot.commands.doctor import main


def test_a_missing_or_broken_recipe_exits_2_naming_it(tmp_path, capsys):
    assert main([str(tmp_path / "none.yml")]) == 2
    assert "none.yml" in capsys.readouterr().err
    bad = tmp_path / "bad.yml"
    bad.write_text("- a list, not a recipe\n")
    assert main([str(bad)]) == 2 and capsys.readouterr().err.startswith("error: ")


def test_the_recipe_is_required(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2 and "recipe" in capsys.readouterr().err
