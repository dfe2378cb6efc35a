"""`make doctor RECIPE=...`: before anything is downloaded or paid for, can this machine run the recipe?

Checks Python, the lock this machine's NVIDIA driver runs (slingshot.locks, as `make venv` picks
it) against the torch installed, free GPU memory against the planner's prediction, disk space for
the base model and for an export, the `hf` command and access to the model on the hub (gated models
need the licence accepted and a token), the packages the recipe's settings need, and that every
compiled extension installed was built for this torch. Prints one line per check, with the fix; exits 1 if any check fails.
"""
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

from slingshot.layout import ROOT, resolve
from slingshot.locks import MIN_DRIVER, driver_version, install_command, lock_for_driver

# Every pinned binary wheel exists for these (scripts/check_wheels.py; 3.10 and 3.13 not checked yet).
SUPPORTED_PYTHON = ((3, 11), (3, 12))


def check_python(version=sys.version_info[:2]):
    shown = ".".join(map(str, version))
    if tuple(version) in SUPPORTED_PYTHON:
        return "ok", f"Python {shown}"
    names = ", ".join(".".join(map(str, v)) for v in SUPPORTED_PYTHON)
    return "FAIL", f"Python {shown}: the pinned set has wheels for {names}; make venv PYTHON_FOR_VENV=python3.12"


def gpus():
    """[(name, total bytes, free bytes)] and the driver version, through NVML; ([], None) without one."""
    try:
        import pynvml
        pynvml.nvmlInit()
    except Exception:
        return [], None
    found = []
    for i in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(i)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        name = pynvml.nvmlDeviceGetName(handle)
        found.append((name.decode() if isinstance(name, bytes) else name, memory.total, memory.free))
    driver = pynvml.nvmlSystemGetDriverVersion()
    return found, driver.decode() if isinstance(driver, bytes) else driver


def lock_of_cuda(cuda):
    """The lock a torch build belongs to, by its torch.version.cuda (None: the CPU build); None for a
    CUDA no lock holds."""
    if not cuda:
        return "cpu"
    return {"13": "cuda13", "12": "cuda12"}.get(cuda.split(".")[0])


def check_lock(driver, cuda):
    """The lock this driver runs (None: no nvidia-smi, the CPU lock) against the installed torch's
    torch.version.cuda (None: torch's CPU build)."""
    want, why = lock_for_driver(driver)
    if want is None:
        return "FAIL", why
    named = why if want == "cpu" else f"{why}: the {want} lock"
    build = f"torch's CUDA {cuda} build" if cuda else "torch's CPU build"
    have = lock_of_cuda(cuda)
    if have == want:
        return "ok", f"{named} ({install_command(want)}), which this venv has ({build})"
    if want == "cpu":
        return "warn", f"{named} ({install_command(want)}); this venv has {build}, which runs without a GPU too"
    if have == "cuda12":  # CUDA 12 builds run on the drivers that run CUDA 13
        return "ok", f"{named} ({install_command(want)}); this venv has {build}, which this driver runs too"
    if have == "cpu":
        return "FAIL", f"{named}; this venv has {build}, which leaves the GPU unused: {install_command(want)}"
    need = MIN_DRIVER.get(have)
    needs = f"needs a driver {need[0]}.{need[1]}+" if need else "is in no lock"
    return "FAIL", f"{named}; this venv has {build}, which {needs}: {install_command(want)}"


def check_gpu_memory(recipe, devices):
    from slingshot.plan import estimate, model_config
    per_gpu = min(free for _, _, free in devices) / 1e9
    need = estimate(recipe.config, model_config(recipe.config["base_model"]), gpus=len(devices))["peak_gb"]
    verdict = "ok" if need + 1.0 <= per_gpu else "FAIL"
    hint = "" if verdict == "ok" else "; see `python -m slingshot plan` for what would fit"
    return verdict, f"{per_gpu:.1f} GB free per GPU, the recipe needs ~{need} GB + ~1 GB CUDA context{hint}"


