"""Value checks: each value Axolotl's schema lets through (`lora_r: -8`, `num_epochs: 0`) or checks too
late, checked against a table of ranges, with the file, the value's own line and the key in the message."""
import contextlib
import math
import re

from slingshot import layout
from slingshot.errors import UserError
from slingshot.recipe.core import RecipeError
from slingshot.recipe.keys import unknown_key
from slingshot.recipe.settings import setting
from slingshot.tasks import get_task, size_problem


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def shown(value):
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
        ok = is_int(value) and (low is None or value >= low) and (high is None or value <= high)
        return None if ok else f"expected {what}, got {shown(value)}"
    return check


def number(low, high=None, above=False, below=False):
    """Check: a finite number >= low (above: > low), and <= high (below: < high)."""
    what = f"a number {'>' if above else '>='} {low}" + (f" and {'<' if below else '<='} {high}" if high is not None else "")

    def check(value):
        ok = is_number(value) and math.isfinite(value) and (value > low if above else value >= low) \
            and (high is None or (value < high if below else value <= high))
        return None if ok else f"expected {what}, got {shown(value)}"
    return check


def one_of(*choices):
    def check(value):
        return None if isinstance(value, str) and value in choices else \
            f"expected one of {', '.join(choices)}, got {shown(value)}"
    return check


def flag(value):
    return None if isinstance(value, bool) else f"expected true or false, got {shown(value)}"


def text(value):
    return None if isinstance(value, str) and value.strip() else f"expected a name, got {shown(value)}"


def size(forms):
    """Check: a train_size or validation_size in one of a task's SIZE_FORMS (slingshot.tasks.parse_size)."""
    def check(value):
        return size_problem(value, forms, shown)
    return check


def batch_size(value):
    return None if value == "auto" or (is_int(value) and value >= 1) else \
        f"expected 'auto' or an integer >= 1, got {shown(value)}"


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
    per_epoch, epochs = setting(recipe.config, "evals_per_epoch"), setting(recipe.config, "num_epochs")
    if per_epoch and per_epoch * epochs <= 1:
        given = "" if "num_epochs" in recipe.config else " (Axolotl's default)"
        raise RecipeError(
            f"{recipe.where('evals_per_epoch')}: evals_per_epoch: {per_epoch} with num_epochs: {epochs}{given} makes Axolotl "
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
                              f"got {shown(settings)}")
        known = set(values) | (set(recipe.task.EVAL_DEFAULTS) if block == "eval" else set())
        for key in settings:
            if key not in known:
                raise unknown_key(key, known, recipe.where(f"slingshot.{block}.{key}"), f"slingshot.{block} key")


SOURCE_FORMS = {"local": "'local'", "hub": "'hub:<dataset>'", "folder": "a folder"}


def _source_problem(source, kinds):
    """Why a `source:` is unusable for a task whose SOURCES are `kinds`, or None."""
    forms = " or ".join(SOURCE_FORMS[k] for k in kinds)
    if not isinstance(source, str) or not source:
        return f"expected {forms}, got {shown(source)}"
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
