"""`make doctor`: the preflight says plainly what is missing before anything is paid for."""
import os

import pytest

from slingshot.commands.doctor import main as doctor
from slingshot.doctor import check_lock, check_python
from slingshot.locks import driver_version
from tests.helpers import ROOT, fake_nvidia_smi

R580, R570, R535, R470 = "580.95.05\n", "570.172.08\n", "535.274.02\n", "470.256.02\n"
GARBAGE = "Failed to initialize NVML: Unknown Error\n"


@pytest.mark.parametrize("printed,cuda,verdict,words", [
    # (what nvidia-smi prints, None: no nvidia-smi; torch.version.cuda, None: CPU build; the line)
    (R580, "13.0", "ok", ["driver 580.95.05 runs CUDA 13", "the cuda13 lock (make venv LOCK=cuda13)", "this venv has"]),
    (R580, "12.6", "ok", ["the cuda13 lock", "CUDA 12.6 build, which this driver runs too"]),
    (R580, None, "FAIL", ["CPU build, which leaves the GPU unused: make venv LOCK=cuda13"]),
    (R570, "12.6", "ok", ["driver 570.172.08 runs CUDA 12", "the cuda12 lock (make venv LOCK=cuda12)"]),
    (R570, "13.0", "FAIL", ["CUDA 13.0 build, which needs a driver 580.65+: make venv LOCK=cuda12"]),
    (R535, "13.0", "FAIL", ["driver 535.274.02 runs CUDA 12", "needs a driver 580.65+: make venv LOCK=cuda12"]),
    (R535, "12.6", "ok", ["the cuda12 lock (make venv LOCK=cuda12), which this venv has"]),
    (R535, "11.8", "FAIL", ["CUDA 11.8 build, which is in no lock: make venv LOCK=cuda12"]),
    (R470, "12.6", "FAIL", ["driver 470.256.02 is too old", "R580 or newer (CUDA 13), or at least R525 (CUDA 12)"]),
    (None, None, "ok", ["no NVIDIA GPU found (nvidia-smi): the CPU lock (make venv LOCK=cpu)"]),
    (None, "13.0", "warn", ["(make venv LOCK=cpu)", "CUDA 13.0 build, which runs without a GPU too"]),
    (GARBAGE, None, "FAIL", ["('Failed to initialize NVML: Unknown Error'), which is not one", "R580"]),
])
def test_the_lock_line_by_driver(tmp_path, monkeypatch, printed, cuda, verdict, words):
    """Which lock the driver runs, the exact command that installs it, and whether this venv's torch
    (by torch.version.cuda) is that lock's: each driver a fake nvidia-smi on the PATH reports."""
    if printed is not None:
        fake_nvidia_smi(tmp_path, printed)
    monkeypatch.setenv("PATH", str(tmp_path))  # only the fake, or no nvidia-smi at all
    got, detail = check_lock(driver_version(), cuda)
    assert got == verdict and all(w in detail for w in words), detail
    assert "TORCH_INDEX" not in detail and "cu128" not in detail and "GPU=1" not in detail


def run_doctor(recipe, capsys, monkeypatch):
    """`python -m slingshot doctor RECIPE` from the repository root, in this process: (exit code, stdout)."""
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    code = doctor([str(recipe)])
    return code, capsys.readouterr().out


def test_doctor_prints_the_lock_line_for_the_driver_it_finds(tmp_path, model_dir, capsys, monkeypatch):
    """The whole preflight with a fake R535 driver on the PATH and this venv's torch: the CPU build
    (no GPU here), so the lock line fails with the command for the CUDA 12 lock."""
    import torch
    if torch.version.cuda:
        pytest.skip("this venv has a CUDA build of torch")
    fake_nvidia_smi(tmp_path, R535)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    code, out = run_doctor("recipes/squad/smollm2-135m/lora-cpu.yml", capsys, monkeypatch)
    lock = [line for line in out.splitlines() if line.split()[1:2] == ["lock"]]
    assert lock and lock[0].startswith("FAIL") and lock[0].endswith("make venv LOCK=cuda12"), out
    assert code == 1 and "not ready: fix lock" in out


def test_python_versions():
    assert check_python((3, 12))[0] == "ok"
    verdict, detail = check_python((3, 9))
    assert verdict == "FAIL" and "3.12" in detail


