"""`python -m slingshot.train RECIPE`: run real Axolotl on a recipe and keep what it leaves.

The run folder is the recipe's output_dir (runs/<recipe-name>/): the adapter, the recipe
as run, Axolotl's resolved config, train.log, loss.csv, loss.png and train_summary.json
(wall time, peak memory, tokens/s). A finished run whose recipe and data are unchanged is
not trained again, and checkpoints resume only the training that wrote them. `--smoke` trains a GPU
recipe for one step on the CPU instead, on a random-initialized stand-in of its base model, with only
what needs a GPU changed (SMOKE_OVERRIDES).
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

from slingshot import attention_path, contamination
from slingshot.errors import UserError, cli
from slingshot.io import atomic_write_json, atomic_write_text, read_jsonl, sha256_file, stable_hash
from slingshot.layout import ADAPTER_FILE, AXOLOTL_CONFIG, ROOT, WORKSPACE, display_path, resolve
from slingshot.recipe import claim_folders, derive_recipe, load_recipe


class TrainingFailed(UserError):
    """Axolotl failed or left no adapter; the message points at train.log."""


def axolotl_env(recipe):
    env = dict(os.environ)
    env.update(AXOLOTL_DO_NOT_TRACK="1", DO_NOT_TRACK="1", TOKENIZERS_PARALLELISM="false")
    env.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))  # else `accelerate launch` pins the CPU to 1 thread
    bin_dir = str(Path(sys.executable).parent)  # `axolotl train` execs `accelerate` from here
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))  # slingshot.cpu_rank
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


TRAINING_MARK = "training.json"  # in a run folder: which training its checkpoints belong to
SUPERSEDED = "superseded"        # in a run folder: checkpoints of earlier trainings, never resumed


def checkpoint_step(path):
    """The step of a `checkpoint-<digits>` entry (Axolotl resumes the highest), else None."""
    suffix = path.name.split("-")[-1]
    return int(suffix) if path.name == f"checkpoint-{suffix}" and suffix.isdigit() else None


def settle_checkpoints(recipe, fingerprint, fresh=False):
    """Checkpoints resume only the training that wrote them. Those of another recipe, data or base
    model (or all of them, `fresh`) are moved to superseded/<their fingerprint>/, where nothing resumes
    them, and so are entries Axolotl would take for a checkpoint but are not a complete one (a kill can
    leave one half-written; the trainer writes its state last). Then this training is marked as the run
    folder's. Returns the checkpoints left to resume, oldest first."""
    out = recipe.output_dir
    try:
        return _settle(out, recipe, fingerprint, fresh)
    except OSError as e:
        raise UserError(f"{display_path(out)}: cannot sort out its checkpoints ({e}); move the run folder "
                        f"away or fix the entry named") from None


def _settle(out, recipe, fingerprint, fresh):
    checkpoints = sorted((p for p in out.glob("checkpoint-*") if checkpoint_step(p) is not None),
                         key=checkpoint_step)
    mark = out / TRAINING_MARK
    try:
        owner = json.loads(mark.read_text()).get("fingerprint") if mark.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        owner = None  # an unreadable mark proves nothing: its checkpoints are not resumed
    label = owner if isinstance(owner, str) and owner.isalnum() and len(owner) <= 64 else "unknown"
    if checkpoints and (fresh or owner != fingerprint):
        why = "--force" if fresh else "another recipe, data or base model"
        _move_aside(out, checkpoints, out / SUPERSEDED / label, f"of an earlier training ({why})")
        print(f"{display_path(out)}: training starts fresh")
        checkpoints = []
    incomplete = [c for c in checkpoints if c.is_symlink() or not (c / "trainer_state.json").is_file()]
    if incomplete:
        _move_aside(out, incomplete, out / SUPERSEDED / f"{label}-incomplete", "that are not complete")
        checkpoints = [c for c in checkpoints if c not in incomplete]
    if mark.is_dir() or mark.is_symlink():
        raise UserError(f"{display_path(mark)}: expected the run folder's training mark (a file); move it away")
    atomic_write_json(mark, {"fingerprint": fingerprint, "recipe": display_path(recipe.path)})
    return checkpoints


