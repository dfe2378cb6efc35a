"""The Recipe object, built from a config as loading builds it: its name from the file, the block's values
over its task's defaults, its folders, where a key is written, and Axolotl's default for a setting it
leaves out."""
from slingshot.errors import UserError
from slingshot.layout import resolve
from slingshot.recipe.core import COMMON_KEYS, Recipe, RecipeError
from slingshot.tasks import get_task


def recipe_in(folder, block=None, lines=None, **config):
    data = folder / "data"
    config = {"base_model": "models/m", "datasets": [{"path": str(data / "train.jsonl")}],
              "test_datasets": [{"path": str(data / "validation.jsonl")}], "output_dir": str(folder / "run"),
              "slingshot": {"task": "squad", **(block or {})}, **config}
    return Recipe(folder / "my-lora.yml", config, lines or {})


def test_name_task_and_the_blocks_values_over_the_tasks_defaults(tmp_path):
    recipe = recipe_in(tmp_path, {"train_size": 64, "eval": {"shots": 0}, "hardware": {"name": "cpu"}})
    squad = get_task("squad")
    assert recipe.name == "my-lora" and recipe.task is squad
    assert recipe.params() == {**squad.RECIPE_DEFAULTS, "train_size": 64}  # only the task's data keys
    assert recipe.eval_settings() == {**squad.EVAL_DEFAULTS, "shots": 0}
    assert Recipe(tmp_path / "x.yml", {"slingshot": None}, {}).block == {}


def test_the_recipes_folders_come_from_its_config(tmp_path):
    recipe = recipe_in(tmp_path)
    assert recipe.output_dir == recipe.paths["run"] == resolve(str(tmp_path / "run"))
    assert recipe.paths["train"] == resolve(str(tmp_path / "data" / "train.jsonl"))
    assert recipe.paths["test"].name == f"{get_task('squad').RECIPE_DEFAULTS['test_split']}.jsonl"


def test_where_names_the_keys_line_or_its_nearest_parents(tmp_path):
    lines = {"lora_r": 3, "datasets": 5, "slingshot": 10, "slingshot.eval": 12}
    recipe = recipe_in(tmp_path, lines=lines)
    path = tmp_path / "my-lora.yml"
    assert recipe.where("lora_r") == f"{path}:3"
    assert recipe.where("slingshot.eval.shots") == f"{path}:12"  # the file lacks it: its parent's line
    assert recipe.where("datasets[0].path") == f"{path}:5"
    assert recipe.where("slingshot.hardware.gpus") == f"{path}:10"
    assert recipe.where("learning_rate") == str(path)  # nothing above it: the file


def test_a_setting_is_the_recipes_value_or_axolotls_default(tmp_path):
    recipe = recipe_in(tmp_path, micro_batch_size=8)
    assert recipe.setting("micro_batch_size") == 8
    assert recipe.setting("sequence_len") == 512  # left out: Axolotl's default
    assert recipe.setting("lora_r") is None  # Axolotl has none


def test_recipe_errors_are_users_errors_and_the_common_keys_are_named():
    assert issubclass(RecipeError, UserError)
    assert {"task", "eval", "hardware", "allow_test_contamination", "sweep"} == set(COMMON_KEYS)
