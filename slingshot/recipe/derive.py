"""Derived recipes: a copy of a recipe with its own data and run folders (a sweep's cell, a short
check run), checked as a recipe file is."""
import yaml

from slingshot import layout
from slingshot.io import atomic_write_text
from slingshot.recipe.core import Recipe
from slingshot.recipe.load import check_recipe, load_recipe
from slingshot.recipe.paths import own_paths


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


# A recipe cut to a few steps on a few rows: to check a set-up in minutes (the notebook's SHORT setting)
# and, in the tests, the one short training that every test only reading an adapter shares.
SHORT_CONFIG = {"max_steps": 3, "evals_per_epoch": None}
SHORT_BLOCK = {"train_size": 24, "validation_size": 8}


def short_recipe(recipe):
    return derive_recipe(recipe, f"{recipe.name}-short", SHORT_CONFIG, SHORT_BLOCK)
