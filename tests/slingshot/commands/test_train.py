"""`python -m slingshot train` as a user types it: an unprepared recipe is an error naming the step to run."""
from slingshot.commands.train import main
from tests.helpers import run_module, write_recipe


def test_an_unprepared_recipe_is_an_error_naming_make_prepare(tmp_path, capsys):
    path = write_recipe(tmp_path)
    assert main([str(path)]) == 2
    error = capsys.readouterr().err
    assert "no prepared data" in error and "make prepare" in error
    result = run_module("slingshot", "train", "--help", check=True)
    assert "--gpus" in result.stdout and "python -m slingshot train" in result.stdout
