"""Real Axolotl on a recipe, and what it leaves kept (`python -m slingshot train RECIPE`).

The run folder is the recipe's output_dir (runs/<recipe-name>/): the adapter, the recipe
as run, Axolotl's resolved config, train.log (everything Axolotl printed), loss.csv, loss.png and
train_summary.json (wall time, peak memory, tokens/s). The terminal gets one line per step and a
one-line summary (slingshot.train_log). A finished run whose recipe and data are unchanged is
not trained again, and checkpoints resume only the training that wrote them (slingshot.run_folder).
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from slingshot import attention_path, contamination
from slingshot.errors import UserError
from slingshot.gpu_memory import GpuMemoryMonitor, gpu_measurements
from slingshot.io import atomic_write_json, atomic_write_text, count_lines, read_jsonl, sha256_file, stable_hash
from slingshot.layout import ADAPTER_FILE, AXOLOTL_CONFIG, ROOT, WORKSPACE, display_path, resolve
from slingshot.recipe import claim_folders
from slingshot.run_folder import fresh_prepared_folder, is_trained, settle_checkpoints
from slingshot.train_log import StepLines, parse_log, summary_line, write_loss_curve


class TrainingFailed(UserError):
    """Axolotl failed or left no adapter; the message points at train.log."""


def axolotl_env(recipe):
    env = dict(os.environ)
    env.update(AXOLOTL_DO_NOT_TRACK="1", DO_NOT_TRACK="1", TOKENIZERS_PARALLELISM="false")
    env.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))  # else `accelerate launch` pins the CPU to 1 thread
    bin_dir = str(Path(sys.executable).parent)  # `axolotl train` execs `accelerate` from here
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))  # slingshot cpu-rank
    if resolve(recipe.config["base_model"]).exists():
        env["HF_HUB_OFFLINE"] = "1"  # a local model needs no hub; avoids retries on a dead network
    return env


def run_fingerprint(recipe):
    manifest = recipe.paths["manifest"]
    if not manifest.exists():
        raise UserError(f"{recipe.path}: no prepared data at {display_path(manifest.parent)}; "
                          f"run `make prepare RECIPE={recipe.path}` first")
    # what decides the trained weights: the recipe (its paths, which follow from its name, included;
    # not how it resumes, logs, saves, is scored or priced), its data and its base model
    return stable_hash({"recipe": training_settings(recipe.config), "data": sha256_file(manifest),
                        "base_model": base_model_identity(recipe.config["base_model"])})


# Keys that do not change what is trained: how a run resumes, logs and saves, and the slingshot
# settings for scoring and pricing. Editing them neither retrains a finished run nor strands a
# killed run's checkpoints (adding `auto_resume_from_checkpoints: true` after a kill resumes it).
NOT_TRAINING = {"auto_resume_from_checkpoints", "resume_from_checkpoint", "logging_steps", "save_steps",
                "saves_per_epoch", "save_strategy", "save_total_limit", "save_safetensors", "hub_model_id",
                "use_tensorboard"}
NOT_TRAINING_BLOCK = {"eval", "hardware", "sweep"}


def training_settings(config):
    settings = {k: v for k, v in config.items() if k not in NOT_TRAINING and not k.startswith("wandb_")}
    if isinstance(settings.get("slingshot"), dict):
        settings["slingshot"] = {k: v for k, v in settings["slingshot"].items() if k not in NOT_TRAINING_BLOCK}
    return settings


def base_model_identity(base_model):
    """What says a base model changed: a local folder's build stamp or config and weight files' sizes;
    a hub model's id (its revision, if pinned, is a recipe key and so in the recipe)."""
    folder = resolve(base_model)
    if not folder.is_dir():
        return base_model
    stamps = sorted(folder.glob("slingshot-*.json"))
    if stamps:
        return {p.name: sha256_file(p) for p in stamps}
    return {p.name: sha256_file(p) if p.suffix == ".json" else (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in (".json", ".safetensors", ".bin")}


def count_training_tokens(recipe):
    """Tokens the trainer sees in one epoch (prompt and answer), from the prepared JSONL."""
    from transformers import AutoTokenizer

    base = recipe.config["base_model"]
    trained = recipe.output_dir / "tokenizer_config.json"  # Axolotl saves it with the recipe's chat template
    source = recipe.output_dir if trained.exists() else resolve(base) if resolve(base).exists() else base
    try:  # a hub model's tokenizer is in the local cache once training has run
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError):
        return None
    if not tokenizer.chat_template:
        return None
    total = 0
    for row in read_jsonl(recipe.paths["train"]):
        total += len(tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=False))
    return total


