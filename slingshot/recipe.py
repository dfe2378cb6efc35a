"""Recipes: Axolotl YAML files plus a `slingshot:` block that Axolotl ignores.

Axolotl silently drops unknown top-level keys, so a typo such as `lora_rank` would
train with the default rank. `check_recipe` rejects unknown keys (naming file, line and
the closest known key) and validates the rest with Axolotl's own pydantic schema.

A recipe owns its paths: data/<name>/ and runs/<name>/, from its file name (slingshot.layout.
recipe_home). A recipe leaves the path keys out and `own_paths` fills them in, so a copied and
edited recipe writes only into its own folders; a path key that points into another recipe's
folders fails at load time, and `claim_folders` refuses, before anything is written, a folder
that another recipe file already wrote into.
"""
import contextlib
import difflib
import logging
import math
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from slingshot import layout
from slingshot.errors import DataError, UserError
from slingshot.io import atomic_write_text
from slingshot.tasks import TASKS, get_task, parse_size

# Keys every task's `slingshot:` block may hold, besides the task's RECIPE_DEFAULTS.
COMMON_KEYS = {
    "task": f"which task module builds the data and scores the model ({', '.join(TASKS)})",
    "eval": "generation settings for the eval, e.g. max_new_tokens, batch_size, quantize (auto|none|4bit|8bit)",
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
        params = self.params()
        split = layout.test_split_name(params["test_split"], params["source"])
        return layout.recipe_paths(self.config, self.block["task"], split)

    @property
    def output_dir(self):
        return self.paths["run"]

    def where(self, key):
        line = self.lines.get(key) or (self.lines.get("slingshot") if key.startswith("slingshot.") else None)
        return f"{self.path}:{line}" if line else str(self.path)


def load_recipe(path):
    """Read a recipe and check its keys; raises RecipeError with file, line and key."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: recipe not found (recipes live under recipes/<task>/<model>/<method>.yml)")
    if not path.is_file():
        raise RecipeError(f"{path}: is a folder, not a recipe; give the recipe's .yml file")
    config, lines, node = read_yaml_mapping(path)
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
    check_key_types(recipe)
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
        if not entries or not isinstance(entries, list) or not isinstance(entries[0], dict) \
                or not entries[0].get("path"):
            raise RecipeError(f"{recipe.where(key)}: '{key}' must name a dataset file (path:)")
    check_values(recipe)  # before Axolotl is imported (seconds): the common mistakes fail fast
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
        errors = e.errors()
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in errors)
        where = recipe.where(str(errors[0]["loc"][0])) if errors and errors[0]["loc"] else recipe.path
        raise RecipeError(f"{where}: Axolotl rejects the config: {problems}") from None
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
    block = {k: v for k, v in recipe.block.items() if k != "sweep"}  # a derived recipe is one cell
    config["slingshot"] = {**block, **(block_overrides or {})}
    path = layout.RUNS_DIR / layout.DERIVED / name / "recipe.yml"
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))
    return load_recipe(path)


# A recipe cut to a few steps on a few rows: to check a set-up in minutes (the notebook's SHORT setting)
# and, in the tests, the one short training that every test only reading an adapter shares.
SHORT_CONFIG = {"max_steps": 3, "evals_per_epoch": None}
SHORT_BLOCK = {"train_size": 24, "validation_size": 8}


def short_recipe(recipe):
    return derive_recipe(recipe, f"{recipe.name}-short", SHORT_CONFIG, SHORT_BLOCK)


# ---------- reading the YAML: duplicate keys and alias bombs are errors, not silent surprises ----------

MAX_YAML_VALUES = 100_000  # a recipe holds a few hundred; aliases may not expand beyond this


def read_yaml_mapping(path):
    """(config, lines, node) of a recipe file. lines maps each top-level key, and each `slingshot.<key>`,
    to its line. Checked on the node graph before any value is built: a key given twice, or aliases
    expanding past MAX_YAML_VALUES, raise RecipeError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise RecipeError(f"{path}:{line}: not UTF-8 text (byte {e.object[e.start]:#x}); save the recipe as UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, path)
            _check_duplicate_keys(node, path)
        config = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    finally:
        loader.dispose()
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping of Axolotl keys")
    lines = {}
    for key, value in node.value:
        lines[key.value] = key.start_mark.line + 1
        if key.value == "slingshot" and isinstance(value, yaml.MappingNode):
            for sub, _ in value.value:
                lines[f"slingshot.{sub.value}"] = sub.start_mark.line + 1
    return config, lines, node


def _children(node):
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []


def _check_expansion(root, path):
    """Count the values the document expands to (an alias repeats its anchor's whole subtree)."""
    size = {}
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in size:
            continue
        if expanded:
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_YAML_VALUES:
                raise RecipeError(
                    f"{path}:{node.start_mark.line + 1}: YAML aliases here expand to more than "
                    f"{MAX_YAML_VALUES:,} values; write the values out instead of nesting aliases")
            size[id(node)] = total
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in size)


def _check_duplicate_keys(root, path):
    seen_nodes, stack = set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                if key.value in first:
                    raise RecipeError(f"{path}:{line}: key '{key.value}' is given twice (first at line "
                                      f"{first[key.value]}); YAML would silently keep the later value")
                first[key.value] = line
        stack.extend(_children(node))


# ---------- values: each checked with the file, line and key in the message ----------

def check_key_types(recipe):
    for key in list(recipe.config) + list(recipe.block if isinstance(recipe.block, dict) else {}):
        if not isinstance(key, str):
            where = recipe.where(str(key)) if str(key) in recipe.lines else recipe.where(f"slingshot.{key}")
            raise RecipeError(f"{where}: key {key!r} is not a name; recipe keys are words like 'lora_r'")


def check_values(recipe):
    """Value checks Axolotl's schema does not make, or makes too late (the slingshot block,
    the folder training clears). Raises RecipeError naming file, line and key."""
    _check_prepared_path(recipe)
    block = recipe.block

    def fail(key, message):
        raise RecipeError(f"{recipe.where('slingshot.' + key)}: slingshot.{key}: {message}")

    if "seed" in block and not _is_int(block["seed"]):
        fail("seed", f"expected an integer, got {block['seed']!r}")
    if "source" in block:
        problem = _source_problem(block["source"], recipe.task.SOURCES)
        if problem:
            fail("source", problem)
    for key, forms in recipe.task.SIZE_FORMS.items():  # 'count' means >= 1: every recipe has a validation file
        if key in block:
            try:
                parse_size(block[key], None, f"slingshot.{key}", forms)
            except DataError as e:
                raise RecipeError(f"{recipe.where('slingshot.' + key)}: {e}") from None
    for key, problem in recipe.task.check_recipe_values(block):
        fail(key, problem)
    if "test_split" in block:
        splits = getattr(recipe.task, "TEST_SPLITS", {})
        if not isinstance(block["test_split"], str) or (splits and block["test_split"] not in splits):
            fail("test_split", f"unknown split {block['test_split']!r}; known: {', '.join(splits)}")
    if "allow_test_contamination" in block and not isinstance(block["allow_test_contamination"], bool):
        fail("allow_test_contamination", f"expected true or false, got {block['allow_test_contamination']!r}")
    for key, number in (("eval", "max_new_tokens"), ("hardware", "usd_per_hour")):
        if key not in block:
            continue
        if not isinstance(block[key], dict):
            fail(key, f"expected a mapping, got {block[key]!r}")
        value = block[key].get(number)
        low = 1 if number == "max_new_tokens" else 0
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value < low
                                  or (number == "max_new_tokens" and not _is_int(value))):
            fail(key, f"{number}: expected a number >= {low}, got {value!r}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


SOURCE_FORMS = {"local": "'local'", "hub": "'hub:<dataset>'", "folder": "a folder"}


def _source_problem(source, kinds):
    """Why a `source:` is unusable for a task whose SOURCES are `kinds`, or None."""
    forms = " or ".join(SOURCE_FORMS[k] for k in kinds)
    if not isinstance(source, str) or not source:
        return f"expected {forms}, got {source!r}"
    if source == "local":
        return None
    if source.startswith("hub:"):
        return None if "hub" in kinds else f"{source!r}: this task has no hub source; use {forms}"
    if "folder" not in kinds:
        return f"{source!r}: this task reads no folder source; use {forms}"
    if not layout.resolve(source).is_dir():
        return f"{source!r} is not an existing folder; use {forms}"
    return None


def _check_prepared_path(recipe):
    """Training deletes dataset_prepared_path before it runs, so it must lie inside the run folder."""
    key = "dataset_prepared_path"
    value = recipe.config.get(key)
    if not isinstance(recipe.config["output_dir"], str) or not recipe.config["output_dir"].strip():
        raise RecipeError(f"{recipe.where('output_dir')}: output_dir must name the run folder, e.g. "
                          f"'runs/{recipe.name}'")
    run = recipe.paths["run"].resolve()
    if not isinstance(value, str) or not value.strip():
        raise RecipeError(f"{recipe.where(key) if key in recipe.lines else recipe.path}: {key} must name a "
                          f"folder inside the run folder, e.g. '{layout.display_path(run)}/prepared'")
    prepared = recipe.paths["prepared"].resolve()
    if prepared == run or not prepared.is_relative_to(run):
        raise RecipeError(f"{recipe.where(key)}: {key}: {value!r} is outside the run folder "
                          f"{layout.display_path(run)}; training clears this folder, so it must lie inside "
                          f"the run folder, e.g. '{layout.display_path(run)}/prepared'")


@contextlib.contextmanager
def data_errors_located(recipe):
    """Prefix a data error about `slingshot.<key>` with the recipe file and that key's line."""
    try:
        yield
    except UserError as e:
        match = re.match(r"slingshot\.(\w+):", str(e))
        if not match:
            raise
        raise type(e)(f"{recipe.where('slingshot.' + match.group(1))}: {e}") from None


# ---------- paths: a recipe owns data/<name>/ and runs/<name>/ ----------

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
    if recipe.name in layout.RESERVED_NAMES:
        raise RecipeError(f"{recipe.path}: a recipe named {recipe.name!r} would own a folder every recipe shares "
                          f"(data/{recipe.name}/ or runs/{recipe.name}/); rename the file, e.g. my-lora.yml")
    home = layout.recipe_home(recipe.path)
    lines = _path_lines(node) if node is not None else {}
    for key, home_key in PATH_KEYS.items():
        value = _get_path(recipe.config, key)
        if value is None:
            if key == "dataset_prepared_path" and isinstance(recipe.config.get("output_dir"), str):
                _set_path(recipe.config, key, f"{recipe.config['output_dir']}/prepared")  # inside the run, wherever it is
            else:
                _set_path(recipe.config, key, home[home_key])
            continue
        if not isinstance(value, str):
            continue  # Axolotl's schema check names the wrong type
        path = layout.resolve(value).resolve()
        if layout.relative_path(path) is None:
            continue  # outside the workspace and the repository
        if path == layout.resolve(home[home_key]).resolve():
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


def claim_folders(recipe, folders=None):
    """Mark the folders a command writes as this recipe's, before anything is written into them.

    `folders` maps each folder to the key or option that names it; by default the recipe's data and
    run folders (data prep and training). Fails if one of them already belongs to another recipe file
    that still exists (two recipes naming the same output_dir or dataset path, e.g. both outside the
    repo, or two recipe files of one name sharing reports/<name>/)."""
    if folders is None:
        folders = data_and_run_folders(recipe)
    me = layout.display_path(recipe.path)
    for folder, key in sorted(folders.items()):
        marker = folder / layout.OWNER_FILE
        if not marker.exists():
            continue
        owner = marker.read_text(encoding="utf-8").strip()
        owner_path = layout.resolve(owner)
        if owner != me and owner_path.exists() and owner_path.resolve() != recipe.path.resolve():
            raise RecipeError(
                f"{recipe.path}: {key} points at {layout.display_path(folder)}, which belongs to {owner}; "
                f"two recipes cannot share a folder (each would overwrite the other's files). "
                f"Fix: delete the path keys from {recipe.path} (its name then gives it data/<name> and "
                f"runs/<name>), or point them at a folder of its own; rename a recipe file whose name "
                f"another recipe already has")
    for folder in folders:
        atomic_write_text(folder / layout.OWNER_FILE, me + "\n")


def data_and_run_folders(recipe):
    """The folders data prep and training write, by the key that names them."""
    paths = recipe.paths
    train, validation = paths["train"].resolve(), paths["validation"].resolve()
    if train == validation:
        raise RecipeError(f"{recipe.path}: datasets[0].path and test_datasets[0].path are the same file "
                          f"({layout.display_path(train)}); validation rows would replace the training rows")
    if recipe.path.resolve() in (train, validation):
        raise RecipeError(f"{recipe.path}: a dataset path names the recipe file itself; it would be overwritten")
    data_key = "datasets[0].path / test_datasets[0].path"
    return {paths["train"].parent: data_key, paths["validation"].parent: data_key, paths["run"]: "output_dir"}


def shipped_recipes(gpu_only=False):
    """The recipes under recipes/<task>/<model>/; `gpu_only` leaves out the *-cpu ones."""
    paths = sorted(layout.RECIPES_DIR.glob("*/*/*.yml"))
    return [p for p in paths if not (gpu_only and "cpu" in p.stem)]


def distinct_trainings(paths):
    """One recipe per distinct training: recipes whose Axolotl settings are the same (paths aside),
    like the Julia cheater and unseen twins, which differ only in what they are scored on, train alike."""
    seen, distinct = set(), []
    for path in paths:
        config = yaml.safe_load(Path(path).read_text())
        settings = yaml.safe_dump({k: v for k, v in config.items() if k != "slingshot" and k not in PATH_KEYS},
                                  sort_keys=True)
        if settings not in seen:
            seen.add(settings)
            distinct.append(path)
    return distinct
