"""Loading a recipe: read with every key's line, its paths filled in, then every check: Axolotl keys
(nested ones too), values, the sweep, and Axolotl's own schema. Errors name the file, the line and
the key."""
import sys
from pathlib import Path

from slingshot.io import has_control_characters
from slingshot.recipe.core import COMMON_KEYS, Recipe, RecipeError
from slingshot.recipe.keys import axolotl_keys, check_key_types, dataset_keys, unknown_key, validate_with_axolotl
from slingshot.recipe.paths import own_paths
from slingshot.recipe.sweep_grammar import block_where, check_sweep, sweep_grid
from slingshot.recipe.values import check_values
from slingshot.recipe.yaml_lines import read_yaml_mapping
from slingshot.tasks import get_task


def load_recipe(path):
    """Read a recipe and check its keys; raises RecipeError with file, line and key."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: recipe not found (recipes live under recipes/<task>/<model>/<method>.yml)")
    if path.is_dir():
        raise RecipeError(f"{path}: is a folder, not a recipe; give the recipe's .yml file")
    if not path.is_file():
        raise RecipeError(f"{path}: is not a regular file (a device, a FIFO or a socket); give the recipe's .yml file")
    if has_control_characters(path.name):
        raise RecipeError(f"{str(path)[:200]!r}: the file name holds control characters (a line break?); a recipe's name "
                          f"names its folders, models and reports: rename the file")
    config, lines = read_yaml_mapping(path)
    recipe = Recipe(path, config, lines)
    own_paths(recipe)
    check_recipe(recipe)
    return recipe


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
            raise unknown_key(key, block_known, recipe.where(f"slingshot.{key}"), "slingshot key")
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
            raise unknown_key(key, known, recipe.where(key), "Axolotl key")
    for list_key in ("datasets", "test_datasets"):
        ds_known = dataset_keys()
        for i, entry in enumerate(config.get(list_key) or []):
            for key in entry:
                if key not in ds_known:
                    raise unknown_key(key, ds_known, recipe.where(f"{list_key}[{i}].{key}"), f"key in {list_key}[{i}]")
    if "sweep" in block:
        check_sweep(recipe, sweep_grid(recipe), block_where(recipe))
    recipe.deprecations = validate_with_axolotl(recipe)
    for message in recipe.deprecations:
        print(f"warning: {recipe.path}: {message}", file=sys.stderr)
