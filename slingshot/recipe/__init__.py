"""Recipes: Axolotl YAML files plus a `slingshot:` block that Axolotl ignores, read and checked by
`load_recipe`. One module per job: core (the Recipe object), yaml_lines (reading with line numbers),
keys (Axolotl key checks), values (value tables), sweep_grammar, derive (derived recipes), paths
(path ownership), settings (Axolotl's defaults: one per setting), load (all of them in order), trained
(what a run folder's adapter was trained with)."""
from slingshot.recipe.core import Recipe, RecipeError
from slingshot.recipe.derive import derive_recipe, derived_recipe, short_recipe
from slingshot.recipe.keys import axolotl_keys
from slingshot.recipe.load import load_recipe
from slingshot.recipe.paths import claim_folders, distinct_trainings, shipped_recipes
from slingshot.recipe.settings import AXOLOTL_DEFAULTS, setting
from slingshot.recipe.sweep_grammar import SweepError, block_where, check_sweep, spec_where, sweep_grid
from slingshot.recipe.values import AXOLOTL_VALUES, data_errors_located, recipe_values, value_checks, value_problem
from slingshot.recipe.yaml_lines import yaml_value

__all__ = ["AXOLOTL_DEFAULTS", "AXOLOTL_VALUES", "Recipe", "RecipeError", "SweepError", "axolotl_keys", "block_where",
           "check_sweep", "claim_folders", "data_errors_located", "derive_recipe", "derived_recipe",
           "distinct_trainings", "load_recipe", "recipe_values", "setting", "shipped_recipes", "short_recipe",
           "spec_where", "sweep_grid", "value_checks", "value_problem", "yaml_value"]
