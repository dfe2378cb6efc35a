"""What a tuned model was trained with, read from the training's own record in its run folder: the
recipe.yml training copied there (the recipe as trained, whatever was edited since) and
train_summary.json. Settings the recipe left out are Axolotl's defaults (slingshot.recipe.settings),
never guessed here."""
import json

from slingshot import layout
from slingshot.io import checked_file
from slingshot.errors import UserError
from slingshot.recipe.core import Recipe
from slingshot.recipe.paths import own_paths
from slingshot.recipe.settings import setting
from slingshot.recipe.yaml_lines import read_yaml_mapping

RUN_RECIPE = "recipe.yml"  # slingshot.train copies the recipe it trains into the run folder under this name
TRAINED_SETTINGS = ("base_model", "lora_r", "lora_alpha", "num_epochs", "max_steps")


def trained_with(run_folder):
    """{base_model, lora_r, lora_alpha, num_epochs, max_steps, train_rows, recipe, problem} of the adapter
    in `run_folder` (a path as a run's meta names it). A value the record lacks is None, and `problem`
    says why when the recipe cannot be read."""
    folder = layout.resolve(run_folder)
    recipe_file = folder / RUN_RECIPE
    record = {key: None for key in TRAINED_SETTINGS} | {"train_rows": None, "recipe": None, "problem": None}
    if not recipe_file.is_file():
        record["problem"] = f"{layout.display_path(folder)} holds no {RUN_RECIPE}: its training settings are unknown"
        return record
    record["recipe"] = layout.display_path(recipe_file)
    try:
        config, lines = read_yaml_mapping(recipe_file)
    except UserError as e:
        record["problem"] = str(e)
        return record
    record.update({key: setting(config, key) for key in TRAINED_SETTINGS})
    record["train_rows"] = train_rows(Recipe(recipe_file, config, lines), folder / layout.TRAIN_SUMMARY)
    return record


def train_rows(recipe, summary_file):
    """The rows the adapter trained on: train_summary.json's train_rows, else the count data prep recorded
    for the recipe's training file, if that data is not newer than the training; else None."""
    summary = _read_json(summary_file)
    if summary is None:
        return None
    if isinstance(summary.get("train_rows"), int):
        return summary["train_rows"]
    try:
        own_paths(recipe)
        manifest_file = layout.resolve(recipe.config["datasets"][0]["path"]).parent / layout.MANIFEST
    except (UserError, LookupError, TypeError):
        return None
    manifest = _read_json(manifest_file)
    if manifest is None or manifest_file.stat().st_mtime > summary_file.stat().st_mtime:
        return None  # no data record, or data prepared again after this training
    rows = ((manifest.get("outputs") or {}).get("train") or {}).get("rows")
    return rows if isinstance(rows, int) else None


def _read_json(path):
    try:
        checked_file(path, "a training record", 16 << 20)  # never a FIFO, a device or a huge file
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