def model_bytes(recipe):
    from slingshot.plan import Shapes, model_config
    return Shapes.from_config(model_config(recipe.config["base_model"])).total_params() * 2  # bf16 checkpoint


def check_disk(recipe):
    if resolve(recipe.config["base_model"]).exists():
        return "ok", "base model is local"
    cache = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")
    probe = cache
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = model_bytes(recipe) * 1.1 + 5e9  # the weights, plus room for data, checkpoints and the adapter
    verdict = "ok" if free >= need else "FAIL"
    return verdict, f"{free / 1e9:.0f} GB free at {cache}, ~{need / 1e9:.0f} GB needed (weights + runs)" + (
        "" if verdict == "ok" else "; set HF_HOME to a larger disk")


def check_hub(recipe):
    base = recipe.config["base_model"]
    if resolve(base).exists():
        return "ok", "base model is local"
    try:
        from huggingface_hub import auth_check
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    except ImportError:
        return "warn", "huggingface_hub too old to check access"
    try:
        auth_check(base)
    except GatedRepoError:
        return "FAIL", (f"{base} is gated: accept its licence on its hub page with your account, then "
                        f"`hf auth login` (or export HF_TOKEN)")
    except RepositoryNotFoundError:
        return "FAIL", f"{base}: no such model, or it is private and this token cannot see it"
    except Exception as e:  # offline, DNS, proxy
        return "FAIL", f"the hub did not answer for {base} ({type(e).__name__}): check the network"
    return "ok", f"{base}: this token can download it"


def check_packages(recipe):
    config = recipe.config
    needs = []
    if config.get("deepspeed"):
        needs.append(("deepspeed", f"in the GPU locks: {install_command('cuda13')}, or LOCK=cuda12 below driver R580"))
    if config.get("attn_implementation") == "xformers":
        needs.append(("xformers", "make venv"))
    if config.get("load_in_4bit") or config.get("load_in_8bit") or "bnb" in str(config.get("optimizer")):
        needs.append(("bitsandbytes", "make venv"))
    missing = [f"{name} ({fix})" for name, fix in needs if importlib.util.find_spec(name) is None]
    if missing:
        return "FAIL", "missing: " + ", ".join(missing)
    return "ok", "packages the recipe's settings use: " + (", ".join(n for n, _ in needs) or "none extra")


