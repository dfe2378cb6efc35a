"""Data-parallel training through torchrun, on the CPU: two processes talking over gloo."""
import json
from pathlib import Path

import pytest

from tests.conftest import run_module, write_recipe


def small_recipe(folder):
    def edit(config):
        config["slingshot"].update(train_size=8, validation_size=4)
        config.update(micro_batch_size=1, gradient_accumulation_steps=1, num_epochs=1, warmup_steps=0,
                      sequence_len=512, evals_per_epoch=None, logging_steps=1)
        config.pop("evals_per_epoch")
    return write_recipe(folder, edit=edit)


@pytest.mark.slow
def test_two_processes_train_the_default_recipe_each_on_half_the_data(tmp_path, model_dir):
    path = small_recipe(tmp_path)
    run_module("data_prep", path, check=True)
    result = run_module("slingshot.train", "--gpus", "2", path, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (tmp_path / "run" / "train.log").read_text()
    assert "torchrun" in result.stdout and "--nproc_per_node 2" in result.stdout
    assert "-m slingshot.cpu_rank" in result.stdout  # no GPU: each rank answers Axolotl's P2P probe itself
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["processes"] == 2
    # 8 rows, micro batch 1, no accumulation: one process takes 8 steps; two take 4, each on 4 rows
    assert summary["steps"] == 4, summary
    assert summary["final_train_loss"] > 0
    assert '"world_size": 2' in log and '"ddp": true' in log, log[-2000:]  # Axolotl's resolved config
    assert (tmp_path / "run" / "adapter_model.safetensors").exists()


def test_launch_commands_for_one_gpu_n_gpus_and_several_nodes(monkeypatch):
    from slingshot import ROOT
    from slingshot.recipe import load_recipe
    from slingshot.train import launch_command, recipe_gpus

    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml")
    assert launch_command(recipe)[-2:] == ["train", str(recipe.paths["run"] / "axolotl.yml")]
    four = launch_command(recipe, gpus=4)
    assert four[four.index("--launcher") + 1] == "torchrun"
    assert four[four.index("--nproc_per_node") + 1] == "4" and four[four.index("--nnodes") + 1] == "1"
    nodes = launch_command(recipe, gpus=8, nodes=2, node_rank=1, head="10.0.0.1:29500")
    tail = " ".join(nodes[nodes.index("--"):])
    assert "--nnodes 2 --nproc_per_node 8 --node_rank 1 --rdzv_backend c10d --rdzv_endpoint 10.0.0.1:29500" in tail
    cpu = launch_command(recipe, gpus=2, cpu=True)
    assert Path(cpu[0]).name == "torchrun" and cpu[-3:] == ["-m", "slingshot.cpu_rank", four[4]]
    assert "--nproc_per_node" in cpu and "--launcher" not in cpu
    monkeypatch.setenv("GPUS", "3")
    assert recipe_gpus(recipe) == 3
    monkeypatch.setenv("GPUS", "two")
    with pytest.raises(ValueError, match="GPUS='two'"):
        recipe_gpus(recipe)


def test_gpu_measurements_sit_beside_the_prediction():
    from slingshot import ROOT
    from slingshot.recipe import load_recipe
    from slingshot.train import gpu_measurements, parse_log

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
