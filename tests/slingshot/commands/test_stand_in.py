"""python -m slingshot stand-in, in process, on what it refuses before building anything (builds:
tests/slingshot/test_stand_in.py)."""
import pytest

from slingshot.commands.stand_in import main


def test_a_model_with_no_carried_config_exits_2(capsys):
    assert main(["nobody/no-such-model"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_an_unknown_shape_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["HuggingFaceTB/SmolLM2-135M-Instruct", "--shape", "huge"])
    assert stop.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err