def torch_version():
    """The installed torch's version, read from its metadata (importing torch takes seconds)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def extension_builds():
    """[(package, torch version it was built for)] for installed compiled extensions that record it."""
    builds = []
    spec = importlib.util.find_spec("xformers")
    if spec and spec.submodule_search_locations:
        build_info = Path(list(spec.submodule_search_locations)[0]) / "cpp_lib.json"
        try:
            built_for = json.loads(build_info.read_text())["version"]["torch"]
        except (OSError, ValueError, KeyError, TypeError):
            built_for = None
        builds.append(("xformers", built_for if isinstance(built_for, str) else None))
    return builds


def same_torch_release(a, b):
    """2.13.0+cpu and 2.13.0+cu130 are one release (one C++ ABI); 2.10.0 and 2.13.0 are not."""
    return a is not None and b is not None and a.split("+")[0].split(".")[:2] == b.split("+")[0].split(".")[:2]


def uses_extension(recipe, name):
    return name == "xformers" and recipe.config.get("attn_implementation") == "xformers"


def check_extensions(recipe, torch=None, builds=None):
    """Every installed compiled extension was built for this torch; a mismatch fails where the recipe
    uses it (its kernels do not load) and warns otherwise."""
    torch = torch or torch_version()
    builds = extension_builds() if builds is None else builds
    verdict, notes = "ok", []
    for name, built_for in builds:
        if same_torch_release(built_for, torch):
            notes.append(f"{name} built for torch {built_for}")
            continue
        used = uses_extension(recipe, name)
        verdict = "FAIL" if used else ("warn" if verdict == "ok" else verdict)
        if used:
            notes.append(f"{name} was built for torch {built_for or 'unknown'}, this venv has {torch}: its kernels "
                         f"do not load. Use attn_implementation: sdpa (Axolotl keeps packed rows apart, no extra "
                         f"wheel), or install an {name} built for torch {torch.split('+')[0]}")
        else:
            notes.append(f"{name} (installed as Axolotl's dependency) was built for torch {built_for or 'unknown'}, "
                         f"this venv has {torch}: unusable, and this recipe does not use it")
    return verdict, "; ".join(notes) or f"no compiled extension beside torch {torch}"


def check_hf_cli(recipe):
    """The `hf` command (huggingface_hub's CLI; `huggingface-cli login` no longer works) and a token."""
    if resolve(recipe.config["base_model"]).exists():
        return "ok", "base model is local"
    hf = Path(sys.executable).parent / "hf"
    if not hf.exists() and not shutil.which("hf"):
        return "FAIL", "no `hf` command in the venv: make venv (huggingface_hub >= 1.0 ships it)"
    try:
        from huggingface_hub import get_token
        token = get_token()
    except ImportError:
        token = os.environ.get("HF_TOKEN")
    if not token:
        return "warn", "no hub token: `hf auth login` (or export HF_TOKEN=...); gated models such as Llama need one"
    return "ok", "`hf` is installed and a hub token is set (never printed)"


def check_export_room(recipe, free_bytes=None):
    """Disk and memory that `make export` of this recipe would need (a warning: export is optional)."""
    from slingshot.plan import export_needs, model_config
    needs = export_needs(model_config(recipe.config["base_model"]))
    free = shutil.disk_usage(ROOT).free if free_bytes is None else free_bytes
    message = (f"make export needs ~{needs['disk_gb']} GB of disk here ({free / 1e9:.0f} GB free) and "
               f"~{needs['memory_gb']} GB of RAM to merge")
    if free / 1e9 >= needs["disk_gb"]:
        return "ok", message
    return "warn", message + "; export fewer types (make export TYPES=Q4_K_M) or free disk"


def needs_gpu(recipe):
    return not resolve(recipe.config["base_model"]).exists() or bool(recipe.config.get("bf16") not in (False, None))


def guarded(check, *args):
    """A check's (verdict, detail); a UserError inside it (a config the planner cannot read) is a FAIL
    line with its message, so every other check still prints."""
    from slingshot.errors import UserError
    try:
        return check(*args)
    except UserError as e:
        return "FAIL", str(e)


def torch_cuda():
    """(installed, torch.version.cuda): the CUDA the installed torch was built for (None: CPU build)."""
    try:
        import torch
    except ImportError:
        return False, None
    return True, torch.version.cuda


def run_checks(recipe):
    results = [("python", *check_python())]
    devices, nvml_driver = gpus()
    driver = driver_version() or nvml_driver
    installed, cuda = torch_cuda()
    if installed:
        results.append(("lock", *check_lock(driver, cuda)))
    else:
        want, why = lock_for_driver(driver)
        results.append(("lock", "FAIL", f"{why}; torch is not installed: {install_command(want)}" if want else why))
    if devices:
        results.append(("gpu", "ok", ", ".join(f"{n} {t / 1e9:.0f} GB" for n, t, _ in devices)))
        if cuda:
            import torch
            if not torch.cuda.is_available():
                results.append(("torch", "FAIL", "torch sees no GPU although NVML does: CUDA runtime and driver "
                                                 "disagree"))
        results.append(("gpu memory", *guarded(check_gpu_memory, recipe, devices)))
    elif needs_gpu(recipe):
        results.append(("gpu", "FAIL", "no NVIDIA GPU or driver found (nvidia-smi); this recipe needs one. "
                                       "On the CPU use a *-cpu.yml recipe"))
    else:
        results.append(("gpu", "ok", "none needed: a CPU recipe"))
    results.append(("disk", *guarded(check_disk, recipe)))
    results.append(("hf", *check_hf_cli(recipe)))
    results.append(("hub", *check_hub(recipe)))
    results.append(("packages", *check_packages(recipe)))
    results.append(("extensions", *check_extensions(recipe)))
    results.append(("export", *guarded(check_export_room, recipe)))
    return results
