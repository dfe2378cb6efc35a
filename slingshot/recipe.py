"""Recipes: Axolotl YAML files plus a `slingshot:` block that Axolotl ignores.

Axolotl 0.17 silently drops unknown top-level keys, so a typo such as `lora_rank` would
train with the default rank. `check_recipe` rejects unknown keys (naming file, line and
the closest known key) and validates the rest with Axolotl's own pydantic schema.

A recipe owns its paths: data/<name>/ and runs/<name>/, from its file name (slingshot.layout.
recipe_home). A recipe leaves the path keys out and `own_paths` fills them in, so a copied and
edited recipe writes only into its own folders; a path key that points into another recipe's
folders fails at load time, and `claim_folders` refuses, before anything is written, a folder
that another recipe file already wrote into.
"""
import difflib
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
    "eval": "generation settings for the eval, e.g. max_new_tokens, batch_size",
    "hardware": "name and usd_per_hour of the machine the recipe is sized for (for cost per answer)",
    "allow_test_contamination": "true to train on data that holds test examples (reports mark them seen)",
    "sweep": "values to try, e.g. {train_size: [32, 64, 128], lora_r: [8, 32]} (make sweep)",
}


class RecipeError(UserError):
    """A recipe problem; the message names the file, the line and the key."""


@dataclass
class Recipe:
    path: Path
    config: dict          # the whole YAML, as Axolotl reads it
    lines: dict           # top-level key -> line number

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
    own_paths(recipe, node)
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
    validate_with_axolotl(recipe)


def validate_with_axolotl(recipe):
    """Axolotl's own schema, offline (no GPU capability probe, no hub access)."""
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault
    from pydantic import ValidationError

    config = {k: v for k, v in recipe.config.items() if k != "slingshot"}
    try:
        validate_config(DictDefault(config))
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in e.errors())
        raise RecipeError(f"{recipe.path}: Axolotl rejects the config: {problems}") from None
    except ValueError as e:
        raise RecipeError(f"{recipe.path}: Axolotl rejects the config: {e}") from None


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
    block = {k: v for k, v in recipe.block.items() if k != "sweep"}  # a derived recipe is one cell
    config["slingshot"] = {**block, **(block_overrides or {})}
    path = layout.RUNS_DIR / layout.DERIVED / name / "recipe.yml"
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
    return load_recipe(path)


# (key as the recipe writes it, how to read it from the config, how to set it)
PATH_KEYS = {
    "datasets[0].path": "train", "test_datasets[0].path": "validation",
    "output_dir": "output_dir", "dataset_prepared_path": "dataset_prepared_path",
}


def _get_path(config, key):
    if "[0]." in key:
        entries = config.get(key.split("[")[0])
        first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
        return first.get("path")
    return config.get(key)


def _set_path(config, key, value):
    if "[0]." in key:
        entries = config.get(key.split("[")[0])
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            entries[0]["path"] = value
    else:
        config[key] = value


def _path_lines(node):
    """Line of each path key in the file (for datasets: the line of `path:` in the first entry)."""
    lines = {}
    for key_node, value_node in getattr(node, "value", []):
        name = key_node.value
        if name in ("output_dir", "dataset_prepared_path"):
            lines[name] = key_node.start_mark.line + 1
        elif name in ("datasets", "test_datasets") and getattr(value_node, "value", None):
            first = value_node.value[0]
            if isinstance(first, yaml.MappingNode):
                for k, _ in first.value:
                    if k.value == "path":
                        lines[f"{name}[0].path"] = k.start_mark.line + 1
    return lines


def recipe_file_named(name):
    """The recipe under recipes/ whose name is `name`, if there is one."""
    for path in sorted(layout.RECIPES_DIR.glob("**/*.yml")):
        if layout.recipe_name(path) == name:
            return path
    return None


def own_paths(recipe, node=None):
    """Fill in the recipe's paths from its name; refuse a path into a folder it does not own.

    Inside the repo a path key must be the one its name gives (or be left out); a path outside
    the repo (a folder of your own) is allowed and guarded by claim_folders when written."""
    home = layout.recipe_home(recipe.path)
    lines = _path_lines(node) if node is not None else {}
    for key, home_key in PATH_KEYS.items():
        value = _get_path(recipe.config, key)
        if value is None:
            _set_path(recipe.config, key, home[home_key])
            continue
        if not isinstance(value, str):
            continue  # Axolotl's schema check names the wrong type
        path = (layout.ROOT / value).resolve()
        try:
            path.relative_to(layout.ROOT)
        except ValueError:
            continue
        if path == (layout.ROOT / home[home_key]).resolve():
            continue
        where = f"{recipe.path}:{lines[key]}" if key in lines else str(recipe.path)
        owner = layout.owner_of(path)
        if owner and owner != recipe.name:
            owner_file = recipe_file_named(owner)
            whose = f"recipe {owner}" + (f" ({layout.display_path(owner_file)})" if owner_file else "")
            problem = f"{key}: {value} is a folder of {whose}, not of this recipe ({recipe.name})"
        else:
            problem = f"{key}: {value} is not this recipe's folder"
        raise RecipeError(
            f"{where}: {problem}; training or preparing it would overwrite that folder's files. "
            f"Fix: delete the key (slingshot fills in {home[home_key]} from the recipe's file name), "
            f"or set {key}: {home[home_key]}")


def claim_folders(recipe):
    """Mark the data and run folders as this recipe's, before anything is written into them.

    Fails if one of them already belongs to another recipe file that still exists (two
    recipes naming the same output_dir or dataset path, e.g. both outside the repo)."""
    me = layout.display_path(recipe.path)
    paths = recipe.paths
    folders = sorted({paths["train"].parent, paths["validation"].parent, paths["run"]})
    for folder in folders:
        marker = folder / layout.OWNER_FILE
        if not marker.exists():
            continue
        owner = marker.read_text(encoding="utf-8").strip()
        owner_path = layout.ROOT / owner
        if owner != me and owner_path.exists() and owner_path.resolve() != recipe.path.resolve():
            key = "output_dir" if folder == paths["run"] else "datasets[0].path / test_datasets[0].path"
            raise RecipeError(
                f"{recipe.path}: {key} points at {layout.display_path(folder)}, which belongs to {owner}; "
                f"two recipes cannot share a folder (each would overwrite the other's data and adapter). "
                f"Fix: delete the path keys from {recipe.path} (its name then gives it data/<name> and "
                f"runs/<name>), or point them at a folder of its own")
    for folder in folders:
        atomic_write_text(folder / layout.OWNER_FILE, me + "\n")
