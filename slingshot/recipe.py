"""Recipes: Axolotl YAML files plus a `slingshot:` block that Axolotl ignores.

Axolotl silently drops unknown top-level keys, so a typo such as `lora_rank` would
train with the default rank. `check_recipe` rejects unknown keys, those of the slingshot block
and its nested blocks included (naming file, the key's own line and the closest known key),
checks the values Axolotl's schema lets through (`lora_r: -8`, `num_epochs: 0`) and every key and
value of the recipe's sweep, and validates the rest with Axolotl's own pydantic schema.

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
from slingshot.errors import UserError
from slingshot.io import atomic_write_text
from slingshot.tasks import TASKS, get_task, size_problem

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
        """file:line of a key ('lora_r', 'slingshot.eval.shots'); a key the file lacks: its parent's line."""
        while key and key not in self.lines:
            key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key) if re.search(r"[.\[]", key) else ""
        return f"{self.path}:{self.lines[key]}" if key else str(self.path)


def load_recipe(path):
    """Read a recipe and check its keys; raises RecipeError with file, line and key."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: recipe not found (recipes live under recipes/<task>/<model>/<method>.yml)")
    if not path.is_file():
        raise RecipeError(f"{path}: is a folder, not a recipe; give the recipe's .yml file")
    config, lines = read_yaml_mapping(path)
    recipe = Recipe(path, config, lines)
    own_paths(recipe)
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
            raise _unknown(key, block_known, recipe.where(f"slingshot.{key}"), "slingshot key")
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
                    raise _unknown(key, ds_known, recipe.where(f"{list_key}[{i}].{key}"), f"key in {list_key}[{i}]")
    if "sweep" in block:
        check_sweep(recipe, sweep_grid(recipe), block_where(recipe))
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


def derive_recipe(recipe, name, config_overrides=None, block_overrides=None, beside=None):
    """A copy of a recipe with its own data and output folders (layout.derived_home), checked, then written."""
    derived = derived_recipe(recipe, name, config_overrides, block_overrides, beside)
    atomic_write_text(derived.path, yaml.safe_dump(derived.config, sort_keys=False))
    return load_recipe(derived.path)


def derived_recipe(recipe, name, config_overrides=None, block_overrides=None, beside=None):
    """The derived recipe as derive_recipe writes it, checked as load_recipe checks a file; nothing written."""
    path, home = layout.derived_home(name, beside)
    config = dict(recipe.config)
    for key, value in (config_overrides or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    config["output_dir"] = home["output_dir"]
    config["dataset_prepared_path"] = home["dataset_prepared_path"]
    for key, file in (("datasets", "train"), ("test_datasets", "validation")):
        if config.get(key):
            config[key] = [{**config[key][0], "path": home[file]}]
    block = {k: v for k, v in recipe.block.items() if k != "sweep"}  # a derived recipe is one cell
    config["slingshot"] = {**block, **(block_overrides or {})}
    derived = Recipe(path, config, {})
    own_paths(derived)
    check_recipe(derived)
    return derived


# ---------- sweeps: every key and value checked before any cell is written ----------

class SweepError(RecipeError):
    """A bad sweep spec or a cell that failed; the message names the key or the cell's log."""


# Keys every cell of a sweep shares, and why.
FIXED_KEYS = {
    "datasets": "every cell makes its own data from the slingshot keys (sweep train_size or slingshot.seed)",
    "test_datasets": "every cell makes its own validation data from the slingshot keys (sweep validation_size)",
    "output_dir": "every cell gets its own folders", "dataset_prepared_path": "every cell gets its own folders",
    "slingshot": "sweep the block's keys one by one, e.g. train_size",
    "slingshot.task": "a sweep compares cells of one task",
    "slingshot.test_split": "every cell is scored on the recipe's test split, against one base-model score",
    "slingshot.eval": "every cell is scored with the same eval settings",
    "slingshot.hardware": "every cell is priced on the same machine",
    "slingshot.sweep": "a cell is one point of the grid",
}


def spec_where(key=None):
    """Where a --sweep problem is: the option, and the key."""
    return "--sweep" + (f" {key}" if key is not None else "")