def launch_command(recipe, gpus=1, nodes=1, node_rank=0, head="127.0.0.1:29500", cpu=False):
    """`axolotl train` on one process, or data-parallel through torchrun: `gpus` processes on this
    machine, `nodes` machines meeting at `head` (host:port of node 0), Axolotl's own multi-node launch.
    DeepSpeed ZeRO or FSDP come from the recipe's `deepspeed:` / `fsdp:` keys. `cpu`: processes on a
    machine without a GPU, each started as `python -m slingshot cpu-rank` (slingshot/commands/cpu_rank.py
    says why): a process per rank is torchrun's way, and the rank runs the command layer."""
    config = str(recipe.paths["run"] / AXOLOTL_CONFIG)
    command = [sys.executable, "-m", "axolotl.cli.main", "train", config]
    if gpus <= 1 and nodes <= 1:
        return command
    torchrun = ["--nnodes", str(nodes), "--nproc_per_node", str(gpus)]
    if nodes > 1:
        torchrun += ["--node_rank", str(node_rank), "--rdzv_backend", "c10d", "--rdzv_endpoint", head,
                     "--rdzv_id", recipe.name]
    else:
        torchrun += ["--master_port", head.rsplit(":", 1)[-1]]
    if cpu:
        return [str(Path(sys.executable).parent / "torchrun"), *torchrun, "-m", "slingshot", "cpu-rank", config]
    return command + ["--launcher", "torchrun", "--", *torchrun]


def recipe_gpus(recipe):
    """Processes per machine: GPUS= on the command line, else the recipe's hardware.gpus, else 1."""
    value = os.environ.get("GPUS") or (recipe.block.get("hardware") or {}).get("gpus") or 1
    try:
        gpus = int(value)
    except ValueError:
        raise UserError(f"GPUS={value!r}: expected a whole number of GPUs (processes) per machine") from None
    if gpus < 1:
        raise UserError(f"GPUS={gpus}: at least 1")
    return gpus


REPO_PATH_KEYS = ("base_model", "base_model_config", "tokenizer_config", "deepspeed", "chat_template_jinja")


def axolotl_config(recipe):
    """The recipe as plain Axolotl reads it from the workspace (its working folder): paths filled in,
    the slingshot block left out; repository files (a local model, a DeepSpeed config) made absolute
    when the workspace is another folder."""
    config = {k: v for k, v in recipe.config.items() if k != "slingshot"}
    if WORKSPACE != ROOT:
        for key in REPO_PATH_KEYS:
            value = config.get(key)
            if isinstance(value, str) and not Path(value).is_absolute() and resolve(value).exists():
                config[key] = str(resolve(value))
    return config


def train(recipe, force=False, gpus=None, nodes=1, node_rank=0, head="127.0.0.1:29500", record=None):
    claim_folders(recipe)  # before anything is written: fails if another recipe file wrote these folders
    fingerprint = run_fingerprint(recipe)
    overlap = contamination.check_recipe(recipe)
    contamination.enforce(overlap, recipe.block.get("allow_test_contamination", False),
                          recipe.where("slingshot"))
    out = recipe.output_dir
    if not force and is_trained(recipe, fingerprint):
        summary = json.loads(recipe.paths["summary"].read_text())
        print(f"{display_path(out)}: already trained on this recipe and data")
        print(summary_line(recipe.name, summary, out))
        return summary
    out.mkdir(parents=True, exist_ok=True)
    resumable = settle_checkpoints(recipe, fingerprint, fresh=force)
    if resumable and recipe.config.get("auto_resume_from_checkpoints"):
        print(f"{display_path(out)}: resuming this training from {resumable[-1].name}")
    fresh_prepared_folder(recipe)
    recipe.paths["summary"].unlink(missing_ok=True)
    runnable = write_run_files(recipe)
    gpus = gpus or recipe_gpus(recipe)
    wall, gpu_used_gb = run_axolotl(recipe, runnable, gpus, nodes, node_rank, head)
    summary = {**training_summary(recipe, fingerprint, overlap, wall, gpu_used_gb, gpus * nodes, gpus), **(record or {})}
    atomic_write_json(recipe.paths["summary"], summary)
    print(summary_line(recipe.name, summary, out))
    return summary


