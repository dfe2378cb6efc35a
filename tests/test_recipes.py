"""Every recipe parses, passes Axolotl's own schema offline, and follows the layout."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slingshot.layout import ROOT
from slingshot.recipe import RecipeError, load_recipe
from tests.conftest import DEFAULT_RECIPE, run_module, write_recipe

RECIPES = sorted((ROOT / "recipes").glob("*/*/*.yml"))
GPU_RECIPES = [p for p in RECIPES if "cpu" not in p.stem]


def test_recipes_exist():
    assert DEFAULT_RECIPE in RECIPES
    assert GPU_RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_recipe_is_valid(path):
    recipe = load_recipe(path)  # unknown keys and Axolotl's schema
    assert recipe.config["output_dir"] == f"runs/{recipe.name}"
    for key in ("datasets", "test_datasets"):
        assert Path(recipe.config[key][0]["path"]).parent == Path("data") / recipe.name
        assert recipe.config[key][0]["type"] == "chat_template"
    assert recipe.block["task"] == path.relative_to(ROOT / "recipes").parts[0]
    hardware = recipe.block["hardware"]
    assert hardware["name"] and hardware["usd_per_hour"] >= 0
    deepspeed = recipe.config.get("deepspeed")
    if deepspeed:
        assert (ROOT / deepspeed).exists()


def test_typo_in_a_key_is_named_with_its_line(tmp_path):
    path = write_recipe(tmp_path)
    text = path.read_text().replace("lora_r: 32", "lora_rank: 32")
    path.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("lora_rank"))
    with pytest.raises(RecipeError, match=rf"recipe.yml:{line}: unknown Axolotl key 'lora_rank'.*did you mean 'lora_r'"):
        load_recipe(path)


def test_typo_in_dataset_and_slingshot_keys(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c["datasets"][0].update(feild_messages="messages"))
    with pytest.raises(RecipeError, match="unknown key in datasets\\[0\\] 'feild_messages'.*field_messages"):
        load_recipe(path)
    path = write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(train_sise=10))
    with pytest.raises(RecipeError, match="unknown slingshot key 'train_sise'.*train_size"):
        load_recipe(path)


def test_axolotl_schema_errors_are_reported(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c.update(micro_batch_size="eight"))
    with pytest.raises(RecipeError, match="Axolotl rejects the config: micro_batch_size"):
        load_recipe(path)


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("base_model: x\ndatasets: [\n  - a: b\n")
    with pytest.raises(RecipeError, match="bad.yml:\\d+: not valid YAML"):
        load_recipe(path)


def test_train_without_prepared_data_says_what_to_run(tmp_path):
    path = write_recipe(tmp_path)
    result = run_module("slingshot.train", path)
    assert result.returncode == 2
    assert "no prepared data" in result.stderr and "make prepare" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("path", GPU_RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_gpu_recipe_smoke_trains_on_cpu(path, model_dir):
    """Two real Axolotl steps of each GPU recipe, base model swapped for the embedded one."""
    result = run_module("slingshot.train", "--smoke", "--force", path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    name = "smoke-" + load_recipe(path).name
    run = ROOT / "runs" / "derived" / name
    assert (run / "adapter_model.safetensors").exists()
    summary = yaml.safe_load((run / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["final_train_loss"] > 0


def test_only_the_library_is_packaged_and_eval_runs_from_the_checkout():
    import tomllib
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert found["include"] == ["slingshot*"]
    result = run_module("eval.squad", "--help", check=True)
    assert "SQuAD" in result.stdout
    where = subprocess.run([sys.executable, "-c", "import eval; print(eval.__file__)"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve().parent == ROOT / "eval"
