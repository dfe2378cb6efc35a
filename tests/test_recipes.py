"""Every recipe parses, passes Axolotl's own schema offline, and follows the layout."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slingshot.layout import ROOT
from slingshot.recipe import PATH_KEYS, RecipeError, load_recipe
from tests.conftest import DEFAULT_RECIPE, run_module, write_recipe

RECIPES = sorted((ROOT / "recipes").glob("*/*/*.yml"))
GPU_RECIPES = [p for p in RECIPES if "cpu" not in p.stem]


def distinct_trainings(paths):
    """One recipe per distinct training: recipes whose Axolotl settings are the same (paths aside),
    like the Julia cheater and unseen twins, which differ only in what they are scored on, train alike."""
    seen, distinct = set(), []
    for path in paths:
        config = yaml.safe_load(path.read_text())
        settings = yaml.safe_dump({k: v for k, v in config.items() if k != "slingshot" and k not in PATH_KEYS},
                                  sort_keys=True)
        if settings not in seen:
            seen.add(settings)
            distinct.append(path)
    return distinct


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


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_no_deprecated_keys(path):
    """Axolotl's validation logs no deprecation for any shipped recipe (a deprecated key trains
    today and silently stops working in a later Axolotl)."""
    assert load_recipe(path).deprecations == []


def test_deprecation_check_catches_a_deprecated_key(tmp_path, capsys):
    def legacy(config):
        config.pop("attn_implementation", None)
        config["flash_attention"] = True
    recipe = load_recipe(write_recipe(tmp_path, edit=legacy))
    assert any("flash_attention" in m and "attn_implementation" in m for m in recipe.deprecations)
    assert "warning:" in capsys.readouterr().err


@pytest.mark.parametrize("path", GPU_RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_smoke_changes_only_what_a_cpu_cannot_do(path):
    from slingshot.train import SMOKE_RUN_LENGTH, smoke_overrides
    config = load_recipe(path).config
    changes = smoke_overrides(config)
    assert all(why for _, _, why in changes), "every override says why"
    changed = {key for key, _, _ in changes}
    kept = {"sequence_len", "sample_packing", "eval_sample_packing", "pad_to_sequence_len", "micro_batch_size",
            "gradient_checkpointing", "lora_r", "lora_alpha", "lora_dropout",
            "lora_target_linear", "learning_rate", "lr_scheduler", "weight_decay", "num_epochs"}
    assert not changed & kept and not set(SMOKE_RUN_LENGTH) & kept
    assert "base_model" in changed
    if config.get("load_in_4bit") or config.get("load_in_8bit"):
        assert {"load_in_4bit", "load_in_8bit"} & changed
    if config.get("optimizer") in ("adamw_bnb_8bit", "paged_adamw_8bit", "adamw_torch_fused"):
        assert ("optimizer", "adamw_torch") in {(k, v) for k, v, _ in changes}


def test_smoke_recipe_keeps_the_geometry(tmp_path):
    from slingshot.train import smoke_recipe
    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/qlora.yml")
    smoke = smoke_recipe(recipe)
    for key in ("sequence_len", "sample_packing", "pad_to_sequence_len", "micro_batch_size",
                "gradient_checkpointing", "lora_r", "lora_target_linear"):
        assert smoke.config.get(key) == recipe.config.get(key), key
    assert smoke.config["gradient_accumulation_steps"] == 2  # the accumulation path runs, for 2 micro batches
    assert smoke.config["adapter"] == "lora" and not smoke.config.get("load_in_4bit")
    assert smoke.config["optimizer"] == "adamw_torch" and smoke.config["attn_implementation"] == "sdpa"
    # enough rows for one step: 2 x 2 packed sequences of 1024 tokens at ~200 tokens a row
    assert smoke.block["train_size"] >= 2 * 2 * 1024 // 200


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
@pytest.mark.parametrize("path", distinct_trainings(GPU_RECIPES), ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_gpu_recipe_smoke_trains_on_cpu(path, model_dir):
    """One real Axolotl step of each GPU recipe at its full batch geometry, base model swapped for
    the embedded one and CUDA-only settings replaced (SMOKE_OVERRIDES)."""
    result = run_module("slingshot.train", "--smoke", "--force", path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    name = "smoke-" + load_recipe(path).name
    run = ROOT / "runs" / "derived" / name
    assert (run / "adapter_model.safetensors").exists()
    summary = yaml.safe_load((run / "train_summary.json").read_text())
    assert summary["steps"] == 1 and summary["final_train_loss"] > 0


def test_only_the_library_is_packaged_and_eval_runs_from_the_checkout():
    import tomllib
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert found["include"] == ["slingshot*"]
    result = run_module("eval.squad", "--help", check=True)
    assert "SQuAD" in result.stdout
    where = subprocess.run([sys.executable, "-c", "import eval; print(eval.__file__)"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve().parent == ROOT / "eval"
