"""One error type for users' mistakes, and the one wrapper every command's main() goes through.

Library code raises UserError (or a subclass) with a message that names the file, line, key or
option and the fix; only `cli` turns it into `error: ...` on stderr and exit status 2.
"""
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
