"""python -m eval's table: every command imports, says what it does in one line and has a main(argv)."""
import importlib

import pytest

from eval.__main__ import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_imports_with_a_one_line_help_and_a_main(name):
    module = importlib.import_module(COMMANDS[name])
    assert module.__name__.startswith("eval.commands.")
    assert isinstance(module.HELP, str) and module.HELP.strip() and "\n" not in module.HELP
    assert callable(module.main)


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m eval COMMAND") and all(f"  {name}" in out for name in COMMANDS)


def test_an_unknown_command_is_named_with_the_nearest_one(capsys):
    assert main(["reprot"]) == 2
    assert "no command 'reprot' (did you mean report?)" in capsys.readouterr().err
