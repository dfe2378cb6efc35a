"""GPU memory beside the planner's prediction: what a GPU training's log and NVML say, and nothing on a CPU run."""
from slingshot.gpu_memory import GpuMemoryMonitor, gpu_measurements
from slingshot.layout import ROOT
from slingshot.train_log import parse_log


def test_gpu_measurements_sit_beside_the_prediction():
    from slingshot.recipe import load_recipe

    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml")
    cpu_log = "{'loss': '5.7', 'memory/max_allocated (GiB)': '0', 'tokens/train_per_sec_per_gpu': '0.05'}"
    assert gpu_measurements(recipe, parse_log(cpu_log), None, 1) == {}  # a CPU run records none
    gpu_log = ("{'loss': '1.2', 'memory/max_allocated (GiB)': '17.9', 'tokens/train_per_sec_per_gpu': '2100.5'}\n"
               "{'loss': '1.1', 'memory/max_allocated (GiB)': '18.4', 'tokens/train_per_sec_per_gpu': '2200.5'}")
    measured = gpu_measurements(recipe, parse_log(gpu_log), 21.3, 1)
    assert measured["gpu_max_allocated_gb"] == round(18.4 * 2**30 / 1e9, 2)
    assert measured["trainer_tokens_per_s_per_gpu"] == 2150.5
    assert measured["gpu_peak_memory_used_gb"] == 21.3
    assert 19 < measured["predicted_peak_gpu_memory_gb"] < 22


def test_the_monitor_reads_none_without_an_nvidia_driver_and_a_peak_with_one():
    import shutil

    peak = GpuMemoryMonitor(interval_s=0.01).start().stop()
    assert (peak is None) == (shutil.which("nvidia-smi") is None)
