"""`python -m slingshot.train RECIPE`: run real Axolotl on a recipe and keep what it leaves.

The run folder is the recipe's output_dir (runs/<recipe-name>/): the adapter, the recipe
as run, Axolotl's resolved config, train.log, loss.csv, loss.png and train_summary.json
(wall time, peak memory, tokens/s). A finished run whose recipe and data are unchanged is
not trained again. `--smoke` trains a GPU recipe for a few steps on the CPU instead, with
its base model swapped for the embedded one and quantization and DeepSpeed off.
"""
import argparse
import ast
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from slingshot import contamination
from slingshot.errors import UserError, cli
from slingshot.io import atomic_write_json, atomic_write_text, read_jsonl, sha256_file, stable_hash
from slingshot.layout import ADAPTER_FILE, AXOLOTL_CONFIG, ROOT, display_path
from slingshot.recipe import claim_folders, derive_recipe, load_recipe


class TrainingFailed(UserError):
    """Axolotl failed or left no adapter; the message points at train.log."""


def axolotl_env(recipe):
    env = dict(os.environ)
    env.update(AXOLOTL_DO_NOT_TRACK="1", DO_NOT_TRACK="1", TOKENIZERS_PARALLELISM="false")
    env.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))  # else `accelerate launch` pins the CPU to 1 thread
    bin_dir = str(Path(sys.executable).parent)  # `axolotl train` execs `accelerate` from here
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if (ROOT / recipe.config["base_model"]).exists():
        env["HF_HUB_OFFLINE"] = "1"  # a local model needs no hub; avoids retries on a dead network
    return env


def run_fingerprint(recipe):
    manifest = recipe.paths["manifest"]
    if not manifest.exists():
        raise UserError(f"{recipe.path}: no prepared data at {display_path(manifest.parent)}; "
                          f"run `make prepare RECIPE={recipe.path}` first")
    # the recipe as trained: its paths, which follow from its name, included
    return stable_hash({"recipe": recipe.config, "data": sha256_file(manifest)})


def is_trained(recipe, fingerprint):
    summary = recipe.paths["summary"]
    return (summary.exists() and recipe.paths["adapter"].exists()
            and json.loads(summary.read_text()).get("fingerprint") == fingerprint)


