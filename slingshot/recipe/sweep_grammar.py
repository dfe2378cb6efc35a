"""The sweep grammar: which keys a sweep may vary (`slingshot.sweep:` in a recipe, or --sweep), and
every key and value checked, as the recipe's own values are, before any cell is written."""
from slingshot.recipe.core import COMMON_KEYS, RecipeError
from slingshot.recipe.keys import axolotl_keys, suggest
from slingshot.recipe.values import is_number, shown, value_checks, value_problem


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
    return ("number", float(value)) if is_number(value) else (type(value).__name__, repr(value))


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
            raise SweepError(f"{where}: {shown(value)}: a mapping cannot be swept; sweep its keys")
        if same_value(value) in seen:
            raise SweepError(f"{where}: repeats a value: {shown(seen[same_value(value)])} and {shown(value)} "
                             f"are the same, so the same cell would train twice; give it once")
        seen[same_value(value)] = value
        problem = value_problem(checks, target, value)
        if problem:
            raise SweepError(f"{where}: {problem}")
