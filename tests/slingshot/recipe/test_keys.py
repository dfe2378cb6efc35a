"""Axolotl key checks: the keys Axolotl reads (its own schema), the key a typo meant, keys that are not
names, and Axolotl's validation of a whole config, each error naming the file and the key's line."""
import pytest

from slingshot.recipe import load_recipe
from slingshot.recipe.core import RecipeError
from slingshot.recipe.keys import (axolotl_keys, check_key_types, dataset_keys, suggest, unknown_key,
                                   validate_with_axolotl)
from tests.helpers import write_recipe


def test_the_keys_come_from_axolotls_schema():
    assert {"base_model", "lora_r", "learning_rate", "datasets", "output_dir"} <= axolotl_keys()
    assert "lora_rank" not in axolotl_keys()
    assert {"path", "type", "field_messages"} <= dataset_keys() and "lora_r" not in dataset_keys()


@pytest.mark.parametrize("key, known, meant", [
    ("lora_rank", {"lora_r", "lora_rank_x"}, "lora_r"),  # a name from another trainer
    ("lr", {"learning_rate", "lr_scheduler"}, "learning_rate"),
    ("lora_alpah", {"lora_alpha", "lora_dropout", "alpha_x"}, "lora_alpha"),  # a typo
    ("num_epoch", {"num_epochs", "num_ephocs_x"}, "num_epochs"),
    ("zzz", {"lora_r", "learning_rate"}, None),  # nothing close
    ("lora_rank", {"rank_x"}, None),  # the usual meaning is not a known key here
])
def test_suggest_names_the_key_a_mistake_meant(key, known, meant):
    assert suggest(key, known) == meant


def test_an_unknown_key_says_where_it_is_and_what_was_meant():
    error = unknown_key("lora_rank", axolotl_keys(), "r.yml:7", "Axolotl key")
    assert isinstance(error, RecipeError)
    assert str(error) == ("r.yml:7: unknown Axolotl key 'lora_rank' (it would be silently ignored); "
                          "did you mean 'lora_r'?")
    assert str(unknown_key("zzz", {"a"}, "r.yml", "slingshot key")).endswith("(it would be silently ignored)")


def test_a_key_that_is_not_a_name_is_refused_at_its_line(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    check_key_types(recipe)  # every key a name: nothing to say
    recipe.config[123] = "x"
    recipe.lines["123"] = 40
    with pytest.raises(RecipeError, match=r"recipe.yml:40: key 123 is not a name"):
        check_key_types(recipe)
    del recipe.config[123]
    recipe.config["slingshot"][True] = 1
    with pytest.raises(RecipeError, match=r"key True is not a name"):
        check_key_types(recipe)


def test_axolotls_validation_names_the_rejected_keys_line(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    assert validate_with_axolotl(recipe) == []  # the default recipe: valid, nothing deprecated
    recipe.config["sequence_len"] = "long"
    with pytest.raises(RecipeError) as error:
        validate_with_axolotl(recipe)
    message = str(error.value)
    assert message.startswith(f"{recipe.where('sequence_len')}: Axolotl rejects the config: sequence_len: ")
    assert recipe.where("sequence_len") != str(recipe.path)  # a line, not only the file
