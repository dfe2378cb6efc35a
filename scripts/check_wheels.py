"""Does every pinned package have a binary wheel for a Python version? (no install; metadata only)

    python scripts/check_wheels.py 3.12 [3.13 ...]

For each version, pip resolves every pin of requirements/locks/cuda13.txt (the largest lock: the
GPU extras and the CUDA runtime wheels too) with --only-binary=:all: for that interpreter on manylinux
x86-64 (glibc 2.35 or older), in a dry run. A pin without such a wheel is removed and the run
repeated, so one pass lists them all. Pure-Python source-only pins (deepspeed, a few small
ones) build anywhere and are expected in that list.
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slingshot import locks  # noqa: E402
# glibc 2.35 and older (Ubuntu 22.04, Colab): an explicit --platform is matched exactly, so name them all.
PLATFORMS = [arg for tag in ["manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64",
                             *[f"manylinux_2_{minor}_x86_64" for minor in range(5, 36)], "linux_x86_64"]
             for arg in ("--platform", tag)]


def pins():
    return [f"{name}=={version}" for name, version in locks.pins("cuda13").items()]


def missing_wheels(version, requirements):
    """Pins for which pip finds no wheel for this Python version."""
    todo, missing = list(requirements), []
    while todo:
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp) / "pins.txt"
            req.write_text("\n".join(todo) + "\n")
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
                 "--only-binary=:all:", "--python-version", version, "--implementation", "cp",
                 *PLATFORMS, "--target", str(Path(tmp) / "t"),
                 "--disable-pip-version-check", "-r", str(req)],
                capture_output=True, text=True)
        if proc.returncode == 0:
            return missing
        found = re.search(r"satisfies the requirement (\S+)", proc.stderr)
        if not found:
            raise SystemExit(f"pip failed for Python {version}:\n{proc.stderr[-2000:]}")
        pin = found.group(1)
        missing.append(pin)
        todo = [t for t in todo if t.lower() != pin.lower()]
    return missing


def main():
    versions = sys.argv[1:] or ["3.10", "3.11", "3.12", "3.13"]
    requirements = pins()
    failed = False
    for version in versions:
        missing = missing_wheels(version, requirements)
        print(f"Python {version}: {len(requirements) - len(missing)}/{len(requirements)} pins have a wheel; "
              f"no wheel: {', '.join(missing) or 'none'}", flush=True)
        failed |= bool(missing)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
