"""python -m slingshot model, in process: it takes no arguments, and a converted model is left as it is."""
import pytest

from slingshot.commands.model import main
from slingshot.layout import ROOT
from slingshot.model import MODEL_DIR, is_ready


def test_arguments_are_refused_and_help_is_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--force"])
    assert exit_.value.code == 2 and "unrecognized arguments: --force" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "convert the embedded model" in capsys.readouterr().out


def test_a_ready_model_is_up_to_date(model_dir, capsys):
    if not is_ready():
        pytest.skip("the embedded model is not converted: run `make model`")
    assert main([]) == 0
    assert capsys.readouterr().out == f"{MODEL_DIR.relative_to(ROOT)}: up to date\n"
