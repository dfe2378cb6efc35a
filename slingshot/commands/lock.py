"""python -m slingshot lock [--check] [NAME ...]: make (or check) requirements/locks/ from requirements/*.in
with uv (slingshot/locks.py; docs/locks.md)."""
import argparse

from slingshot import locks
from slingshot.errors import UserError, cli

HELP = "regenerate requirements/locks/ from requirements/*.in (needs uv); --check compares"


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m slingshot lock", description=HELP)
    parser.add_argument("names", nargs="*", help="locks to make (default: all)")
    parser.add_argument("--check", action="store_true", help="compare the committed locks with the resolver's output")
    parser.add_argument("--uv", default="uv", help="the uv executable")
    parser.add_argument("--torch-wheels", help="where torch's CPU build is found (a find-links folder or URL)")
    args = parser.parse_args(argv)
    every = locks.EVERY_LOCK
    unknown = [n for n in args.names if n not in every]
    if unknown:
        raise UserError(f"no lock named {', '.join(unknown)}; the locks are {', '.join(every)}")
    names = tuple(args.names) or every
    torch_wheels = args.torch_wheels or locks.pip_find_links()  # as the Makefile's TORCH_WHEELS default
    try:
        if args.check:
            return check(args.uv, names, torch_wheels)
        for name, count in locks.write_locks(args.uv, names, torch_wheels):
            print(f"requirements/locks/{name}.txt: {count} packages, published before {locks.lock_date()}")
    except locks.LockError as e:
        raise UserError(str(e)) from None
    return 0


def check(uv, names, torch_wheels):
    failed = False
    for name in names:
        path = locks.lock_path(name)
        if not path.exists():
            print(f"{name}: requirements/locks/{name}.txt is missing; run `make lock`")
            failed = True
            continue
        if locks.lock_date_of(path) != locks.lock_date():
            print(f"{name}: made at {locks.lock_date_of(path)}, but requirements/lock-date.txt says "
                  f"{locks.lock_date()}; run `make lock`")
            failed = True
            continue
        fresh = locks.parse_lock(locks.generate(uv, name, locks.lock_date_of(path), torch_wheels))
        problems = locks.differences(locks.read_lock(path), fresh)
        print(f"{name}: " + ("matches the resolver" if not problems else
                             "differs from the resolver; run `make lock`:\n  " + "\n  ".join(problems)))
        failed |= bool(problems)
    return 1 if failed else 0
