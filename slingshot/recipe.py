"""Recipes: Axolotl YAML files plus a `slingshot:` block that Axolotl ignores.

Axolotl 0.17 silently drops unknown top-level keys, so a typo such as `lora_rank` would
train with the default rank. `check_recipe` rejects unknown keys (naming file, line and
the closest known key) and validates the rest with Axolotl's own pydantic schema.
"""
import difflib
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from slingshot import layout
from slingshot.errors import UserError
from slingshot.io import atomic_write_text
from slingshot.tasks import get_task

# Keys every task's `slingshot:` block may hold, besides the task's RECIPE_DEFAULTS.
COMMON_KEYS = {
    "task": "which task module builds the data and scores the model (squad, julia)",
    "eval": "generation settings for the eval, e.g. max_new_tokens, batch_size, quantize (auto|none|4bit|8bit)",
    "hardware": "name and usd_per_hour of the machine the recipe is sized for (for cost per answer)",
    "allow_test_contamination": "true to train on data that holds test examples (reports mark them seen)",
}


class RecipeError(UserError):
    """A recipe problem; the message names the file, the line and the key."""


@dataclass
class Recipe:
    path: Path
    config: dict          # the whole YAML, as Axolotl reads it
    lines: dict           # top-level key -> line number
    deprecations: tuple = ()  # what Axolotl's validation says is deprecated in this recipe

    @property
    def name(self):
        return layout.recipe_name(self.path)

    @property
    def block(self):
        return self.config.get("slingshot") or {}

    @property
    def task(self):
        return get_task(self.block["task"])

    def params(self):
        """The task's data parameters: the block's values over the task's defaults."""
        task = self.task
        return {k: self.block.get(k, v) for k, v in task.RECIPE_DEFAULTS.items()}

    def eval_settings(self):
        return {**self.task.EVAL_DEFAULTS, **(self.block.get("eval") or {})}

    @property
    def paths(self):
        """Where the recipe's data, run, summary, adapter and exports are (see slingshot.layout)."""
        return layout.recipe_paths(self.config, self.block["task"], self.params()["test_split"])

    @property
    def output_dir(self):
        return self.paths["run"]

    def where(self, key):
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def load_recipe(path):
    """Read a recipe and check its keys; raises RecipeError with file, line and key."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: recipe not found (recipes live under recipes/<task>/<model>/<method>.yml)")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping of Axolotl keys")
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
    recipe = Recipe(path, config, lines)
    check_recipe(recipe)
    return recipe


def axolotl_keys():
    from axolotl.utils.schemas.config import AxolotlConfigWCapabilities

    return _field_names(AxolotlConfigWCapabilities)


def dataset_keys():
    from axolotl.utils.schemas.datasets import SFTDataset

    return _field_names(SFTDataset)


def _field_names(model):
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        if field.alias:
            names.add(field.alias)
    return names


# Names people carry over from other trainers, mapped to Axolotl's.
COMMON_MISTAKES = {"lora_rank": "lora_r", "rank": "lora_r", "lr": "learning_rate", "epochs": "num_epochs",
                   "batch_size": "micro_batch_size", "max_seq_length": "sequence_len", "model": "base_model"}


def suggest(key, known):
    """The known key a typo most likely meant: same first word first, then closest spelling."""
    if COMMON_MISTAKES.get(key) in known:
        return COMMON_MISTAKES[key]
    close = difflib.get_close_matches(key, sorted(known), n=5, cutoff=0.6)
    same_prefix = [c for c in close if c.split("_")[0] == key.split("_")[0]]
    return (same_prefix or close or [None])[0]


def _unknown(key, known, where, what):
    close = suggest(key, known)
    hint = f"; did you mean '{close}'?" if close else ""
    return RecipeError(f"{where}: unknown {what} '{key}' (it would be silently ignored){hint}")


def check_recipe(recipe):
    config = recipe.config
    known = axolotl_keys() | {"slingshot"}
    for key in config:
        if key not in known:
            raise _unknown(key, known, recipe.where(key), "Axolotl key")
    for list_key in ("datasets", "test_datasets"):
        ds_known = dataset_keys()
        for i, entry in enumerate(config.get(list_key) or []):
            for key in entry:
                if key not in ds_known:
                    raise _unknown(key, ds_known, f"{recipe.where(list_key)}", f"key in {list_key}[{i}]")
    block = config.get("slingshot")
    if not isinstance(block, dict) or "task" not in block:
        raise RecipeError(f"{recipe.where('slingshot')}: the recipe needs a 'slingshot:' block with a 'task' key")
    try:
        task = get_task(block["task"])
    except ValueError as e:
        raise RecipeError(f"{recipe.where('slingshot')}: slingshot.task: {e}") from None
    block_known = set(COMMON_KEYS) | set(task.RECIPE_DEFAULTS)
    for key in block:
        if key not in block_known:
            raise _unknown(key, block_known, recipe.where("slingshot"), "slingshot key")
    for key in ("base_model", "datasets", "output_dir"):
        if key not in config:
            raise RecipeError(f"{recipe.path}: missing required key '{key}'")
    for key in ("datasets", "test_datasets"):
        entries = config.get(key)
        if not entries or not isinstance(entries[0], dict) or not entries[0].get("path"):
            raise RecipeError(f"{recipe.where(key)}: '{key}' must name a dataset file (path:)")
    recipe.deprecations = validate_with_axolotl(recipe)
    for message in recipe.deprecations:
        print(f"warning: {recipe.path}: {message}", file=sys.stderr)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def validate_with_axolotl(recipe):
    """Axolotl's own schema, offline (no GPU capability probe, no hub access).

    Returns the deprecation warnings Axolotl logs while validating (a deprecated key still
    trains today, and silently stops working in a later Axolotl)."""
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault
    from pydantic import ValidationError

    config = {k: v for k, v in recipe.config.items() if k != "slingshot"}
    collect = _Collect()
    axolotl_log = logging.getLogger("axolotl")
    axolotl_log.addHandler(collect)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            validate_config(DictDefault(config))
        return [m for m in collect.messages + [str(w.message) for w in caught] if "deprecat" in m.lower()]
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in e.errors())
        raise RecipeError(f"{recipe.path}: Axolotl rejects the config: {problems}") from None
    except ValueError as e:
        raise RecipeError(f"{recipe.path}: Axolotl rejects the config: {e}") from None
    finally:
        axolotl_log.removeHandler(collect)


def derive_recipe(recipe, name, config_overrides=None, block_overrides=None):
    """A copy of a recipe under runs/derived/<name>/ with its own data and output folders."""
    config = dict(recipe.config)
    for key, value in (config_overrides or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    config["output_dir"] = f"runs/derived/{name}"
    config["dataset_prepared_path"] = f"runs/derived/{name}/prepared"
    for key, file in (("datasets", "train.jsonl"), ("test_datasets", "validation.jsonl")):
        if config.get(key):
            config[key] = [{**config[key][0], "path": f"data/derived/{name}/{file}"}]
    config["slingshot"] = {**recipe.block, **(block_overrides or {})}
    path = layout.RUNS_DIR / "derived" / name / "recipe.yml"
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
    return load_recipe(path)
