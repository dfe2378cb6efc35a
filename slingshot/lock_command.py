"""The two lock commands behind `python -m slingshot lock` and `python -m slingshot which-lock`."""
import sys

from slingshot import locks
from slingshot.errors import UserError


def which_lock_main():
    """Prints the lock name for this machine's driver; the reason goes to stderr."""
    name, why = locks.lock_for_driver(locks.driver_version())
    if name is None:
        raise UserError(why)
    print(f"lock: {why}", file=sys.stderr)
    print(name)
    return 0


def lock_main(args):
    every = locks.LOCK_NAMES + (locks.MODEL_LOCK,)
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
