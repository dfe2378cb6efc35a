"""python -m slingshot's table: every command imports, says what it does in one line and has a main(argv)."""
import importlib

import pytest

from slingshot.__main__ import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_imports_with_a_one_line_help_and_a_main(name):
    module = importlib.import_module(COMMANDS[name])
    assert module.__name__.startswith("slingshot.commands.")
    assert isinstance(module.HELP, str) and module.HELP.strip() and "\n" not in module.HELP
    assert callable(module.main)


def test_help_lists_every_command_with_its_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, module in COMMANDS.items():
        assert f"  {name}" in out and importlib.import_module(module).HELP in out


def test_an_unknown_command_is_named_with_the_nearest_one(capsys):
    assert main(["plann"]) == 2
    err = capsys.readouterr().err
    assert "no command 'plann'" in err and "did you mean plan?" in err
