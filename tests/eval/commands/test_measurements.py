"""python -m eval measurements, in process, on its refusals (the --check of every page:
tests/eval/test_measurements.py)."""
import pytest

from eval.commands.measurements import main
from slingshot.layout import ROOT


def test_publishing_a_recipe_with_nothing_run_exits_2(capsys):
    assert main(["--publish", str(ROOT / "recipes/julia/dolphin-2.6-mistral-7b/lora-unseen.yml")]) == 2
    assert "nothing to publish yet" in capsys.readouterr().err


def test_an_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--write"])
    assert stop.value.code == 2 and "unrecognized arguments: --write" in capsys.readouterr().err
