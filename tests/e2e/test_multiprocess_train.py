"""Data-parallel training through torchrun, on the CPU: two processes talking over gloo."""
import json

import pytest

from tests.helpers import run_module, write_recipe


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
    result = run_module("slingshot", "train", "--gpus", "2", path, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (tmp_path / "run" / "train.log").read_text()
    assert "torchrun" in result.stdout and "--nproc_per_node 2" in result.stdout
    assert "-m slingshot cpu-rank" in result.stdout  # no GPU: each rank answers Axolotl's P2P probe itself
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["processes"] == 2
    # 8 rows, micro batch 1, no accumulation: one process takes 8 steps; two take 4, each on 4 rows
    assert summary["steps"] == 4, summary
    assert summary["final_train_loss"] > 0
    assert '"world_size": 2' in log and '"ddp": true' in log, log[-2000:]  # Axolotl's resolved config
    assert (tmp_path / "run" / "adapter_model.safetensors").exists()
