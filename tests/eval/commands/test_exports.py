"""python -m eval exports, in process, on what it refuses before serving anything."""
import pytest

from eval.commands.exports import main


def test_a_missing_recipe_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "none.yml")]) == 2
    assert "none.yml" in capsys.readouterr().err


def test_help_names_the_drop_limit(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0 and "--max-drop" in capsys.readouterr().out
