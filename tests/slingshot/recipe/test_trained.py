"""A tuned model's settings come from its run folder's own record: the recipe.yml it trained from (Axolotl's
defaults where that recipe is silent) and train_summary.json; nothing is guessed."""
import json
import os

from slingshot.recipe.trained import trained_with
from tests.helpers import write_recipe


def trained_run(tmp_path, edit=None, summary=None, manifest_rows=None):
    """A run folder as training leaves it: recipe.yml, train_summary.json, and data prep's manifest."""
    run = tmp_path / "runs" / "tuned"
    run.mkdir(parents=True)
    write_recipe(run, edit=edit)
    if manifest_rows is not None:
        (run / "data").mkdir()
        (run / "data" / "manifest.json").write_text(json.dumps({"outputs": {"train": {"rows": manifest_rows}}}))
    (run / "train_summary.json").write_text(json.dumps(summary or {"wall_s": 1.0}))
    return run


def test_the_settings_are_the_recipes_and_the_rows_the_summarys(tmp_path):
    def edit(config):
        config.update(lora_r=4, lora_alpha=8, base_model="org/some-model")
        del config["num_epochs"]
    run = trained_run(tmp_path, edit, summary={"train_rows": 40}, manifest_rows=99)
    record = trained_with(run)
    assert record == {"base_model": "org/some-model", "lora_r": 4, "lora_alpha": 8, "num_epochs": 1.0,
                      "max_steps": None, "train_rows": 40, "recipe": str(run / "recipe.yml"), "problem": None}


def test_rows_come_from_data_prep_only_when_prepared_before_the_training(tmp_path):
    run = trained_run(tmp_path, manifest_rows=128)
    assert trained_with(run)["train_rows"] == 128
    manifest = run / "data" / "manifest.json"
    later = (run / "train_summary.json").stat().st_mtime + 60
    os.utime(manifest, (later, later))  # data prepared again after this training: not what it trained on
    assert trained_with(run)["train_rows"] is None


def test_a_run_without_its_recipe_or_with_a_broken_one_says_so(tmp_path):
    record = trained_with(tmp_path)
    assert record["lora_r"] is None and "holds no recipe.yml" in record["problem"]
    (tmp_path / "recipe.yml").write_text("lora_r: 8\nlora_r: 16\n")
    record = trained_with(tmp_path)
    assert record["lora_r"] is None and f"{tmp_path / 'recipe.yml'}:2: key 'lora_r' is given twice" in record["problem"]
