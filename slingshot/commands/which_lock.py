"""python -m slingshot which-lock: the lock this machine's NVIDIA driver runs (cpu without one); needs no venv,
so `make venv` can ask it before anything is installed."""
import argparse
import sys

from slingshot import locks
from slingshot.errors import UserError, cli

HELP = "print the lock for this machine's NVIDIA driver (cpu without one)"


@cli
def main(argv=None):
    """Prints the lock name for this machine's driver; the reason goes to stderr."""
    argparse.ArgumentParser(prog="python -m slingshot which-lock", description=HELP).parse_args(argv)
    name, why = locks.lock_for_driver(locks.driver_version())
    if name is None:
        raise UserError(why)
    print(f"lock: {why}", file=sys.stderr)
    print(name)
    return 0
