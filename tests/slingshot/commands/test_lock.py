"""python -m slingshot lock, in process, on the paths that need no resolver: names are checked first."""
import pytest

from slingshot import locks
from slingshot.commands.lock import main


def test_an_unknown_lock_is_named_with_the_locks_there_are(capsys):
    assert main(["cuda11"]) == 2
    err = capsys.readouterr().err
    assert "no lock named cuda11" in err and all(name in err for name in locks.LOCK_NAMES)


def test_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "--check" in out and "--torch-wheels" in out
