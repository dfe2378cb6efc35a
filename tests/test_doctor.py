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
