"""Loading a recipe: the file read with every key's line, its paths filled in, then every check in order;
each problem a RecipeError naming the file, the line and the key, and a good recipe loaded whole."""
import pytest
import yaml

from slingshot.recipe.core import RecipeError
from slingshot.recipe.load import load_recipe
from tests.helpers import run_module, write_recipe


def test_a_good_recipe_loads_with_its_lines_and_paths(tmp_path):
    path = write_recipe(tmp_path)
    recipe = load_recipe(path)
    text = path.read_text().splitlines()
    assert text[recipe.lines["lora_r"] - 1].startswith("lora_r:")
    assert text[recipe.lines["slingshot.task"] - 1].strip().startswith("task:")
    assert recipe.config["dataset_prepared_path"] == str(tmp_path / "run" / "prepared")
    assert recipe.deprecations == []


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(RecipeError, match=r"none\.yml: recipe not found \(recipes live under recipes/"):
        load_recipe(tmp_path / "none.yml")


def test_a_folder_given_as_recipe(tmp_path):
    result = run_module("data_prep", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {tmp_path}: is a folder, not a recipe; give the recipe's .yml file"


def drop_block(config):
    del config["slingshot"]


@pytest.mark.parametrize("edit, message", [
    (drop_block, r"recipe.yml: the recipe needs a 'slingshot:' block with a 'task' key"),
    (lambda c: c["slingshot"].update(task="poetry"), r"recipe.yml:\d+: slingshot.task: unknown task 'poetry'"),
    (lambda c: c["slingshot"].update(train_sise=8), r"recipe.yml:\d+: unknown slingshot key 'train_sise' "
                                                    r"\(it would be silently ignored\); did you mean 'train_size'"),
    (lambda c: c.pop("base_model"), r"recipe.yml: missing required key 'base_model'"),
    (lambda c: c.update(test_datasets="validation.jsonl"),
     r"recipe.yml:\d+: 'test_datasets' must name a dataset file \(path:\)"),
    (lambda c: c.update(epochs=2), r"recipe.yml:\d+: unknown Axolotl key 'epochs'.*did you mean 'num_epochs'"),
    (lambda c: c["datasets"][0].update(feild="x"), r"recipe.yml:\d+: unknown key in datasets\[0\] 'feild'"),
    (lambda c: c["slingshot"].update(sweep={"lora_r": [8, 8.0]}),
     r"recipe.yml:\d+: slingshot.sweep.lora_r: repeats a value: 8 and 8.0 are the same"),
])
def test_each_check_names_the_file_line_and_key(tmp_path, edit, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write_recipe(tmp_path, edit=edit))


def test_the_line_named_is_the_keys_own(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c.update(epochs=2))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("epochs:"))
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert str(error.value).startswith(f"{path}:{line}: ")


def test_a_recipe_with_a_sweep_loads_and_keeps_it(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(sweep={"lora_r": [8, 16]})))
    assert recipe.block["sweep"] == {"lora_r": [8, 16]}
    assert yaml.safe_load(recipe.path.read_text())["slingshot"]["sweep"] == {"lora_r": [8, 16]}  # nothing rewritten
