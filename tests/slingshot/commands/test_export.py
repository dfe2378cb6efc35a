"""python -m slingshot export, in process, on what it refuses before merging anything."""
import pytest

from slingshot.commands.export import main
from tests.helpers import write_recipe


def test_unknown_types_and_an_untrained_recipe_exit_2(tmp_path, capsys):
    recipe = write_recipe(tmp_path)
    assert main([str(recipe), "--types", "Q9_X"]) == 2
    assert "--types Q9_X: unknown" in capsys.readouterr().err
    assert main([str(recipe), "--types", " , "]) == 2
    assert "names no GGUF type" in capsys.readouterr().err
    assert main([str(recipe)]) == 2
    assert "holds no trained adapter" in capsys.readouterr().err


def test_help_lists_the_types(capsys):
    from slingshot.export import ALL_TYPES
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(t in out for t in ALL_TYPES)