def block_where(recipe):
    """Where a slingshot.sweep problem is: the file, the key's own line, and the key."""
    def where(key=None):
        name = "slingshot.sweep" + (f".{key}" if key is not None else "")
        return f"{recipe.where(name)}: {name}"
    return where


def sweep_grid(recipe):
    """The grid of the recipe's own `slingshot.sweep:` block ({key: [values]}), or None."""
    block = recipe.block.get("sweep")
    if block is None:
        return None
    if not isinstance(block, dict) or not block:
        raise SweepError(f"{block_where(recipe)()}: must map keys to lists of values, "
                         f"e.g. {{train_size: [32, 64], seed: [0, 1]}}")
    return {k: v if isinstance(v, list) else [v] for k, v in block.items()}


def sweepable(recipe):
    """What a sweep may vary, as an error message says it."""
    fixed = {k.split(".")[1] for k in FIXED_KEYS if "." in k}
    axolotl = axolotl_keys()
    block = sorted(f"slingshot.{k}" if k in axolotl else k
                   for k in (set(COMMON_KEYS) | set(recipe.task.RECIPE_DEFAULTS)) - fixed)
    return (f"a sweep varies Axolotl training settings (e.g. lora_r, lora_alpha, learning_rate, num_epochs, seed) "
            f"and the slingshot keys {', '.join(block)}")


def sweep_target(recipe, key, axolotl, where):
    """The recipe key a sweep key sets: 'lora_r' -> 'lora_r', 'train_size' -> 'slingshot.train_size'.
    `seed` is Axolotl's training seed; `slingshot.seed` would redraw the data."""
    key = str(key)
    block_known = set(COMMON_KEYS) | set(recipe.task.RECIPE_DEFAULTS)
    bare = key.removeprefix("slingshot.")
    in_block = key.startswith("slingshot.") or (bare in block_known and bare not in axolotl)
    target = f"slingshot.{bare}" if in_block else key
    if target in FIXED_KEYS or key in FIXED_KEYS:
        raise SweepError(f"{where}: cannot be swept: {FIXED_KEYS.get(target) or FIXED_KEYS[key]}; "
                         f"{sweepable(recipe)}")
    if (in_block and bare not in block_known) or (not in_block and key not in axolotl):
        known = block_known if key.startswith("slingshot.") else axolotl | block_known
        close = suggest(bare, known)
        kind = f"slingshot key {bare!r}" if key.startswith("slingshot.") else \
            f"key {key!r} (neither Axolotl nor slingshot)"
        raise SweepError(f"{where}: unknown {kind}" + (f"; did you mean {close!r}?" if close else "")
                         + f"; {sweepable(recipe)}")
    return target


def same_value(value):
    """What makes two sweep values train the same cell: 8 and 8.0, 1e-4 and 0.0001."""
    return ("number", float(value)) if _is_number(value) else (type(value).__name__, repr(value))


def check_sweep(recipe, grid, where):
    """Every key and value of a sweep grid, checked as the recipe's own values are, before any cell
    is written. Returns {sweep key: the recipe key it sets}."""
    axolotl, checks, targets = axolotl_keys(), value_checks(recipe.block["task"]), {}
    for key, values in grid.items():
        target = sweep_target(recipe, key, axolotl, where(key))
        twin = next((k for k, t in targets.items() if t == target), None)
        if twin is not None:
            raise SweepError(f"{where(key)}: {target} is given twice (as {twin} and {key})")
        targets[key] = target
        _check_sweep_values(values, target, checks, where(key))
    return targets


def _check_sweep_values(values, target, checks, where):
    if not isinstance(values, list) or not values:
        raise SweepError(f"{where}: expected a list of values to try, e.g. [8, 16]")
    seen = {}
    for value in values:
        if value is None:
            raise SweepError(f"{where}: null is not a value to train with (the cell would train with "
                             f"Axolotl's default and be named 'None'); write the value, or leave it out")
        if isinstance(value, dict):
            raise SweepError(f"{where}: {_shown(value)}: a mapping cannot be swept; sweep its keys")
        if same_value(value) in seen:
            raise SweepError(f"{where}: repeats a value: {_shown(seen[same_value(value)])} and {_shown(value)} "
                             f"are the same, so the same cell would train twice; give it once")
        seen[same_value(value)] = value
        problem = value_problem(checks, target, value)
        if problem:
            raise SweepError(f"{where}: {problem}")


