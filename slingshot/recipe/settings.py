"""One default per setting: what a recipe's Axolotl setting is when the recipe leaves it out.

Every reader of a training setting (plan, report, sweep, training) asks `setting(config, key)`
instead of `config.get(key, <a guess>)`, so a silent recipe means Axolotl's own default, once.
AXOLOTL_DEFAULTS holds each default with where it comes from; the values are those of Axolotl's
pydantic config schema (axolotl.utils.schemas, Axolotl 0.19), checked against the installed
Axolotl by tests/slingshot/recipe/test_settings.py.

Where Axolotl has no default (lora_r and lora_alpha reach peft as None; learning_rate and base_model
are required) `setting` returns None, and the caller says what is missing.
A key outside the table is an error, so no reader can invent a default the table does not name.
"""

# key -> (Axolotl's default, the schema class that defines it under axolotl.utils.schemas, a note).
# None: Axolotl has no default.
AXOLOTL_DEFAULTS = {
    "base_model": (None, "model.ModelInputConfig", "required"),
    "adapter": (None, "peft.LoraConfig", "none: full fine-tuning"),
    "lora_r": (None, "peft.LoraConfig", "reaches peft as None"),
    "lora_alpha": (None, "peft.LoraConfig", "reaches peft as None"),
    "lora_dropout": (0.0, "peft.LoraConfig", ""),
    "lora_target_linear": (None, "peft.LoraConfig", "none: off"),
    "lora_target_modules": (None, "peft.LoraConfig", "none: peft picks by model type, q_proj and v_proj for "
                                                     "Llama and Mistral (peft.utils.constants)"),
    "load_in_4bit": (False, "peft.LoraConfig", ""),
    "load_in_8bit": (False, "peft.LoraConfig", ""),
    "bf16": ("auto", "config.AxolotlInputConfig", "bf16 where the GPU has it, else fp16 "
                                                  "(axolotl.utils.config.resolve_dtype)"),
    "fp16": (None, "config.AxolotlInputConfig", ""),
    "num_epochs": (1.0, "training.HyperparametersConfig", ""),
    "max_steps": (None, "config.AxolotlInputConfig", "none: num_epochs decides"),
    "micro_batch_size": (1, "training.HyperparametersConfig", ""),
    "gradient_accumulation_steps": (1, "training.HyperparametersConfig", ""),
    "learning_rate": (None, "training.HyperparametersConfig", "required"),
    "optimizer": ("adamw_torch_fused", "training.HyperparametersConfig", ""),
    "sequence_len": (512, "config.AxolotlInputConfig", ""),
    "sample_packing": (None, "config.AxolotlInputConfig", "none: off"),
    "pad_to_sequence_len": (None, "config.AxolotlInputConfig", "none: off"),
    "gradient_checkpointing": (False, "config.AxolotlInputConfig", ""),
    "deepspeed": (None, "config.AxolotlInputConfig", "none: no DeepSpeed"),
    "evals_per_epoch": (None, "config.AxolotlInputConfig", "none: no evaluation during training"),
    "seed": (None, "config.AxolotlInputConfig", "none: the trainer's own"),
}


def setting(config, key):
    """The recipe's value of Axolotl setting `key`, or Axolotl's default where the recipe is silent
    (None where Axolotl has none). A key written as null is silent too. `config`: a recipe's config
    mapping (Recipe.config) or any dict of Axolotl settings."""
    if key not in AXOLOTL_DEFAULTS:
        raise KeyError(f"{key!r} has no entry in slingshot.recipe.settings.AXOLOTL_DEFAULTS; add it with "
                       f"Axolotl's default and where Axolotl defines it")
    value = config.get(key)
    return AXOLOTL_DEFAULTS[key][0] if value is None else value


def default_source(key):
    """Where Axolotl defines `key`'s default: 'axolotl.utils.schemas.peft.LoraConfig.lora_r'."""
    return f"axolotl.utils.schemas.{AXOLOTL_DEFAULTS[key][1]}.{key}"