def write_run_files(recipe):
    """The run folder's recipe.yml, resolved_config.yml and axolotl.yml; returns the last one's path."""
    out = recipe.output_dir
    if recipe.path.resolve() != (out / "recipe.yml").resolve():  # derived recipes already live there
        shutil.copyfile(recipe.path, out / "recipe.yml")
    atomic_write_text(out / "resolved_config.yml", yaml.safe_dump(resolved_config(recipe), sort_keys=True))
    runnable = out / AXOLOTL_CONFIG  # `axolotl train runs/<name>/axolotl.yml` reruns this training
    atomic_write_text(runnable, yaml.safe_dump(axolotl_config(recipe), sort_keys=False))
    return runnable


def run_axolotl(recipe, runnable, gpus, nodes, node_rank, head):
    """Axolotl's training in its own process(es), logged to train.log; returns (wall seconds, GPU GB used)."""
    out = recipe.output_dir
    cpu = not shutil.which("nvidia-smi")
    command = launch_command(recipe, gpus, nodes, node_rank, head, cpu=cpu)
    shown = ["torchrun", *command[1:]] if command[0].endswith("torchrun") else ["axolotl", *command[3:]]
    shown = [display_path(arg) if os.path.isabs(arg) else arg for arg in shown]
    print(f"training {recipe.name}: {' '.join(shown)} (Axolotl's whole output: {display_path(out / 'train.log')})")
    env = axolotl_env(recipe)
    if gpus > 1 and "OMP_NUM_THREADS" not in os.environ:  # share the cores between the processes
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // gpus))
    if gpus * nodes > 1 and cpu:
        env.setdefault("ACCELERATE_USE_CPU", "true")  # else each CPU process trains alone on all the data
    monitor = GpuMemoryMonitor().start()
    started = time.time()
    with open(out / "train.log", "w", encoding="utf-8") as log:
        code = 0
        if gpus * nodes > 1:  # tokenize once, here, so the ranks only read it (no race to write it)
            code = _run([sys.executable, "-m", "axolotl.cli.main", "preprocess", str(runnable)], env, log)
        if code == 0:
            code = _run(command, env, log)
    wall = time.time() - started
    gpu_used_gb = monitor.stop()
    if code != 0:
        raise TrainingFailed(f"axolotl train failed with exit code {code}; see {display_path(out / 'train.log')}")
    if not (out / ADAPTER_FILE).exists():
        raise TrainingFailed(f"axolotl finished but left no {ADAPTER_FILE} in {display_path(out)}")
    return wall, gpu_used_gb


def training_summary(recipe, fingerprint, overlap, wall, gpu_used_gb, processes, gpus):
    """train_summary.json: time, memory, tokens/s, losses and the contamination statement of a run."""
    out = recipe.output_dir
    log = (out / "train.log").read_text(encoding="utf-8")
    records = parse_log(log)
    write_loss_curve(records, out)
    final = next((r for r in reversed(records) if "train_runtime" in r), {})
    tokens = count_training_tokens(recipe)
    epochs = recipe.setting("num_epochs")
    runtime = final.get("train_runtime")
    return {
        "recipe": display_path(recipe.path),
        "fingerprint": fingerprint,
        "wall_s": round(wall, 1),
        "train_runtime_s": runtime,
        "peak_memory_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 2),
        "train_tokens_per_epoch": tokens,
        "train_rows": count_lines(recipe.paths["train"]),
        "tokens_per_s": round(tokens * epochs / runtime, 1) if tokens and runtime else None,
        "final_train_loss": next((r["loss"] for r in reversed(records) if "loss" in r), None),
        "final_eval_loss": next((r["eval_loss"] for r in reversed(records) if "eval_loss" in r), None),
        "steps": sum(1 for r in records if "loss" in r),
        "trainable_parameters": trainable_parameters(out),
        "processes": processes,
        "contamination": contamination.contamination_statement(overlap),
        "attention": attention_path.observe(out / AXOLOTL_CONFIG, log),
        **gpu_measurements(recipe, records, gpu_used_gb, gpus),
    }


def _run(command, env, log):
    """Run a command in the workspace: all of its output to `log`, what StepLines keeps to stdout."""
    process = subprocess.Popen(command, cwd=WORKSPACE, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    shown = StepLines()
    for line in process.stdout:
        log.write(line)
        plain = shown(line)
        if plain:
            print(plain, flush=True)
    return process.wait()


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