# A recipe cut to a few steps on a few rows: to check a set-up in minutes (the notebook's SHORT setting)
# and, in the tests, the one short training that every test only reading an adapter shares.
SHORT_CONFIG = {"max_steps": 3, "evals_per_epoch": None}
SHORT_BLOCK = {"train_size": 24, "validation_size": 8}


def short_recipe(recipe):
    return derive_recipe(recipe, f"{recipe.name}-short", SHORT_CONFIG, SHORT_BLOCK)


# ---------- reading the YAML: duplicate keys and alias bombs are errors, not silent surprises ----------

MAX_YAML_VALUES = 100_000  # a recipe holds a few hundred; aliases may not expand beyond this


class RecipeLoader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `1e-4` and `5e-5` (no dot) are text, not numbers: Axolotl would get
    learning_rate '1e-4'. Here they are numbers, as YAML 1.2 and every other reader says."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def yaml_value(text):
    """One value written as in a recipe (a --sweep value): `1e-4` is a number, as in a recipe file."""
    return yaml.load(text, Loader=RecipeLoader)


def read_yaml_mapping(path):
    """(config, lines) of a recipe file. lines maps every key, nested ones included
    ('slingshot.eval.shots', 'datasets[0].path'), to its line. Checked on the node graph before any
    value is built: a key given twice, or aliases expanding past MAX_YAML_VALUES, raise RecipeError
    naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise RecipeError(f"{path}:{line}: not UTF-8 text (byte {e.object[e.start]:#x}); save the recipe as UTF-8") from None
    loader = RecipeLoader(text)
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
    return config, key_lines(node)


def key_lines(node, prefix="", depth=4):
    """Line of every key down to `depth` levels: {'lora_r': 3, 'slingshot.eval.shots': 60, 'datasets[0].path': 8}."""
    lines = {}
    if depth == 0:
        return lines
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            name = f"{prefix}.{key.value}" if prefix else key.value
            lines.setdefault(name, key.start_mark.line + 1)
            lines.update({k: v for k, v in key_lines(value, name, depth - 1).items() if k not in lines})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(key_lines(item, f"{prefix}[{i}]", depth - 1))
    return lines


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


# ---------- values: each checked with the file, the value's own line and the key in the message ----------

def check_key_types(recipe):
    for key in list(recipe.config) + list(recipe.block if isinstance(recipe.block, dict) else {}):
        if not isinstance(key, str):
            where = recipe.where(str(key)) if str(key) in recipe.lines else recipe.where(f"slingshot.{key}")
            raise RecipeError(f"{where}: key {key!r} is not a name; recipe keys are words like 'lora_r'")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value):
    """A value as the recipe wrote it; a quoted number says why it is not one."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            return f"{value!r} (text, because it is quoted; write the number without quotes)"
    return "null" if value is None else repr(value)


def integer(low=None, what=None, high=None):
    """Check: an integer >= low and <= high (not true/false, not 8.0)."""
    what = what or ("an integer" if low is None else f"an integer >= {low}") + (f" and <= {high}" if high else "")

    def check(value):
        ok = _is_int(value) and (low is None or value >= low) and (high is None or value <= high)
        return None if ok else f"expected {what}, got {_shown(value)}"
    return check


def number(low, high=None, above=False, below=False):
    """Check: a finite number >= low (above: > low), and <= high (below: < high)."""
    what = f"a number {'>' if above else '>='} {low}" + (f" and {'<' if below else '<='} {high}" if high is not None else "")

    def check(value):
        ok = _is_number(value) and math.isfinite(value) and (value > low if above else value >= low) \
            and (high is None or (value < high if below else value <= high))
        return None if ok else f"expected {what}, got {_shown(value)}"
    return check


def one_of(*choices):
    def check(value):
        return None if isinstance(value, str) and value in choices else \
            f"expected one of {', '.join(choices)}, got {_shown(value)}"
    return check


def flag(value):
    return None if isinstance(value, bool) else f"expected true or false, got {_shown(value)}"


def text(value):
    return None if isinstance(value, str) and value.strip() else f"expected a name, got {_shown(value)}"