def _move_aside(out, checkpoints, aside, why):
    """Move checkpoints into `aside`; an earlier one of the same name there is kept (a suffix is added)."""
    if aside.exists() and not aside.is_dir() or (out / SUPERSEDED).is_file():
        raise UserError(f"{display_path(aside)}: expected a folder for superseded checkpoints; move it away")
    aside.mkdir(parents=True, exist_ok=True)
    for checkpoint in checkpoints:
        target, n = aside / checkpoint.name, 1
        while target.exists() or target.is_symlink():
            n += 1
            target = aside / f"{checkpoint.name}.{n}"
        checkpoint.rename(target)
    print(f"{display_path(out)}: {len(checkpoints)} checkpoint(s) {why} moved to {display_path(aside)}; "
          f"nothing resumes from there")


def is_trained(recipe, fingerprint):
    summary = recipe.paths["summary"]
    return (summary.exists() and recipe.paths["adapter"].exists()
            and json.loads(summary.read_text()).get("fingerprint") == fingerprint)


PREPARED_MARK = ".made-by-slingshot-train"  # in dataset_prepared_path: this folder is ours to clear


def fresh_prepared_folder(recipe):
    """Empty dataset_prepared_path (tokenized data of older files must not be reused) and mark it.

    Only a folder inside the run folder that training made (it holds PREPARED_MARK) is deleted;
    anything else there is an error naming the key, never a silent rmtree."""
    key = "dataset_prepared_path"
    prepared, run = recipe.paths["prepared"].resolve(), recipe.paths["run"].resolve()
    if prepared == run or not prepared.is_relative_to(run):
        raise UserError(f"{recipe.where(key)}: {key} {display_path(prepared)} is outside the run folder "
                        f"{display_path(run)}; training only clears folders it made inside the run folder")
    if prepared.exists():
        if not ((prepared / PREPARED_MARK).is_file() or _only_axolotl_output(prepared)):
            raise UserError(f"{recipe.where(key)}: {key} {display_path(prepared)} exists but was not made by "
                            f"training; move it away or name a new folder inside {display_path(run)}")
        shutil.rmtree(prepared)
    prepared.mkdir(parents=True)
    (prepared / PREPARED_MARK).write_text("made by slingshot.train; deleted and remade on every training\n")


AXOLOTL_PREP_FILES = {"datasets_prep.lock", "datasets_ready.flag", "process_counter.txt"}


