"""eval/serving.py: the command lines `make serve` runs (vLLM's exactly, though vLLM does not run here), the names
every adapter is served under, and which adapters a recipe or a sweep has."""
import json
import shutil

import pytest

from eval import serving
from slingshot.errors import UserError
from slingshot.layout import ROOT
from slingshot.recipe import load_recipe
from tests.helpers import DEFAULT_RECIPE


def adapter(folder, rank):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
    return folder


def test_the_vllm_command_serves_the_base_and_every_adapter_by_name(tmp_path):
    a, b = adapter(tmp_path / "a", 8), adapter(tmp_path / "b", 24)
    argv = serving.vllm_command("meta-llama/Llama-3.1-8B-Instruct", [("squad-8b-lora", a), ("cell-2", b)],
                                host="0.0.0.0", port=8001)
    assert argv == [".venv-vllm/bin/vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct",
                    "--served-model-name", "Llama-3.1-8B-Instruct", "--enable-lora", "--max-loras", "2",
                    "--max-lora-rank", "32", "--lora-modules", f"squad-8b-lora={a}", f"cell-2={b}",
                    "--host", "0.0.0.0", "--port", "8001", "--seed", "0", "--generation-config", "vllm"]


def test_the_cpu_command_is_eval_serve_with_the_same_names_and_repo_paths_relative():
    argv = serving.eval_serve_arguments("models/smollm2-135m-instruct", [("tuned", ROOT / "runs" / "x")], port=0)
    assert argv == ["--model", "hf:models/smollm2-135m-instruct",
                    "--adapter", "tuned=runs/x", "--host", "127.0.0.1", "--port", "0"]


def test_lora_ranks_round_up_to_one_vllm_accepts_and_a_bad_config_is_named(tmp_path):
    assert serving.vllm_max_lora_rank([("a", adapter(tmp_path / "a", 64))]) == 64
    assert serving.vllm_max_lora_rank([("b", adapter(tmp_path / "b", 2))]) == 8
    with pytest.raises(serving.ServingError, match="up to 512"):
        serving.vllm_max_lora_rank([("c", adapter(tmp_path / "c", 1024))])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "adapter_config.json").write_text("{}")
    with pytest.raises(serving.ServingError, match="adapter_config.json: no LoRA rank 'r'"):
        serving.lora_rank(tmp_path / "d")


def test_adapter_arguments_are_one_bare_folder_or_named_ones():
    assert serving.parse_adapter_args(None) == (None, None)
    assert serving.parse_adapter_args(["runs/x"]) == ("runs/x", None)
    assert serving.parse_adapter_args(["a=runs/x", "b=runs/y"]) == (None, {"a": "runs/x", "b": "runs/y"})
    assert serving.parse_adapter_args(["runs/lr=1e-4"]) == ("runs/lr=1e-4", None)  # a path, not a name
    for bad in (["runs/x", "runs/y"], ["a=runs/x", "runs/y"], ["a=runs/x", "a=runs/y"], ["=runs/x"]):
        with pytest.raises(UserError, match="--adapter"):
            serving.parse_adapter_args(bad)


def test_served_names_are_the_recipes_and_the_base_models_folder():
    recipe = load_recipe(DEFAULT_RECIPE)
    assert serving.served_model(recipe, False) == "smollm2-135m-instruct"
    assert serving.served_model(recipe, True) == recipe.name


def test_a_recipe_without_its_adapter_is_refused_naming_make_train(tmp_path):
    recipe = load_recipe(DEFAULT_RECIPE)
    if recipe.paths["adapter"].exists():
        pytest.skip("this session's default recipe is trained")
    with pytest.raises(serving.ServingError, match="make train RECIPE="):
        serving.recipe_adapters(recipe)


def test_a_sweep_serves_its_trained_cells_only():
    from slingshot.sweep import make_cells
    base = load_recipe(DEFAULT_RECIPE)
    cells = make_cells(base, {"lora_r": [4, 8]})
    try:
        with pytest.raises(serving.ServingError, match="none of its 2 sweep cells is trained"):
            serving.sweep_adapters(base, "lora_r=4,8")
        trained = cells[1]["recipe"]
        shutil.rmtree(trained.output_dir, ignore_errors=True)
        adapter(trained.output_dir, 8)
        (trained.paths["adapter"]).write_bytes(b"weights")
        assert serving.sweep_adapters(base, "lora_r=4,8") == [(trained.name, trained.output_dir)]
    finally:
        for c in cells:
            shutil.rmtree(c["recipe"].path.parent, ignore_errors=True)
            shutil.rmtree(c["recipe"].output_dir, ignore_errors=True)


def test_a_gpu_is_where_nvidia_smi_reports_a_driver(tmp_path):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 580.95.05\n")
    smi.chmod(0o755)
    assert serving.has_gpu(str(smi)) is True
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert serving.has_gpu(str(smi)) is False