def size(forms):
    """Check: a train_size or validation_size in one of a task's SIZE_FORMS (slingshot.tasks.parse_size)."""
    def check(value):
        return size_problem(value, forms, _shown)
    return check


def batch_size(value):
    return None if value == "auto" or (_is_int(value) and value >= 1) else \
        f"expected 'auto' or an integer >= 1, got {_shown(value)}"


MAX_RANK = 65536  # above any model's hidden size: a larger rank is a typo, and the planner's figures overflow

# The Axolotl keys recipes use whose values Axolotl's schema takes without a range check
# (lora_r: -8, num_epochs: 0 and learning_rate: -1 pass it): key -> (check, an example value).
AXOLOTL_VALUES = {
    "lora_r": (integer(1, high=MAX_RANK), 16), "lora_alpha": (integer(1, high=MAX_RANK * 64), 32), "lora_dropout": (number(0, 1, below=True), 0.05),
    "num_epochs": (number(0, above=True), 1), "max_steps": (integer(1), 100),
    "learning_rate": (number(0, above=True), 0.0002), "weight_decay": (number(0), 0.0),
    "warmup_steps": (integer(0), 10), "warmup_ratio": (number(0, 1, below=True), 0.03),
    "max_grad_norm": (number(0), 1.0), "micro_batch_size": (integer(1), 8), "eval_batch_size": (integer(1), 8),
    "gradient_accumulation_steps": (integer(1), 4), "sequence_len": (integer(1), 2048), "seed": (integer(0), 0),
    "logging_steps": (integer(1), 1), "evals_per_epoch": (integer(0), 2), "saves_per_epoch": (integer(0), 1),
    "eval_steps": (number(0, above=True), 50), "save_steps": (number(0, above=True), 50),
    "dataset_num_proc": (integer(1), 1),
}

# The slingshot block's nested settings: key -> (check, an example value).
EVAL_VALUES = {
    "max_new_tokens": (integer(1), 32), "shots": (integer(0), 3), "batch_size": (batch_size, "auto"),
    "quantize": (one_of("auto", "none", "4bit", "8bit"), "auto"),
}
HARDWARE_VALUES = {"name": (text, "1x A10G 24 GB"), "usd_per_hour": (number(0), 1.01), "gpus": (integer(1), 1)}
NESTED_BLOCKS = {"eval": EVAL_VALUES, "hardware": HARDWARE_VALUES}


def value_checks(task_name):
    """Recipe key ('lora_r', 'slingshot.train_size', 'slingshot.eval.shots') -> (check, example) for
    every key whose values are checked at read time."""
    task = get_task(task_name)
    splits = task.TEST_SPLITS
    checks = {
        "slingshot.seed": (integer(), 0),
        # sizes take the task's SIZE_FORMS, parsed as data prep and plan parse them; validation_size is a
        # count >= 1 everywhere (a validation file is part of every recipe)
        "slingshot.validation_size": (size(task.SIZE_FORMS["validation_size"]), 32),
        "slingshot.train_size": (size(task.SIZE_FORMS["train_size"]), 128),
        "slingshot.source": (lambda v: _source_problem(v, task.SOURCES), "local"),
        "slingshot.test_split": (lambda v: None if isinstance(v, str) and (not splits or v in splits) else
                                 f"unknown split {v!r}; known: {', '.join(splits)}", None),
        "slingshot.allow_test_contamination": (flag, None),
    }
    checks.update({f"slingshot.{key}": entry for key, entry in task.RECIPE_VALUE_CHECKS.items()})
    for block, values in NESTED_BLOCKS.items():
        checks.update({f"slingshot.{block}.{key}": entry for key, entry in values.items()})
    return {**AXOLOTL_VALUES, **checks}


def value_problem(checks, key, value):
    """Why `value` cannot be recipe key `key`, with the fix; None when it can (or is not checked)."""
    check, example = checks.get(key, (None, None))
    problem = check(value) if check else None
    if problem and example is not None:
        problem += f"; e.g. {key.rsplit('.', 1)[-1]}: {example}"
    return problem


