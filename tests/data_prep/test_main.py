"""python -m data_prep, in process: a recipe's data built, and usage errors as exit 2."""
import pytest

from data_prep.__main__ import main
from tests.helpers import ROOT, write_recipe

DATES = ROOT / "recipes" / "dates" / "smollm2-135m" / "lora-cpu.yml"


def test_builds_a_recipe_and_then_finds_it_up_to_date(tmp_path, capsys):
    recipe = write_recipe(tmp_path, base=DATES, edit=lambda c: c["slingshot"].update(train_size=4, validation_size=2))
    assert main([str(recipe)]) == 0 and "wrote train 4, validation 2" in capsys.readouterr().out
    assert main([str(recipe)]) == 0 and "up to date" in capsys.readouterr().out
    assert main([str(recipe), "--force"]) == 0 and "wrote train 4" in capsys.readouterr().out


def test_a_missing_recipe_or_none_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "none.yml")]) == 2 and "none.yml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2
