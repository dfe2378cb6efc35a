"""The sweep grammar: which recipe key each sweep key sets, which keys every cell shares, and every value
checked as the recipe's own values are, before any cell is written; errors name the option or the line."""
import pytest

from slingshot.recipe.load import load_recipe
from slingshot.recipe.sweep_grammar import (SweepError, block_where, check_sweep, same_value, spec_where,
                                            sweep_grid)
from tests.helpers import write_recipe


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    return load_recipe(write_recipe(tmp_path_factory.mktemp("sweep")))


def test_the_recipes_own_grid(tmp_path, recipe):
    assert sweep_grid(recipe) is None
    swept = load_recipe(write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(
        sweep={"lora_r": [8, 16], "seed": 3})))
    assert sweep_grid(swept) == {"lora_r": [8, 16], "seed": [3]}  # one value is a list of one
    swept.block["sweep"] = ["lora_r"]
    with pytest.raises(SweepError, match=r"recipe.yml:\d+: slingshot.sweep: must map keys to lists of values"):
        sweep_grid(swept)


def test_each_sweep_key_sets_an_axolotl_key_or_a_slingshot_one(recipe):
    grid = {"lora_r": [8, 16], "seed": [0, 1], "train_size": [32, 64], "slingshot.seed": [2]}
    assert check_sweep(recipe, grid, spec_where) == {
        "lora_r": "lora_r", "seed": "seed",  # seed is Axolotl's training seed
        "train_size": "slingshot.train_size", "slingshot.seed": "slingshot.seed"}  # slingshot.seed redraws the data


@pytest.mark.parametrize("grid, message", [
    ({"output_dir": ["a", "b"]}, r"--sweep output_dir: cannot be swept: every cell gets its own folders; "
                                 r"a sweep varies Axolotl training settings"),
    ({"slingshot.task": ["dates"]}, r"--sweep slingshot.task: cannot be swept: a sweep compares cells of one task"),
    ({"lora_rank": [8]}, r"--sweep lora_rank: unknown key 'lora_rank' \(neither Axolotl nor slingshot\); "
                         r"did you mean 'lora_r'"),
    ({"slingshot.train_sise": [8]}, r"unknown slingshot key 'train_sise'; did you mean 'train_size'"),
    ({"train_size": [8], "slingshot.train_size": [16]}, r"slingshot.train_size is given twice "
                                                        r"\(as train_size and slingshot.train_size\)"),
    ({"lora_r": []}, r"--sweep lora_r: expected a list of values to try"),
    ({"lora_r": [8, None]}, r"--sweep lora_r: null is not a value to train with"),
    ({"lora_r": [{"a": 1}]}, r"--sweep lora_r: \{'a': 1\}: a mapping cannot be swept"),
    ({"learning_rate": [1e-4, 0.0001]}, r"repeats a value: 0.0001 and 0.0001 are the same"),
    ({"num_epochs": [1, 0]}, r"--sweep num_epochs: expected a number > 0, got 0"),
])
def test_a_bad_key_or_value_is_refused_naming_it(recipe, grid, message):
    with pytest.raises(SweepError, match=message):
        check_sweep(recipe, grid, spec_where)


def test_where_a_problem_is():
    assert spec_where() == "--sweep" and spec_where("lora_r") == "--sweep lora_r"


def test_a_problem_in_the_recipes_block_names_the_keys_line(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(sweep={"lora_r": [8, 16]}))
    recipe = load_recipe(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text == "    lora_r:")
    assert block_where(recipe)("lora_r") == f"{path}:{line}: slingshot.sweep.lora_r"
    with pytest.raises(SweepError, match=rf"recipe.yml:{line}: slingshot.sweep.lora_r: expected an integer >= 1"):
        check_sweep(recipe, {"lora_r": [0]}, block_where(recipe))


def test_values_that_train_the_same_cell_are_the_same():
    assert same_value(8) == same_value(8.0) and same_value(1e-4) == same_value(0.0001)
    assert same_value("8") != same_value(8) and same_value(True) != same_value(1)