def _only_axolotl_output(folder):
    """A folder left by training before it was marked: only Axolotl's lock files and saved
    datasets (folders holding a datasets `state.json`), or nothing."""
    return folder.is_dir() and all(
        entry.name in AXOLOTL_PREP_FILES if entry.is_file() else any(entry.rglob("state.json"))
        for entry in folder.iterdir())


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
    machine without a GPU, each started through slingshot.cpu_rank (see there why)."""
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
        return [str(Path(sys.executable).parent / "torchrun"), *torchrun, "-m", "slingshot.cpu_rank", config]
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
        print(f"{display_path(out)}: already trained on this recipe and data")
        return json.loads(recipe.paths["summary"].read_text())
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
    print(f"trained {recipe.name} in {wall:.0f} s: {summary}")
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
    shown = ["torchrun", *command[1:]] if command[0].endswith("torchrun") else command[2:]
    print(f"training {recipe.name}: {' '.join(shown)} (log: {display_path(out / 'train.log')})")
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
    epochs = recipe.config.get("num_epochs", 1)
    runtime = final.get("train_runtime")
    return {
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
        "processes": processes,
        "contamination": contamination.contamination_statement(overlap),
        "attention": attention_path.observe(out / AXOLOTL_CONFIG, log),
        **gpu_measurements(recipe, records, gpu_used_gb, gpus),
    }


def _run(command, env, log):
    process = subprocess.Popen(command, cwd=WORKSPACE, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in process.stdout:
        log.write(line)
        if _worth_showing(line):
            sys.stdout.write(line)
            sys.stdout.flush()
    return process.wait()


class GpuMemoryMonitor:
    """Highest GPU memory in use on any device while training, polled through NVML (it counts the
    CUDA context and allocator cache too, so it reads above torch's max_memory_allocated)."""

    def __init__(self, interval_s=1.0):
        self.interval_s, self.peak, self._stop = interval_s, None, None

    def start(self):
        try:
            import pynvml
            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # no NVIDIA driver: a CPU run
            return self
        if not handles:
            return self
        import threading
        self.peak, self._stop = 0, threading.Event()

        def poll():
            while not self._stop.wait(self.interval_s):
                self.peak = max([self.peak] + [pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles])
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._stop is None:
            return None
        self._stop.set()
        self._thread.join()
        return round(self.peak / 1e9, 2)


def gpu_measurements(recipe, records, gpu_used_gb, gpus):
    """On a GPU: measured peak memory and tokens/s beside the planner's prediction."""
    allocated = [v for r in records for k, v in r.items() if "max_allocated" in k and isinstance(v, float) and v > 0]
    if gpu_used_gb is None and not allocated:
        return {}
    from slingshot.errors import UserError
    from slingshot.plan import estimate, model_config
    try:
        predicted = estimate(recipe.config, model_config(recipe.config["base_model"]), gpus=gpus)["peak_gb"]
    except UserError:
        predicted = None
    per_gpu = [r["tokens/train_per_sec_per_gpu"] for r in records
               if isinstance(r.get("tokens/train_per_sec_per_gpu"), float) and "loss" in r]
    return {"gpu_peak_memory_used_gb": gpu_used_gb,
            "trainer_tokens_per_s_per_gpu": round(sum(per_gpu) / len(per_gpu), 1) if per_gpu else None,
            "gpu_max_allocated_gb": round(max(allocated) * 2**30 / 1e9, 2) if allocated else None,
            "predicted_peak_gpu_memory_gb": predicted}


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


# `--smoke` trains a GPU recipe for one optimizer step on the CPU. Only what physically needs a GPU or
# the hub changes, each with its reason (SMOKE_OVERRIDES); everything else runs as shipped: attention
# implementation, sample packing, sequence length, micro batch, optimizer where the CPU has it, LoRA
# shape and targets, chat template, special and end-of-turn tokens, loss masking. The base model
# becomes a small random-initialized model of its own architecture with its special tokens, built
# locally (slingshot.stand_in). SMOKE_RUN_LENGTH only shortens the run (and on the CPU, at most
# CPU_ACCUMULATION micro batches are accumulated per step).
SMOKE_OVERRIDES = [
    # (key, CPU value or None to drop it, why the CPU needs the change)
    ("load_in_4bit", False, "bitsandbytes 4-bit weights need CUDA"),
    ("load_in_8bit", False, "bitsandbytes 8-bit weights need CUDA"),
    ("bf16", False, "bf16 mixed precision here is a GPU setting ('auto' resolves to fp32 on a CPU by itself)"),
    ("fp16", False, "fp16 mixed precision needs CUDA"),
    ("tf32", False, "TF32 is an Ampere+ GPU matmul mode; the trainer refuses it without one"),
    ("lora_mlp_kernel", False, "Triton LoRA kernels need CUDA (Axolotl turns them on when unset)"),
    ("lora_qkv_kernel", False, "Triton LoRA kernels need CUDA (Axolotl turns them on when unset)"),
    ("lora_o_kernel", False, "Triton LoRA kernels need CUDA (Axolotl turns them on when unset)"),
    ("lora_embedding_kernel", False, "Triton LoRA kernels need CUDA (Axolotl turns them on when unset)"),
    ("deepspeed", None, "DeepSpeed ZeRO runs on CUDA/NCCL"),
    ("fsdp", None, "FSDP here is a multi-GPU setting"),
    ("fsdp_config", None, "FSDP here is a multi-GPU setting"),
]
AUTO_ENABLED = {"lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel"}
KEPT_AS_SHIPPED = {"auto"}  # bf16: auto needs no change
CPU_OPTIMIZERS = {  # bitsandbytes AdamW variants (CUDA only) and the CPU one with the same update rule;
    # any other bitsandbytes optimizer (8-bit, paged) becomes adamw_torch too
    "adamw_bnb_8bit": "adamw_torch", "paged_adamw_8bit": "adamw_torch", "paged_adamw_32bit": "adamw_torch",
}
# How long the smoke run is: one optimizer step of at most two accumulated micro batches at the
# recipe's geometry, nothing saved or sent.
SMOKE_RUN_LENGTH = {
    "max_steps": 1, "warmup_steps": 0, "warmup_ratio": None, "logging_steps": 1,
    "evals_per_epoch": None, "eval_steps": None, "saves_per_epoch": None, "save_steps": None,
    "save_strategy": "no", "auto_resume_from_checkpoints": None, "hub_model_id": None, "wandb_project": None,
}


def stand_in_override(config, shape="tiny"):
    """[("base_model", stand-in folder, why)] for a hub base model; [] for a local one."""
    base = config["base_model"]
    if resolve(base).exists():
        return []
    from slingshot.stand_in import stand_in_path
    size = "small" if shape == "tiny" else "full-size"
    return [("base_model", display_path(stand_in_path(base, shape)),
             f"the weights are on the hub (and too large for a CPU): a {size} random-initialized model of "
             f"the same architecture and special tokens, built locally, stands in")]


def smoke_overrides(config, shape="tiny"):
    """The overrides a recipe needs on the CPU: [(key, new value, reason)], only keys it changes."""
    changes = stand_in_override(config, shape)
    for key, value, why in SMOKE_OVERRIDES:
        current = config.get(key)
        unset_is_fine = current is None and (value is None or value is False) and key not in AUTO_ENABLED
        if current != value and not unset_is_fine and current not in KEPT_AS_SHIPPED:
            changes.append((key, value, why))
    if config.get("adapter") == "qlora":
        changes.append(("adapter", "lora", "QLoRA is LoRA on a 4-bit base, which needs CUDA; the LoRA shape is kept"))
    optimizer = str(config.get("optimizer") or "")
    if optimizer in CPU_OPTIMIZERS or "8bit" in optimizer or "bnb" in optimizer or optimizer.startswith("paged_"):
        changes.append(("optimizer", CPU_OPTIMIZERS.get(optimizer, "adamw_torch"),
                        f"{optimizer} is a bitsandbytes optimizer, which runs on CUDA only"))
    return changes


CPU_ACCUMULATION = 2  # micro batches per step on the CPU: the accumulation path runs, at 1/8 of a 16-step cost


def smoke_rows(config, steps=1):
    """Training rows for `steps` optimizer steps at a config's batch: packed sequences x micro batch
    x accumulation, at a generous guess of 200 tokens a row (more rows only cost tokenization)."""
    tokens = (config.get("micro_batch_size") or 1) * (config.get("gradient_accumulation_steps") or 1) * \
        ((config.get("sequence_len") or 512) if config.get("sample_packing") else 200)
    return max(8, -(-tokens * steps // 200))


def smoke_recipe(recipe, steps=1, shape="tiny", cpu=True, name=None):
    """A GPU recipe cut down to `steps` optimizer steps on a stand-in of its base model: on the CPU
    with SMOKE_OVERRIDES, on a GPU (`cpu=False`) as shipped. Its data comes from the carried local
    source, never the hub."""
    changes = smoke_overrides(recipe.config, shape) if cpu else stand_in_override(recipe.config, shape)
    overrides = {k: v for k, v, _ in changes}
    overrides.update(SMOKE_RUN_LENGTH, max_steps=steps)
    if cpu:
        overrides["gradient_accumulation_steps"] = min(CPU_ACCUMULATION, recipe.config.get("gradient_accumulation_steps") or 1)
    rows = smoke_rows({**recipe.config, **overrides}, steps)
    block = {"source": "local", "train_size": rows, "validation_size": 4, "seed": 0}
    if "top_n_per_case" in recipe.block:
        cases = recipe.task.planned_train_rows({**recipe.params(), "top_n_per_case": 1, "train_size": "all"})
        block["top_n_per_case"] = min(recipe.block["top_n_per_case"], max(1, -(-rows // cases)))
        block["train_size"] = "all"
    return derive_recipe(recipe, name or f"smoke-{recipe.name}", overrides, block)


def prepare_smoke(recipe, **kwargs):
    """The smoke recipe of a GPU recipe (smoke_recipe's arguments), with its stand-in model built and
    its data prepared (by data_prep, in its own process)."""
    if not resolve(recipe.config["base_model"]).exists():
        from slingshot.stand_in import build_stand_in
        build_stand_in(recipe.config["base_model"], kwargs.get("shape", "tiny"))
    smoke = smoke_recipe(recipe, **kwargs)
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
    parser.add_argument("--gpus", type=int, help="data-parallel processes on this machine "
                        "(default: $GPUS, else the recipe's slingshot.hardware.gpus, else 1)")
    parser.add_argument("--nodes", type=int, default=int(os.environ.get("NODES", 1)), help="machines ($NODES)")
    parser.add_argument("--node-rank", type=int, default=int(os.environ.get("NODE_RANK", 0)),
                        help="this machine's rank, 0 on the head node ($NODE_RANK)")
    parser.add_argument("--head", default=os.environ.get("HEAD", "127.0.0.1:29500"),
                        help="host:port of node 0, reachable from every node ($HEAD)")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    record = None
    if args.smoke:
        from slingshot.smoke_report import smoke_changes, smoke_lines
        shipped, recipe = recipe, prepare_smoke(recipe)
        record = {"smoke_overrides": smoke_changes(shipped, recipe)}
    summary = train(recipe, force=args.force, gpus=args.gpus, nodes=args.nodes, node_rank=args.node_rank,
                    head=args.head, record=record)
    if args.smoke:
        print(smoke_lines(shipped, summary))


if __name__ == "__main__":
    sys.exit(main())
