"""`python -m slingshot train` as a user types it: an unprepared recipe is an error naming the step to run."""
import pytest

from slingshot.__main__ import main as slingshot
from slingshot.commands.train import main
from tests.helpers import write_recipe


def test_an_unprepared_recipe_is_an_error_naming_make_prepare(tmp_path, capsys):
    path = write_recipe(tmp_path)
    assert main([str(path)]) == 2
    error = capsys.readouterr().err
    assert "no prepared data" in error and "make prepare" in error
    with pytest.raises(SystemExit) as stop:
        slingshot(["train", "--help"])  # through the dispatcher `python -m slingshot` runs, in this process
    usage = capsys.readouterr().out
    assert stop.value.code == 0 and "--gpus" in usage and "python -m slingshot train" in usage
