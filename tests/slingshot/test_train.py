"""How a training is launched (one process, torchrun on N GPUs or nodes, CPU ranks through the command
layer), and runs resume only themselves: a killed training resumes from its own checkpoint; a training
whose recipe, data or base model changed starts fresh, its old checkpoints moved aside and never reused.
Real Axolotl on a tiny random-initialized Llama stand-in, a real SIGKILL of the whole process group."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from data_prep.__main__ import main as prepare
from slingshot.commands.train import main as train
from slingshot.layout import ROOT, display_path
from slingshot.train import launch_command, recipe_gpus
from tests.helpers import write_recipe

MAX_STEPS = 8  # the kill waits for checkpoint-3: five more steps, each saved, before the run could end


def test_launch_commands_for_one_gpu_n_gpus_and_several_nodes(monkeypatch):
    from slingshot.recipe import load_recipe

    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml")
    assert launch_command(recipe)[-2:] == ["train", str(recipe.paths["run"] / "axolotl.yml")]
    four = launch_command(recipe, gpus=4)
    assert four[four.index("--launcher") + 1] == "torchrun"
    assert four[four.index("--nproc_per_node") + 1] == "4" and four[four.index("--nnodes") + 1] == "1"
    nodes = launch_command(recipe, gpus=8, nodes=2, node_rank=1, head="10.0.0.1:29500")
    tail = " ".join(nodes[nodes.index("--"):])
    assert "--nnodes 2 --nproc_per_node 8 --node_rank 1 --rdzv_backend c10d --rdzv_endpoint 10.0.0.1:29500" in tail
    cpu = launch_command(recipe, gpus=2, cpu=True)
    assert Path(cpu[0]).name == "torchrun" and cpu[-4:] == ["-m", "slingshot", "cpu-rank", four[4]]
    assert "--nproc_per_node" in cpu and "--launcher" not in cpu
    monkeypatch.setenv("GPUS", "3")
    assert recipe_gpus(recipe) == 3
    monkeypatch.setenv("GPUS", "two")
    with pytest.raises(ValueError, match="GPUS='two'"):
        recipe_gpus(recipe)


def recipe_on_stand_in(tmp_path, **changes):
    from slingshot.stand_in import build_stand_in
    stand_in = build_stand_in("meta-llama/Llama-3.1-8B")

    def edit(config):
        config.update(base_model=display_path(stand_in), chat_template="llama3",
                      special_tokens={"pad_token": "<|end_of_text|>"}, eot_tokens=["<|eot_id|>"],
                      max_steps=MAX_STEPS, save_strategy="steps", save_steps=1, auto_resume_from_checkpoints=True,
                      eval_strategy="no", micro_batch_size=2, gradient_accumulation_steps=1, warmup_steps=0, **changes)
        config.pop("evals_per_epoch", None)
        config["slingshot"].update(train_size=16, validation_size=4)
    return write_recipe(tmp_path, edit=edit)


def steps_trained(run):
    return json.loads((run / "train_summary.json").read_text())["steps"]


def train_here(path, capsys):
    """`python -m slingshot train PATH` in this process (Axolotl still trains in processes of its own): what
    it printed."""
    code = train([str(path)])
    out, err = capsys.readouterr()
    assert code == 0, out[-3000:] + err[-3000:]
    return out


@pytest.mark.slow
def test_a_killed_run_resumes_and_a_changed_run_starts_fresh(model_dir, tmp_path, capsys):
    path = recipe_on_stand_in(tmp_path)
    assert prepare([str(path)]) == 0
    run = tmp_path / "run"

    training = subprocess.Popen([sys.executable, "-m", "slingshot", "train", str(path)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600
    while not (run / "checkpoint-3" / "trainer_state.json").exists():
        assert training.poll() is None, training.stdout.read().decode()[-3000:]
        assert time.time() < deadline, "no checkpoint-3 within 10 minutes"
        time.sleep(0.05)
    os.killpg(training.pid, signal.SIGKILL)
    training.wait()
    assert not (run / "train_summary.json").exists()
    complete = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*") if (p / "trainer_state.json").exists())
    assert complete and complete[-1] < MAX_STEPS

    resumed = train_here(path, capsys)
    assert f"resuming this training from checkpoint-{complete[-1]}" in resumed
    assert f"resume from checkpoint at {run}/checkpoint-{complete[-1]}" in (run / "train.log").read_text()
    state = json.loads((run / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
    assert steps_trained(run) == MAX_STEPS - complete[-1]  # only the steps after the checkpoint ran
    first_logged_step = min(entry["step"] for entry in state["log_history"] if "loss" in entry)
    assert first_logged_step == 1  # the history carried over from the killed run's checkpoint

    # the recipe changes (learning rate): nothing of the old run may be resumed
    config = yaml.safe_load(path.read_text())
    config["learning_rate"] = config["learning_rate"] / 2
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    fresh = train_here(path, capsys)
    assert "training starts fresh" in fresh and "resuming" not in fresh
    assert steps_trained(run) == MAX_STEPS
    superseded = list((run / "superseded").iterdir())
    assert any((folder / f"checkpoint-{MAX_STEPS}").exists() for folder in superseded)
    assert "auto-resume functionality" not in (run / "train.log").read_text()

    # an unchanged, finished run is not trained again
    assert "already trained" in train_here(path, capsys)