def parse_log(text):
    """Loss records from the trainer's log lines: {'loss': ..., 'epoch': ...}."""
    records = []
    for line in text.splitlines():
        match = re.search(r"\{'(?:loss|eval_loss|train_runtime)'.*\}", line)
        if not match:
            continue
        try:
            record = ast.literal_eval(match.group(0))
        except (ValueError, SyntaxError):
            continue
        records.append({k: _number(v) for k, v in record.items()})
    return records


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def write_loss_curve(records, folder):
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_loss" in r]
    with open(folder / "loss.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "epoch", "loss", "eval_loss", "learning_rate"])
        for i, r in enumerate(steps, 1):
            writer.writerow([i, r.get("epoch"), r.get("loss"), "", r.get("learning_rate")])
        for r in evals:
            writer.writerow(["", r.get("epoch"), "", r.get("eval_loss"), ""])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    if steps:
        ax.plot([r["epoch"] for r in steps], [r["loss"] for r in steps], marker=".", label="training loss")
    if evals:
        ax.plot([r["epoch"] for r in evals], [r["eval_loss"] for r in evals], "o--", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(folder.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "loss.png")
    plt.close(fig)


def count_training_tokens(recipe):
    """Tokens the trainer sees in one epoch (prompt and answer), from the prepared JSONL."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ROOT / recipe.config["base_model"]) \
        if (ROOT / recipe.config["base_model"]).exists() else None
    if tokenizer is None:
        return None
    total = 0
    for row in read_jsonl(recipe.paths["train"]):
        total += len(tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=False))
    return total


def axolotl_config(recipe):
    """The recipe as plain Axolotl reads it: paths filled in, the slingshot block left out."""
    return {k: v for k, v in recipe.config.items() if k != "slingshot"}


def train(recipe, force=False):
    claim_folders(recipe)  # before anything is written: fails if another recipe file wrote these folders
    fingerprint = run_fingerprint(recipe)
    overlap = contamination.check_recipe(recipe)
    contamination.enforce(overlap, recipe.block.get("allow_test_contamination", False),
                          recipe.where("slingshot"))
    out = recipe.output_dir
    if not force and is_trained(recipe, fingerprint):
        print(f"{display_path(out)}: already trained on this recipe and data")
        return json.loads(recipe.paths["summary"].read_text())
    prepared = recipe.paths["prepared"]
    if prepared.exists():
        shutil.rmtree(prepared)  # tokenized data from an older version of the files must not be reused
    out.mkdir(parents=True, exist_ok=True)
    recipe.paths["summary"].unlink(missing_ok=True)
    if recipe.path.resolve() != (out / "recipe.yml").resolve():  # derived recipes already live there
        shutil.copyfile(recipe.path, out / "recipe.yml")
    resolved = resolved_config(recipe)
    atomic_write_text(out / "resolved_config.yml", yaml.safe_dump(resolved, sort_keys=True))
    runnable = out / AXOLOTL_CONFIG  # `axolotl train runs/<name>/axolotl.yml` reruns this training
    atomic_write_text(runnable, yaml.safe_dump(axolotl_config(recipe), sort_keys=False))

    command = [sys.executable, "-m", "axolotl.cli.main", "train", str(runnable)]
    print(f"training {recipe.name}: {' '.join(command[2:])} (log: {display_path(out / 'train.log')})")
    started = time.time()
    with open(out / "train.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=axolotl_env(recipe), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            log.write(line)
            if _worth_showing(line):
                sys.stdout.write(line)
                sys.stdout.flush()
        code = process.wait()
    wall = time.time() - started
    if code != 0:
        raise TrainingFailed(f"axolotl train failed with exit code {code}; see {display_path(out / 'train.log')}")
    if not (out / ADAPTER_FILE).exists():
        raise TrainingFailed(f"axolotl finished but left no {ADAPTER_FILE} in {display_path(out)}")
    records = parse_log((out / "train.log").read_text(encoding="utf-8"))
    write_loss_curve(records, out)
    final = next((r for r in reversed(records) if "train_runtime" in r), {})
    tokens = count_training_tokens(recipe)
    epochs = recipe.config.get("num_epochs", 1)
    runtime = final.get("train_runtime")
    summary = {
        "recipe": display_path(recipe.path),
        "fingerprint": fingerprint,
        "wall_s": round(wall, 1),
        "train_runtime_s": runtime,
        "peak_memory_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 2),
        "train_tokens_per_epoch": tokens,
        "tokens_per_s": round(tokens * epochs / runtime, 1) if tokens and runtime else None,
        "final_train_loss": next((r["loss"] for r in reversed(records) if "loss" in r), None),
        "final_eval_loss": next((r["eval_loss"] for r in reversed(records) if "eval_loss" in r), None),
        "steps": sum(1 for r in records if "loss" in r),
        "trainable_parameters": trainable_parameters(out),
        "contamination": contamination.contamination_statement(overlap),
    }
    atomic_write_json(recipe.paths["summary"], summary)
    print(f"trained {recipe.name} in {wall:.0f} s: {summary}")
    return summary


def _worth_showing(line):
    return ("'loss'" in line or "'eval_loss'" in line or "train_runtime" in line or "Error" in line
            or "it/s]" in line or "s/it]" in line)


def trainable_parameters(run_dir):
    from safetensors import safe_open

    with safe_open(run_dir / ADAPTER_FILE, "pt") as f:
        return sum(_prod(f.get_slice(k).get_shape()) for k in f.keys())


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def resolved_config(recipe):
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    config = {k: v for k, v in recipe.config.items() if k != "slingshot"}
    resolved = dict(validate_config(DictDefault(config)))
    return json.loads(json.dumps(resolved, default=str))


SMOKE_OVERRIDES = {
    "base_model": "models/smollm2-135m-instruct",
    "chat_template": "tokenizer_default",
    "load_in_8bit": False, "load_in_4bit": False, "adapter": "lora",
    "deepspeed": None, "fsdp": None, "fsdp_config": None,
    "bf16": False, "fp16": False, "tf32": False, "flash_attention": False, "sdp_attention": False,
    "lora_mlp_kernel": False, "lora_qkv_kernel": False, "lora_o_kernel": False,
    "gradient_checkpointing": False, "optimizer": "adamw_torch", "sample_packing": False,
    "eval_sample_packing": False, "pad_to_sequence_len": False, "sequence_len": 512,
    "micro_batch_size": 1, "gradient_accumulation_steps": 1, "max_steps": 2, "warmup_steps": 0,
    "evals_per_epoch": None, "eval_steps": None, "saves_per_epoch": None, "save_steps": None,
    "save_strategy": "no", "hub_model_id": None, "wandb_project": None, "auto_resume_from_checkpoints": None,
    "special_tokens": None, "tokenizer_type": None, "model_type": None, "tokenizer_config": None,
    "lora_r": 8, "lora_alpha": 16, "logging_steps": 1,
}


def smoke_recipe(recipe):
    """A GPU recipe cut down to a few CPU steps on the embedded model."""
    block = {"source": "local", "train_size": 8, "validation_size": 4, "seed": 0}
    if "top_n_per_case" in recipe.block:
        block["top_n_per_case"] = 1
    return derive_recipe(recipe, f"smoke-{recipe.name}", SMOKE_OVERRIDES, block)


def prepare_smoke(recipe):
    """The smoke recipe of a GPU recipe, with its data prepared (by data_prep, in its own process)."""
    smoke = smoke_recipe(recipe)
    command = [sys.executable, "-m", "data_prep", str(smoke.path)]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise UserError(f"preparing the smoke data of {recipe.path} failed (see above)")
    return smoke


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m slingshot.train", description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--force", action="store_true", help="train again even if the run is up to date")
    parser.add_argument("--smoke", action="store_true", help="a few CPU steps on the embedded model")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    if args.smoke:
        recipe = prepare_smoke(recipe)
    train(recipe, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
