"""python -m eval serve, in process, on what it refuses before a model is loaded."""
import pytest

from eval.commands.serve import main


def test_only_a_servable_backend_is_served(capsys):
    assert main(["--model", "openai:gpt-4o-mini"]) == 2
    assert "--model 'openai:gpt-4o-mini': only hf:<folder or hub id> models can be served" in capsys.readouterr().err


def test_a_port_out_of_range_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "hf:m", "--port", "70000"])
    assert stop.value.code == 2 and "from 0 to 65535" in capsys.readouterr().err
