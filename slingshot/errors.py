"""One error type for users' mistakes, and the one wrapper every command's main() goes through.

Library code raises UserError (or a subclass) with a message that names the file, line, key or
option and the fix; only `cli` turns it into `error: ...` on stderr and exit status 2. Number
options are checked by argparse types (whole_number, finite_number), so a bad value is a usage error.
"""
import argparse
import math
import sys


class UserError(ValueError):
    """Bad input from the user: a recipe, a data file, an option. The message says what to change."""


def cli(main):
    """Run `main(argv)` and turn a UserError (or a missing file) into `error: ...`, exit 2."""
    def wrapped(argv=None):
        try:
            return main(argv) or 0
        except (UserError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: what was finished is kept; run the same command again to resume", file=sys.stderr)
            return 130
    wrapped.__doc__ = main.__doc__
    wrapped.__wrapped__ = main
    return wrapped


class DataError(UserError):
    """A data source or data parameter is wrong; the message names the file or the recipe key."""


def whole_number(minimum, maximum=None):
    """An argparse type: an integer from `minimum` (to `maximum`), else a usage error naming the bound."""
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number {bounds}")
        return value
    return parse


def finite_number(minimum, above=False):
    """An argparse type: a finite number >= `minimum` (> it with above=True); nan and inf are refused."""
    bounds = f"{'>' if above else '>='} {minimum:g}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number {bounds}")
        return value
    return parse
