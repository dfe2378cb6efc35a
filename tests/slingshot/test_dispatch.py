"""The one dispatcher: a command table of real modules, imported only when their command runs or help is asked."""
import sys

import pytest

from slingshot.dispatch import dispatch, usage

DOC = "Made-up commands for the dispatcher."


@pytest.fixture
def commands(tmp_path, monkeypatch):
    package = tmp_path / "madeupcmds"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "echo.py").write_text('HELP = "print the arguments"\n\ndef main(argv):\n    print(" ".join(argv))\n')
    (package / "fail.py").write_text('HELP = "exit 3"\n\ndef main(argv):\n    return 3\n')
    (package / "broken.py").write_text('raise RuntimeError("imported")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield {"echo": "madeupcmds.echo", "fail": "madeupcmds.fail", "broken": "madeupcmds.broken"}
    for name in [m for m in sys.modules if m.startswith("madeupcmds")]:
        del sys.modules[name]


def test_a_command_runs_with_the_rest_of_the_arguments(commands, capsys):
    assert dispatch("prog", DOC, commands, ["echo", "a", "--b"]) == 0
    assert capsys.readouterr().out == "a --b\n"
    assert dispatch("prog", DOC, commands, ["fail"]) == 3


def test_only_the_command_that_runs_is_imported(commands):
    dispatch("prog", DOC, commands, ["fail"])
    assert "madeupcmds.fail" in sys.modules and "madeupcmds.echo" not in sys.modules
    with pytest.raises(RuntimeError, match="imported"):
        dispatch("prog", DOC, commands, ["broken"])


def test_help_on_stdout_and_no_command_on_stderr_with_status_2(commands, capsys):
    small = {k: v for k, v in commands.items() if k != "broken"}
    assert dispatch("prog", DOC, small, ["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: prog COMMAND") and DOC in out and "  echo  print the arguments" in out
    assert dispatch("prog", DOC, small, []) == 2
    assert capsys.readouterr().err.strip() == usage("prog", DOC, small)


def test_an_unknown_command_is_a_usage_error_naming_the_commands(commands, capsys):
    assert dispatch("prog", DOC, commands, ["ech"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: prog: no command 'ech' (did you mean echo?)")
    assert "echo, fail, broken" in err
    assert dispatch("prog", DOC, commands, ["zzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err
