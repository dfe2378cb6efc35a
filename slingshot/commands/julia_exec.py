"""python -m slingshot julia-exec SPEC_JSON -- CMD...: the first process inside a Julia sample's
sandbox (started by slingshot.metrics.julia.process in new namespaces, never typed by hand). It
builds the sandbox from inside (slingshot.metrics.julia.jail) and execs CMD in it."""
import argparse
import json

from slingshot.errors import UserError, cli
from slingshot.metrics.julia.jail import exec_sample

HELP = "the first process in a Julia sample's sandbox (the scorer starts it; not for typing)"
# What slingshot.metrics.julia.process.exec_spec writes.
SPEC_KEYS = ("workdir", "memory", "namespaces", "drop", "disk", "shm", "host_ipc", "cgroups", "env", "julia_root")


def read_spec(text):
    """The spec as a dict; one that is not JSON, not an object or short of a key is an error naming why."""
    try:
        spec = json.loads(text)
    except RecursionError:
        raise UserError("julia-exec: the spec is nested too deeply to read") from None
    except ValueError as e:  # not JSON, or a number past 4,300 digits
        raise UserError(f"julia-exec: the spec is not JSON ({str(e)[:200]})") from None
    if not isinstance(spec, dict):
        raise UserError(f"julia-exec: the spec must be a JSON object, got {type(spec).__name__}")
    missing = [key for key in SPEC_KEYS if key not in spec]
    if missing:
        raise UserError(f"julia-exec: the spec lacks {', '.join(missing)}")
    return spec


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m slingshot julia-exec", description=HELP)
    parser.add_argument("spec", help="JSON: workdir, limits, namespaces, cgroups, environment")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command to exec")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise UserError("julia-exec: no command after --")
    exec_sample(read_spec(args.spec), cmd)


if __name__ == "__main__":
    raise SystemExit(main())