def recipe_values(config):
    """(key, value) of every checked place: top-level keys, `slingshot.<key>`, `slingshot.eval.<key>`..."""
    block = config.get("slingshot") or {}
    items = [(k, v) for k, v in config.items() if k != "slingshot"]
    for key, value in block.items():
        if key in NESTED_BLOCKS and isinstance(value, dict):
            items += [(f"slingshot.{key}.{sub}", v) for sub, v in value.items()]
        else:
            items.append((f"slingshot.{key}", value))
    return items


def check_values(recipe):
    """Value checks Axolotl's schema does not make, or makes too late (ranges, the slingshot block,
    the folder training clears). Raises RecipeError naming file, the value's line, the key and the fix."""
    _check_prepared_path(recipe)
    _check_nested_keys(recipe)
    checks = value_checks(recipe.block["task"])
    for key, value in recipe_values(recipe.config):
        problem = value_problem(checks, key, value)
        if problem:
            raise RecipeError(f"{recipe.where(key)}: {key}: {problem}")
    _check_eval_schedule(recipe)


def _check_eval_schedule(recipe):
    """Axolotl evaluates every 1 / (evals_per_epoch x num_epochs) of the run only when that is below 1:
    `evals_per_epoch: 1` over one epoch would silently run no validation at all. Runs after the value
    checks, so both are numbers in range here (or absent)."""
    per_epoch, epochs = recipe.config.get("evals_per_epoch"), recipe.config.get("num_epochs", 1)
    if per_epoch and per_epoch * epochs <= 1:
        raise RecipeError(
            f"{recipe.where('evals_per_epoch')}: evals_per_epoch: {per_epoch} with num_epochs: {epochs} makes Axolotl "
            f"skip validation: it evaluates every 1 / (evals_per_epoch x num_epochs) of the run, and only when that "
            f"is below 1; make evals_per_epoch x num_epochs above 1, or leave evals_per_epoch out for none")


def _check_nested_keys(recipe):
    """slingshot.eval and slingshot.hardware are mappings of known keys (a typo would be ignored)."""
    for block, values in NESTED_BLOCKS.items():
        if block not in recipe.block:
            continue
        settings = recipe.block[block]
        if not isinstance(settings, dict):
            raise RecipeError(f"{recipe.where('slingshot.' + block)}: slingshot.{block}: expected a mapping "
                              f"such as {{{', '.join(f'{k}: {v[1]}' for k, v in list(values.items())[:2])}}}, "
                              f"got {_shown(settings)}")
        known = set(values) | (set(recipe.task.EVAL_DEFAULTS) if block == "eval" else set())
        for key in settings:
            if key not in known:
                raise _unknown(key, known, recipe.where(f"slingshot.{block}.{key}"), f"slingshot.{block} key")


SOURCE_FORMS = {"local": "'local'", "hub": "'hub:<dataset>'", "folder": "a folder"}


def _source_problem(source, kinds):
    """Why a `source:` is unusable for a task whose SOURCES are `kinds`, or None."""
    forms = " or ".join(SOURCE_FORMS[k] for k in kinds)
    if not isinstance(source, str) or not source:
        return f"expected {forms}, got {_shown(source)}"
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


def recipe_file_named(name):
    """The recipe under recipes/ whose name is `name`, if there is one."""
    for path in sorted(layout.RECIPES_DIR.glob("**/*.yml")):
        if layout.recipe_name(path) == name:
            return path
    return None


def own_paths(recipe):
    """Fill in the recipe's paths from its name; refuse a path into a folder it does not own.

    Inside the repo a path key must be the one its name gives (or be left out); a path outside
    the repo (a folder of your own) is allowed and guarded by claim_folders when written."""
    if recipe.name in layout.RESERVED_NAMES:
        raise RecipeError(f"{recipe.path}: a recipe named {recipe.name!r} would own a folder every recipe shares "
                          f"(data/{recipe.name}/ or runs/{recipe.name}/); rename the file, e.g. my-lora.yml")
    home = layout.recipe_home(recipe.path)
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
        where = recipe.where(key)
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
        config = yaml.load(Path(path).read_text(), Loader=RecipeLoader)
        settings = yaml.safe_dump({k: v for k, v in config.items() if k != "slingshot" and k not in PATH_KEYS},
                                  sort_keys=True)
        if settings not in seen:
            seen.add(settings)
            distinct.append(path)
    return distinct
