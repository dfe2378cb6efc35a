"""A GPU recipe cut down to a few steps on a stand-in of its base model: `python -m slingshot smoke`
trains one step on the CPU, bench/gpu_check.py real steps on a GPU.

Only what physically needs a GPU or the hub changes, each with its reason (SMOKE_OVERRIDES); everything
else runs as shipped: attention implementation, sample packing, sequence length, micro batch, optimizer
where the CPU has it, LoRA shape and targets, chat template, special and end-of-turn tokens, loss
masking. The base model becomes a small random-initialized model of its own architecture with its
special tokens, built locally (slingshot.stand_in). SMOKE_RUN_LENGTH only shortens the run (and on the
CPU, at most CPU_ACCUMULATION micro batches are accumulated per step).
"""
from slingshot.layout import display_path, resolve
from slingshot.recipe import derive_recipe, setting

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
CPU_ACCUMULATION = 2  # micro batches per step on the CPU: the accumulation path runs, at 1/8 of a 16-step cost


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


def smoke_rows(config, steps=1):
    """Training rows for `steps` optimizer steps at a config's batch: packed sequences x micro batch
    x accumulation, at a generous guess of 200 tokens a row (more rows only cost tokenization)."""
    tokens = setting(config, "micro_batch_size") * setting(config, "gradient_accumulation_steps") * \
        (setting(config, "sequence_len") if setting(config, "sample_packing") else 200)
    return max(8, -(-tokens * steps // 200))


def smoke_recipe(recipe, steps=1, shape="tiny", cpu=True, name=None):
    """A GPU recipe cut down to `steps` optimizer steps on a stand-in of its base model: on the CPU
    with SMOKE_OVERRIDES, on a GPU (`cpu=False`) as shipped. Its data comes from the carried local
    source, never the hub."""
    changes = smoke_overrides(recipe.config, shape) if cpu else stand_in_override(recipe.config, shape)
    overrides = {k: v for k, v, _ in changes}
    overrides.update(SMOKE_RUN_LENGTH, max_steps=steps)
    if cpu:
        overrides["gradient_accumulation_steps"] = min(CPU_ACCUMULATION, recipe.setting("gradient_accumulation_steps"))
    rows = smoke_rows({**recipe.config, **overrides}, steps)
    block = {"source": "local", "train_size": rows, "validation_size": 4, "seed": 0}
    if "top_n_per_case" in recipe.block:
        cases = recipe.task.planned_train_rows({**recipe.params(), "top_n_per_case": 1, "train_size": "all"})
        block["top_n_per_case"] = min(recipe.block["top_n_per_case"], max(1, -(-rows // cases)))
        block["train_size"] = "all"
    return derive_recipe(recipe, name or f"smoke-{recipe.name}", overrides, block)


def prepare_smoke(recipe, prepare_data, **kwargs):
    """The smoke recipe of a GPU recipe (smoke_recipe's arguments), with its stand-in model built and
    its data written by `prepare_data(recipe)` (data_prep's, which the caller passes: slingshot does
    not import data_prep)."""
    if not resolve(recipe.config["base_model"]).exists():
        from slingshot.stand_in import build_stand_in
        build_stand_in(recipe.config["base_model"], kwargs.get("shape", "tiny"))
    smoke = smoke_recipe(recipe, **kwargs)
    prepare_data(smoke)
    return smoke