def test_cpu_recipe_is_ready_here_and_a_gpu_recipe_is_not(model_dir, capsys, monkeypatch):
    code, out = run_doctor("recipes/squad/smollm2-135m/lora-cpu.yml", capsys, monkeypatch)
    assert code == 0 and "ready for" in out, out
    code, out = run_doctor("recipes/squad/llama-3.1-8b/lora.yml", capsys, monkeypatch)
    assert code == 1
    assert "FAIL  gpu" in out and "nvidia-smi" in out
    assert "not ready: fix gpu" in out


def test_compiled_extensions_are_checked_against_this_torch(tmp_path):
    """Reads the installed xformers' own build record (Axolotl installs it): a build for another torch
    release fails a recipe that uses it, with the fix, and only warns for one that does not."""
    from slingshot.doctor import check_extensions, extension_builds, torch_version
    from slingshot.recipe import load_recipe
    from tests.helpers import DEFAULT_RECIPE, write_recipe

    builds = dict(extension_builds())
    assert "xformers" in builds  # Axolotl depends on it on x86-64 Linux
    uses = load_recipe(write_recipe(tmp_path, edit=lambda c: c.update(attn_implementation="xformers")))
    plain = load_recipe(DEFAULT_RECIPE)
    torch = torch_version()
    mismatch = [("xformers", "2.10.0+cu128")]
    verdict, detail = check_extensions(uses, torch=torch, builds=mismatch)
    assert verdict == "FAIL" and "2.10.0+cu128" in detail and "attn_implementation: sdpa" in detail
    assert check_extensions(plain, torch=torch, builds=mismatch)[0] == "warn"
    assert check_extensions(uses, torch="2.13.0+cu130", builds=[("xformers", "2.13.0+cpu")])[0] == "ok"
    assert check_extensions(uses, torch=torch, builds=[("xformers", None)])[0] == "FAIL"  # unreadable record
    # and the real, installed build against the real torch, as `make doctor` runs it
    real = check_extensions(uses)
    expected_ok = builds["xformers"] is not None and builds["xformers"].split(".")[:2] == torch.split(".")[:2]
    assert real[0] == ("ok" if expected_ok else "FAIL"), real


def test_no_shipped_recipe_needs_an_extension_built_for_another_torch():
    from slingshot.doctor import check_extensions
    from slingshot.recipe import load_recipe, shipped_recipes
    for path in shipped_recipes():
        verdict, detail = check_extensions(load_recipe(path))
        assert verdict != "FAIL", (path, detail)


def test_hf_command_and_export_room(tmp_path, monkeypatch):
    from slingshot.doctor import check_export_room, check_hf_cli
    from slingshot.recipe import load_recipe
    from slingshot.layout import ROOT
    gpu_recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored token there
    verdict, detail = check_hf_cli(gpu_recipe)
    assert verdict == "warn" and "hf auth login" in detail
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token_0123456789")
    verdict, detail = check_hf_cli(gpu_recipe)
    assert verdict == "ok" and "hf_not_a_real" not in detail
    assert check_export_room(gpu_recipe, free_bytes=200e9)[0] == "ok"
    verdict, detail = check_export_room(gpu_recipe, free_bytes=20e9)
    assert verdict == "warn" and "TYPES=Q4_K_M" in detail and "GB of RAM" in detail


def test_doctor_names_every_check(model_dir, capsys, monkeypatch):
    _, out = run_doctor("recipes/squad/llama-3.1-8b/lora.yml", capsys, monkeypatch)
    names = [line.split()[1] for line in out.splitlines() if line[:5].strip() in ("ok", "warn", "FAIL")]
    assert {"python", "lock", "gpu", "disk", "hf", "hub", "packages", "extensions", "export"} <= set(names), out
    assert "huggingface-cli" not in out


def test_a_base_model_folder_without_config_is_one_failing_line(tmp_path, capsys, monkeypatch):
    """The rest of the checklist still prints; nothing asks the hub about a local folder."""
    from tests.helpers import write_recipe
    (tmp_path / "nocfg").mkdir()
    path = write_recipe(tmp_path, edit=lambda c: c.update(base_model=str(tmp_path / "nocfg")))
    code, out = run_doctor(path, capsys, monkeypatch)
    assert code == 1
    assert "FAIL  export" in out and "without a config.json" in out
    assert "FAIL  disk" not in out and "packages" in out
