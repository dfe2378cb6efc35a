"""slingshot.recipe, the package's front: every name it exports is its module's own, and every recipe shipped
under recipes/ loads, each with a name, a task and folders of its own."""
import importlib

import slingshot.recipe as recipe_package
from slingshot.layout import RECIPES_DIR
from slingshot.recipe import load_recipe, shipped_recipes
from slingshot.tasks import TASKS


MODULES = ["core", "derive", "keys", "load", "paths", "settings", "sweep_grammar", "trained", "values", "yaml_lines"]


def test_every_exported_name_is_importable_and_its_modules_own():
    modules = [importlib.import_module(f"slingshot.recipe.{name}") for name in MODULES]
    assert len(recipe_package.__all__) == len(set(recipe_package.__all__))
    for name in recipe_package.__all__:
        value = getattr(recipe_package, name)
        assert any(getattr(module, name, None) is value for module in modules), name


def test_every_shipped_recipe_loads_with_a_name_task_and_folders_of_its_own():
    paths = shipped_recipes()
    assert paths == sorted(RECIPES_DIR.glob("*/*/*.yml")) and len(paths) >= 4
    recipes = [load_recipe(path) for path in paths]
    assert len({r.name for r in recipes}) == len(recipes)
    assert {r.block["task"] for r in recipes} <= set(TASKS)
    assert len({r.output_dir for r in recipes}) == len(recipes)
    assert all(r.path.parent.parent.name == r.block["task"] for r in recipes)  # recipes/<task>/<model>/
    assert [p for p in shipped_recipes(gpu_only=True) if "cpu" in p.stem] == []
