"""One default per setting: slingshot.recipe.settings holds Axolotl's own default for each setting a reader
needs, each named where Axolotl defines it, and `setting` gives the recipe's value or that default."""
import importlib

import pytest

from slingshot.recipe import load_recipe, setting
from slingshot.recipe.settings import AXOLOTL_DEFAULTS, default_source
from tests.helpers import DEFAULT_RECIPE


@pytest.mark.parametrize("key", sorted(AXOLOTL_DEFAULTS))
def test_each_default_is_axolotls_own_where_the_table_says(key):
    """The installed Axolotl's schema class named in the table defines the key, with the table's default
    (a required key: None)."""
    from axolotl.utils.schemas.config import AxolotlConfigWCapabilities

    default, where, _ = AXOLOTL_DEFAULTS[key]
    module, owner = f"axolotl.utils.schemas.{where}".rsplit(".", 1)
    assert key in getattr(importlib.import_module(module), owner).__annotations__, default_source(key)
    field = AxolotlConfigWCapabilities.model_fields[key]
    assert (None if field.is_required() else field.default) == default, default_source(key)


def test_a_silent_recipe_means_axolotls_default_and_a_written_one_its_value():
    assert setting({}, "num_epochs") == 1.0 and setting({}, "micro_batch_size") == 1
    assert setting({}, "sequence_len") == 512 and setting({}, "lora_dropout") == 0.0
    assert setting({"num_epochs": 3, "lora_r": 16}, "num_epochs") == 3
    assert setting({"sequence_len": None}, "sequence_len") == 512  # null is silent, as Axolotl reads it
    assert setting({}, "lora_r") is None and setting({}, "lora_alpha") is None  # Axolotl has none


def test_a_setting_outside_the_table_is_refused_rather_than_guessed():
    with pytest.raises(KeyError, match="'lora_rank' has no entry in slingshot.recipe.settings.AXOLOTL_DEFAULTS"):
        setting({"lora_rank": 8}, "lora_rank")


def test_a_recipe_answers_through_the_same_table():
    recipe = load_recipe(DEFAULT_RECIPE)
    assert recipe.setting("lora_r") == recipe.config["lora_r"]
    del recipe.config["num_epochs"]
    assert recipe.setting("num_epochs") == AXOLOTL_DEFAULTS["num_epochs"][0]
