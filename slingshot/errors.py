"""One error type for users' mistakes, and the one wrapper every command's main() goes through.

Library code raises UserError (or a subclass) with a message that names the file, line, key or
option and the fix; only `cli` turns it into `error: ...` on stderr and exit status 2. Number
options are checked by argparse types (whole_number, finite_number), so a bad value is a usage error.
"""
import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time

# What a scheduler, timeout(1), a CI cancel, `docker stop` or a closed terminal sends: each stops a command
# the way Ctrl-C does (what is finished is stored, a second signal stops at once).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DUPLICATE_S = 0.5  # a stop this soon after another is the same stop delivered twice
_received = []  # (signal, when) of each stop this process took


class UserError(ValueError):
    """Bad input from the user: a recipe, a data file, an option. The message says what to change."""


def cli(main):
    """Run `main(argv)` and turn a UserError (or a missing file) into `error: ...`, exit 2."""
    def wrapped(argv=None):
        try:
            with stop_signals(_raise_interrupt):
                return main(argv) or 0
        except (UserError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # the reader went away (`... | head`): nothing more to say to it
            sys.stdout = open(os.devnull, "w")
            return 0
        except KeyboardInterrupt:
            print("interrupted: what was finished is kept; run the same command again to resume", file=sys.stderr)
            return 128 + (_received[-1][0] if _received else signal.SIGINT)
    wrapped.__doc__ = main.__doc__
    wrapped.__wrapped__ = main
    return wrapped


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals(handler):
    """While inside, SIGTERM and SIGHUP call `handler(signum, frame)` as Ctrl-C does (and Ctrl-C too, unless
    it is ignored, as in a background job). A stop sent twice at once (timeout(1) signals the process and its
    group) counts once; a second stop later ends the process at once, by that signal's default action. Only
    the main thread can take signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        now = time.monotonic()
        if _received and now - _received[-1][1] < DUPLICATE_S:
            return
        _received.append((signum, now))
        if len(_received) > 1:
            print(f"\nstopped at once ({signal.Signals(signum).name} again)", file=sys.stderr, flush=True)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        handler(signum, frame)

    kept = [s for s in STOP_SIGNALS if s != signal.SIGINT or signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, on_signal) for s in kept}
    try:
        yield
    finally:
        for s, handler_before in previous.items():
            signal.signal(s, handler_before)


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
