"""Derived recipes (a sweep's cell, a short check run): a copy of a recipe with folders of its own and the
overrides given, checked as a recipe file is; derive_recipe writes it, derived_recipe only builds it."""
import uuid

import pytest
import yaml

from slingshot.layout import RUNS_DIR
from slingshot.recipe.core import RecipeError
from slingshot.recipe.derive import SHORT_BLOCK, SHORT_CONFIG, derive_recipe, derived_recipe, short_recipe
from slingshot.recipe.load import load_recipe
from tests.helpers import write_recipe


@pytest.fixture
def recipe(tmp_path):
    return load_recipe(write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(sweep={"lora_r": [8, 16]})))


def test_a_derived_recipe_has_its_own_folders_and_the_overrides(recipe, tmp_path):
    original = yaml.safe_dump(recipe.config)
    cell = derived_recipe(recipe, "cell-r8", {"lora_r": 8, "warmup_steps": None}, {"train_size": 16},
                          beside=tmp_path / "sweep")
    home = tmp_path / "sweep" / "runs" / "cell-r8"
    assert cell.path == home / "recipe.yml" and not cell.path.exists()  # built, not written
    assert cell.config["output_dir"] == str(home) and cell.config["dataset_prepared_path"] == str(home / "prepared")
    data = tmp_path / "sweep" / "data" / "cell-r8"
    assert cell.config["datasets"][0]["path"] == str(data / "train.jsonl")
    assert cell.config["test_datasets"][0]["path"] == str(data / "validation.jsonl")
    assert cell.config["datasets"][0]["type"] == recipe.config["datasets"][0]["type"]  # the rest of the entry kept
    assert cell.config["lora_r"] == 8 and "warmup_steps" not in cell.config  # None: the key is left out
    assert cell.block["train_size"] == 16 and "sweep" not in cell.block  # a derived recipe is one cell
    assert yaml.safe_dump(recipe.config) == original  # the recipe it came from is as it was


def test_a_bad_override_is_refused_as_in_a_recipe_file(recipe, tmp_path):
    with pytest.raises(RecipeError, match=r"lora_r: expected an integer >= 1"):
        derived_recipe(recipe, "cell-bad", {"lora_r": -8}, beside=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def test_derive_recipe_writes_a_file_that_loads_as_built(recipe, tmp_path):
    written = derive_recipe(recipe, "cell-r16", {"lora_r": 16}, beside=tmp_path / "sweep")
    assert written.path.is_file()
    assert written.config == derived_recipe(recipe, "cell-r16", {"lora_r": 16}, beside=tmp_path / "sweep").config
    assert load_recipe(written.path).config["lora_r"] == 16


def test_a_short_recipe_runs_a_few_steps_on_a_few_rows(tmp_path):
    name = f"short-{uuid.uuid4().hex[:8]}"  # under the session's workspace: runs/derived/<name>-short/
    recipe = load_recipe(write_recipe(tmp_path, name=f"{name}.yml"))
    short = short_recipe(recipe)
    assert short.name == f"{name}-short" and short.path.is_relative_to(RUNS_DIR)
    assert {k: short.config.get(k) for k in SHORT_CONFIG} == {"max_steps": 3, "evals_per_epoch": None}
    assert "evals_per_epoch" not in short.config
    assert {k: short.block[k] for k in SHORT_BLOCK} == SHORT_BLOCK
