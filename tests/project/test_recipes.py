"""Every recipe parses, passes Axolotl's own schema offline, and follows the layout."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slingshot.layout import RUNS_DIR
from slingshot.layout import ROOT
from slingshot.recipe import RecipeError, distinct_trainings, load_recipe, shipped_recipes
from tests.helpers import DEFAULT_RECIPE, run_module, write_recipe

RECIPES = shipped_recipes()
GPU_RECIPES = shipped_recipes(gpu_only=True)


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


# What a CPU smoke run may change, and nothing else: a hub model's weights (for a stand-in of its
# architecture), bitsandbytes quantization, half-precision modes, Triton kernels, CUDA-only optimizers,
# and multi-GPU sharding.
PHYSICAL = {"base_model", "load_in_4bit", "load_in_8bit", "adapter", "bf16", "fp16", "tf32", "optimizer",
            "lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel",
            "deepspeed", "fsdp", "fsdp_config"}


@pytest.mark.parametrize("path", GPU_RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_smoke_changes_only_what_a_cpu_cannot_do(path):
    from slingshot.smoke import SMOKE_RUN_LENGTH, smoke_overrides
    config = load_recipe(path).config
    changes = smoke_overrides(config)
    assert all(why for _, _, why in changes), "every override says why"
    changed = {key for key, _, _ in changes}
    assert changed <= PHYSICAL, changed - PHYSICAL
    assert len(changes) <= 8, changes  # the aim; today: 5 (lora), 8 (qlora), 7 (8-bit Julia)
    kept = {"sequence_len", "sample_packing", "eval_sample_packing", "pad_to_sequence_len", "micro_batch_size",
            "gradient_checkpointing", "lora_r", "lora_alpha", "lora_dropout",
            "lora_target_linear", "learning_rate", "lr_scheduler", "weight_decay", "num_epochs",
            "attn_implementation", "sdpa_varlen", "chat_template", "special_tokens", "eot_tokens", "datasets"}
    assert not changed & kept and not set(SMOKE_RUN_LENGTH) & kept
    assert "base_model" in changed
    if config.get("load_in_4bit") or config.get("load_in_8bit"):
        assert {"load_in_4bit", "load_in_8bit"} & changed
    if config.get("optimizer") in ("adamw_bnb_8bit", "paged_adamw_8bit"):
        assert ("optimizer", "adamw_torch") in {(k, v) for k, v, _ in changes}


def test_smoke_recipe_runs_the_recipe_as_shipped(tmp_path):
    from slingshot.smoke import smoke_recipe
    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/qlora.yml")
    smoke = smoke_recipe(recipe)
    for key in ("sequence_len", "sample_packing", "pad_to_sequence_len", "micro_batch_size",
                "gradient_checkpointing", "lora_r", "lora_target_linear",
                "attn_implementation", "sdpa_varlen", "chat_template", "special_tokens", "eot_tokens", "datasets"):
        assert smoke.config.get(key) == recipe.config.get(key) or key == "datasets", key
    assert smoke.config["datasets"][0]["roles_to_train"] == recipe.config["datasets"][0]["roles_to_train"]
    assert smoke.config["base_model"] == "models/stand-ins/meta-llama--Llama-3.1-8B-tiny"
    assert smoke.config["adapter"] == "lora" and not smoke.config.get("load_in_4bit")
    assert smoke.config["optimizer"] == "adamw_torch" and smoke.config["max_steps"] == 1
    assert smoke.config["gradient_accumulation_steps"] == 2  # the accumulation path runs, for 2 micro batches
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
    path = write_recipe(tmp_path, edit=lambda c: c.update(sample_packing="maybe"))
    with pytest.raises(RecipeError, match="Axolotl rejects the config: sample_packing"):
        load_recipe(path)


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("base_model: x\ndatasets: [\n  - a: b\n")
    with pytest.raises(RecipeError, match="bad.yml:\\d+: not valid YAML"):
        load_recipe(path)


def test_train_without_prepared_data_says_what_to_run(tmp_path, capsys):
    from slingshot.commands.train import main as train
    path = write_recipe(tmp_path)
    assert train([str(path)]) == 2
    stderr = capsys.readouterr().err
    assert "no prepared data" in stderr and "make prepare" in stderr


@pytest.mark.slow
def test_gpu_check_on_tiny_stand_ins(model_dir, tmp_path):
    """`make gpu-check`'s pipeline on the CPU: one real Axolotl step of each distinct GPU training on a
    tiny random-initialized stand-in of its base model (this is also the GPU recipes' smoke run), then
    the eval backend at batch 1 and at its default batch."""
    out = tmp_path / "gpu_check"
    result = subprocess.run([sys.executable, "bench/gpu_check.py", "--shape", "tiny", "--steps", "1",
                             "--eval-questions", "4", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads(out.with_suffix(".json").read_text())
    trained = {Path(r["recipe"]).as_posix() for r in report["trainings"]}
    assert trained == {p.relative_to(ROOT).as_posix() for p in distinct_trainings(GPU_RECIPES)}
    for r in report["trainings"]:
        assert r["steps"] == 1 and r["final_train_loss"] > 0, r
        assert r["stand_in"].startswith("models/stand-ins/") and r["stand_in"].endswith("-tiny")
        assert 1 <= len(r["overrides"]) <= 8 and r["plan_peak_gpu_memory_gb"] > 0
        run = RUNS_DIR / "derived" / f"gpu-check-tiny-{load_recipe(ROOT / r['recipe']).name}"
        log = (run / "train.log").read_text()
        axolotl = yaml.safe_load((run / "axolotl.yml").read_text())
        shipped = load_recipe(ROOT / r["recipe"]).config
        for key in ("attn_implementation", "sample_packing", "chat_template", "special_tokens", "eot_tokens"):
            assert axolotl.get(key) == shipped.get(key), key
        attention = json.loads((run / "train_summary.json").read_text())["attention"]
        assert attention["path"] == "masked SDPA" and attention["device"] == "cpu", attention  # no sdpa_varlen here
        assert "Traceback" not in log
    assert set(report["eval"]["runs"]) == {"batch 1", "batch auto"}
    assert all(v["questions_per_s"] > 0 for v in report["eval"]["runs"].values())
    assert "| recipe |" in out.with_suffix(".md").read_text()


def test_only_the_library_is_packaged_and_eval_runs_from_the_checkout():
    import tomllib
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert found["include"] == ["slingshot*"]
    result = run_module("eval", "evaluate-v1.1", "--help", check=True)
    assert "SQuAD" in result.stdout
    where = subprocess.run([sys.executable, "-c", "import eval; print(eval.__file__)"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve().parent == ROOT / "eval"
