"""What a GPU recipe's smoke run changed (every key, old and new value, why) and how it says so."""
from slingshot.layout import ROOT
from slingshot.recipe import load_recipe
from slingshot.smoke_report import smoke_changes, smoke_lines


def test_the_smoke_records_every_key_it_changed_with_old_and_new_values():
    from slingshot.recipe import derive_recipe
    from slingshot.smoke import smoke_recipe
    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/qlora.yml")
    changes = smoke_changes(recipe, smoke_recipe(recipe))
    assert all(c["why"] for c in changes), changes
    changed = {c["key"]: (c["recipe"], c["smoke"]) for c in changes}
    assert changed["adapter"] == ("qlora", "lora") and changed["load_in_4bit"] == (True, False)
    assert changed["optimizer"] == (recipe.config["optimizer"], "adamw_torch")
    assert changed["max_steps"] == (None, 1) and changed["gradient_accumulation_steps"] == (8, 2)
    assert changed["slingshot.source"] == ("hub:rajpurkar/squad", "local")
    assert not {"lora_r", "sample_packing", "datasets", "output_dir", "slingshot.test_split"} & set(changed)
    # the list is what differs, not what was meant to: a change without a reason shows, with none
    other = derive_recipe(recipe, "smoke-changes-probe", {"lora_r": 8})
    assert smoke_changes(recipe, other) == [{"key": "lora_r", "recipe": 32, "smoke": 8, "why": ""}]


def test_the_smoke_lines_name_the_attention_path_and_each_change():
    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/qlora.yml")
    summary = {"attention": {"path": "masked SDPA", "about": "stock SDPA", "device": "cpu"},
               "smoke_overrides": [{"key": "adapter", "recipe": "qlora", "smoke": "lora", "why": "no bitsandbytes"}]}
    lines = smoke_lines(recipe, summary).splitlines()
    assert lines[0] == "attention: masked SDPA (stock SDPA; device cpu)"
    assert lines[1] == "the smoke run changed 1 key(s) of recipes/squad/llama-3.1-8b/qlora.yml:"
    assert lines[2] == "  adapter: 'qlora' -> 'lora' (no bitsandbytes)"
    assert smoke_lines(recipe, {}).startswith("attention: not recorded")
