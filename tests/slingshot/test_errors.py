"""UserError and the cli wrapper: a user's mistake is `error: ...` and exit 2; argparse number types."""
import argparse
import math

import pytest

from slingshot.errors import DataError, UserError, cli, finite_number, whole_number


def test_cli_turns_user_errors_and_missing_files_into_exit_2(capsys):
    @cli
    def main(argv=None):
        """Doc kept."""
        if argv == ["user"]:
            raise DataError("data/x.jsonl:3: not JSON")
        if argv == ["file"]:
            raise FileNotFoundError("no such file: recipe.yml")
        if argv == ["bug"]:
            raise KeyError("a bug, not the user's")
        return None

    assert main([]) == 0
    assert main(["user"]) == 2 and capsys.readouterr().err == "error: data/x.jsonl:3: not JSON\n"
    assert main(["file"]) == 2 and "error: no such file: recipe.yml" in capsys.readouterr().err
    with pytest.raises(KeyError):
        main(["bug"])
    assert main.__doc__ == "Doc kept." and main.__wrapped__([]) is None
    assert issubclass(DataError, UserError) and issubclass(UserError, ValueError)


def test_an_interrupt_exits_130_saying_how_to_resume(capsys):
    @cli
    def main(argv=None):
        raise KeyboardInterrupt

    assert main([]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err


def test_whole_number_names_its_bounds():
    parse = whole_number(1, 10)
    assert parse("1") == 1 and parse("10") == 10
    for text in ("0", "11", "2.5", "x", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number from 1 to 10"):
            parse(text)
    assert whole_number(0)("12345") == 12345
    with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
        whole_number(0)("-1")


def test_finite_number_refuses_nan_inf_and_the_bound_when_above():
    assert finite_number(0)("0") == 0.0 and finite_number(0)("1e3") == 1000.0
    for text in ("nan", "inf", "-inf", "-0.1", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a finite number >= 0"):
            finite_number(0)(text)
    with pytest.raises(argparse.ArgumentTypeError, match="> 0"):
        finite_number(0, above=True)("0")
    assert math.isclose(finite_number(0, above=True)("0.5"), 0.5)
