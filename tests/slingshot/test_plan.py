"""The planner: offline for every shipped recipe, and close to published peak-memory measurements."""
import json

import pytest

from slingshot import ROOT
from slingshot.plan import GPUS, LITGPT, estimate, format_plan, litgpt_config, model_config, plan
from slingshot.recipe import load_recipe
from tests.helpers import write_recipe

RECIPES = sorted((ROOT / "recipes").glob("*/*/*.yml"))


@pytest.mark.parametrize("name,changes,micro_batch,four_bit,published", LITGPT, ids=[r[0] for r in LITGPT])
def test_peak_memory_within_6_percent_of_litgpt(name, changes, micro_batch, four_bit, published):
    model = {**model_config("meta-llama/Llama-3.1-8B"), **changes}
    predicted = estimate(litgpt_config(micro_batch, four_bit), model)["peak_gb"]
    assert abs(predicted - published) / published < 0.06, (name, predicted, published)


def test_llama_lora_r32_qv_trainable_parameters():
    # 32 layers x r32 x ((4096 + 4096) for q + (4096 + 1024) for v)
    e = estimate(litgpt_config(1, False), model_config("meta-llama/Llama-3.1-8B"))
    assert e["trainable_params"] == 32 * 32 * (8192 + 5120) == 13_631_488
    assert 8.02e9 < e["total_params"] < 8.04e9  # Llama-3.1-8B: 8.03B


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_every_shipped_recipe_plans_offline_and_fits_its_hardware(path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = load_recipe(path)
    from slingshot.plan import gpu_of_recipe
    if "cpu" in path.stem:
        return  # a CPU recipe has no GPU to fit; it still plans on any GPU:
    result = plan(recipe, gpu=gpu_of_recipe(recipe))
    assert result["fits"], result
    assert result["gpu"] != "A10G-24GB" or "A10G" in recipe.block["hardware"]["name"]
    for key in ("trainable_params", "peak_gpu_memory_gb", "train_tokens", "hours", "usd", "fits"):
        assert key in result


def test_gradient_checkpointing_and_micro_batch_change_the_prediction():
    model = model_config("meta-llama/Llama-3.1-8B")
    base = {"sequence_len": 1024, "micro_batch_size": 4, "lora_r": 32, "lora_target_linear": True, "bf16": True}
    on = estimate({**base, "gradient_checkpointing": True}, model)["peak_gb"]
    off = estimate({**base, "gradient_checkpointing": False}, model)["peak_gb"]
    smaller = estimate({**base, "gradient_checkpointing": True, "micro_batch_size": 1}, model)["peak_gb"]
    assert smaller < on < off


def test_will_not_fit_says_what_would():
    recipe = load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml")
    result = plan(recipe, gpu="T4-16GB")
    assert not result["fits"]
    assert any("QLoRA" in way or "ZeRO-3" in way for way in result["to_fit"]), result["to_fit"]
    # and each suggestion really fits by the same model
    assert all(float(way.rsplit("(", 1)[1].split()[0]) <= 15.0 for way in result["to_fit"])


def test_cli_json_and_table(capsys, monkeypatch):
    from slingshot.commands.plan import main  # in this process: a process of its own costs seconds of imports
    monkeypatch.chdir(ROOT)  # offline: tests.helpers sets HF_HUB_OFFLINE before anything imports the hub's client
    assert main(["recipes/squad/llama-3.1-8b/qlora.yml", "--gpu", "T4-16GB", "--usd-per-hour", "0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["fits"] is True and data["usd_per_hour"] == 0.5
    assert data["usd"] == round(data["hours"] * 0.5, 2)
    assert data["train_tokens"] == 3504 * data["tokens_per_row"]
    main(["recipes/squad/llama-3.1-8b/lora.yml", "--gpu", "T4-16GB"])
    table = capsys.readouterr().out
    assert "will not fit" in table and "to fit" in table
    assert main(["recipes/squad/llama-3.1-8b/lora.yml", "--gpu", "B300"]) == 2 and "T4-16GB" in capsys.readouterr().err


def test_unknown_model_without_network_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from slingshot.errors import UserError
    with pytest.raises(UserError, match="no config.json here"):
        model_config("nobody/no-such-model")


def test_gpu_table_is_sane():
    for name, (memory, tflops, price) in GPUS.items():
        assert str(memory) in name and tflops > 0 and price > 0
    assert GPUS["H100-80GB"][1] == 989.4 and GPUS["H100PCIe-80GB"][1] == 756  # dense, not the 2:4 sparse figures


def test_train_flops_per_token_against_a_hand_count():
    """LoRA: 4N for the frozen base plus 6 per adapter parameter; full fine-tuning: 6N. N is every
    weight a token is multiplied by: the layers' linears and norms and the head, not the input embedding."""
    from slingshot.plan import train_flops_per_token
    llama = model_config("meta-llama/Llama-3.1-8B")
    # per layer: q 4096x4096, k and v 4096x1024, o 4096x4096, gate and up 4096x14336, down 14336x4096,
    # two norms of 4096; 32 layers, the untied head 128,256 x 4096 and the final norm
    n = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096) + 128_256 * 4096 + 4096
    assert n == 7_504_924_672
    # r32 on all seven linears: 32 x (in + out) each, 32 layers
    adapter = 32 * 32 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 3 * (4096 + 14336))
    assert adapter == 83_886_080
    lora = {"adapter": "lora", "lora_r": 32, "lora_target_linear": True}
    assert train_flops_per_token(llama, lora) == 4 * n + 6 * adapter == 30_523_015_168
    assert train_flops_per_token(llama, {**lora, "adapter": "qlora", "load_in_4bit": True}) == 30_523_015_168
    assert train_flops_per_token(llama, {}) == 6 * n == 45_029_548_032  # full fine-tuning
    # a tiny tied model: hidden 64, 4 heads of 16 (2 for k and v), MLP 128, 2 layers, vocabulary 100
    tiny = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": True}
    n = 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64) + 100 * 64 + 64  # the tied matrix once
    adapter = 2 * (8 * (64 + 64) + 8 * (64 + 32))  # r8 on q and v
    assert (n, adapter) == (80_448, 3_584)
    qv = {"adapter": "lora", "lora_r": 8, "lora_target_modules": ["q_proj", "v_proj"]}
    assert train_flops_per_token(tiny, qv) == 4 * n + 6 * adapter == 343_296


def test_plan_time_and_mfu_use_the_same_count(tmp_path):
    """40% MFU on one H100 SXM (989.4 dense bf16 TFLOPS) for the 8B LoRA recipe is 12,966 tokens/s by
    the 4N+adapter count; plan's hours and dollars are its tokens at that rate."""
    path = write_recipe(tmp_path, base=ROOT / "recipes/squad/llama-3.1-8b/lora.yml",
                        edit=lambda c: c["slingshot"].update(train_size="all"))
    recipe = load_recipe(path)
    result = plan(recipe, gpu="H100-80GB", mfu=0.4)
    assert result["train_flops_per_token"] == 30_523_015_168 and result["flop_count"] == "4N+adapter"
    tokens_per_s = 0.4 * 989.4e12 / 30_523_015_168
    assert round(tokens_per_s) == 12_966
    hours = result["train_tokens"] / tokens_per_s / 3600
    assert hours > 0.3 and abs(result["hours"] - hours) <= 0.0005 and abs(result["usd"] - hours * 2.50) <= 0.005
    # without --mfu: 35%, less the second forward pass of gradient checkpointing (2N + 2 per adapter
    # parameter on top of the counted 4N + 6), which the recipe turns on
    default = plan(recipe, gpu="H100-80GB")
    counted, recomputed = 30_523_015_168, 2 * (7_504_924_672 + 83_886_080)
    assert default["mfu"] == round(0.35 * counted / (counted + recomputed), 3) == 0.234
    assert "at 23% MFU by the 4N+adapter count (30.52 GFLOP a token) of 989.4 TFLOPS" in format_plan(default)


def test_trainable_parameters_equal_what_axolotl_trains(model_dir):
    """The default recipe's adapter, as Axolotl saves it (r32 on all 7 linears of SmolLM2-135M):
    9,768,960 parameters, the count `make train` reads from the adapter's tensor shapes."""
    recipe = load_recipe(ROOT / "recipes/squad/smollm2-135m/lora-cpu.yml")
    assert plan(recipe, gpu="T4-16GB")["trainable_params"] == 9_768_960


@pytest.mark.parametrize("size,rows", [("all", 87599), ("4%", 3504), ("100%", 87599), (500, 500)])
def test_squad_sizes_count_as_data_prep_counts_them(tmp_path, size, rows):
    """`all`, percentages and counts go through data prep's own parser (slingshot.tasks.parse_size)."""
    path = write_recipe(tmp_path, base=ROOT / "recipes/squad/llama-3.1-8b/lora.yml",
                        edit=lambda c: c["slingshot"].update(train_size=size))
    result = plan(load_recipe(path), gpu="A100-80GB")
    assert result["train_rows"] == rows and result["train_tokens"] == rows * result["tokens_per_row"] > 0
    assert result["hours"] > 0 and result["usd"] > 0


@pytest.mark.parametrize("edit,rows", [
    (lambda b: None, 11 * 50),                                            # the shipped cheater: 11 cases x top 50
    (lambda b: b.update(train_size=100), 100),                            # a cap
    (lambda b: b.update(train_cases="all", top_n_per_case=10), 14 * 10),  # every leaderboard case
])
def test_julia_sizes_count_cases_times_top_n(tmp_path, edit, rows):
    def change(config):
        edit(config["slingshot"])
    path = write_recipe(tmp_path, base=ROOT / "recipes/julia/dolphin-2.6-mistral-7b/lora-cheater.yml", edit=change)
    result = plan(load_recipe(path), gpu="A100-80GB")
    assert result["train_rows"] == rows and result["train_tokens"] > 0


def test_a_cap_above_what_the_cases_hold_is_refused(tmp_path):
    path = write_recipe(tmp_path, base=ROOT / "recipes/julia/dolphin-2.6-mistral-7b/lora-cheater.yml",
                        edit=lambda c: c["slingshot"].update(train_size=10_000))
    from slingshot.errors import UserError
    with pytest.raises(UserError, match="slingshot.train_size.*10000.*only 550"):
        plan(load_recipe(path), gpu="A100-80GB")


@pytest.mark.parametrize("change,message", [
    (lambda c: c.pop("num_attention_heads"), "num_attention_heads is missing"),
    (lambda c: c.update(num_attention_heads=0), "num_attention_heads is 0"),
    (lambda c: c.update(hidden_size="4096"), "hidden_size is '4096'"),
    (lambda c: c.update(num_key_value_heads=5), "not a multiple of num_key_value_heads 5"),
    (lambda c: c.clear() or c.update(n_embd=768, n_head=12, n_layer=12, vocab_size=50257), "hidden_size is missing"),
])
def test_odd_model_configs_are_clear_errors(tmp_path, change, message):
    """A local model folder whose config.json the planner cannot read: an error naming the file and key."""
    from slingshot.errors import UserError
    folder = tmp_path / "model"
    folder.mkdir()
    config = model_config("meta-llama/Llama-3.1-8B")
    change(config)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=message) as caught:
        model_config(str(folder))
    assert str(folder / "config.json") in str(caught.value)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="not a readable config.json"):
        model_config(str(folder))


def test_plan_gives_what_an_8b_export_needs():
    result = plan(load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml"), gpu="A10G-24GB")
    export = result["export"]
    # 8.03B parameters: merged bf16 ~16 GB, F32 ~32 GB, F16 ~16 GB, Q8_0 ~8.5 GB, Q4_K_M ~4.9 GB
    assert 75 < export["disk_gb"] < 80 and 19 < export["memory_gb"] < 21
    assert 32 < export["files_gb"]["F32"] < 32.3
    assert "make export needs" in format_plan(result)


def test_a_device_name_finds_its_row_of_the_table():
    from slingshot.plan import gpu_of_device
    assert gpu_of_device("NVIDIA H200", 139.8) == "H200-141GB"
    assert gpu_of_device("NVIDIA A100-SXM4-40GB", 42.4) == "A100-40GB"
    assert gpu_of_device("NVIDIA A100 80GB PCIe", 85.0) == "A100-80GB"
    assert gpu_of_device("Tesla T4", 15.8) == "T4-16GB"
    assert gpu_of_device("NVIDIA H100 80GB HBM3", 85.0) == "H100-80GB"
    assert gpu_of_device("NVIDIA H100 PCIe", 85.0) == "H100PCIe-80GB"
    assert gpu_of_device("NVIDIA L40S", 47.7) == "L40S-48GB" and gpu_of_device("NVIDIA L4", 23.7) == "L4-24GB"
    assert gpu_of_device("NVIDIA GeForce RTX 3090", 25.3) == "RTX3090-24GB"
    assert gpu_of_device("NVIDIA H100 NVL", 99.9) is None  # lower clocks than the SXM row
    assert gpu_of_device("NVIDIA B300", 288) is None


def test_a_silent_recipe_is_planned_with_axolotls_defaults_not_the_planners(tmp_path):
    """plan reads settings through slingshot.recipe.settings: a recipe without sequence_len or micro_batch_size
    is planned at Axolotl's 512 and 1, and a LoRA recipe without lora_r (Axolotl has no default) is refused."""
    from slingshot.errors import UserError
    from slingshot.recipe.settings import AXOLOTL_DEFAULTS

    base = ROOT / "recipes/squad/llama-3.1-8b/lora.yml"
    silent = write_recipe(tmp_path, base=base, name="silent.yml",
                          edit=lambda c: [c.pop(k) for k in ("sequence_len", "micro_batch_size", "num_epochs")])
    result = plan(load_recipe(silent), gpu="A100-80GB")
    assert result["sequence_len"] == AXOLOTL_DEFAULTS["sequence_len"][0] == 512
    assert result["micro_batch_size"] == AXOLOTL_DEFAULTS["micro_batch_size"][0] == 1
    assert result["epochs"] == AXOLOTL_DEFAULTS["num_epochs"][0]
    no_rank = write_recipe(tmp_path, base=base, name="no-rank.yml", edit=lambda c: c.pop("lora_r"))
    with pytest.raises(UserError, match=r"no-rank.yml:\d+: adapter: lora needs lora_r, and Axolotl has no default"):
        plan(load_recipe(no_rank), gpu="A100-80GB")


def test_plan_and_export_share_no_circle():
    """export reads its default types and sizes from plan; plan names nothing of export."""
    import ast
    from slingshot import export
    from slingshot.plan import DEFAULT_TYPES

    tree = ast.parse((ROOT / "slingshot" / "plan.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "slingshot.export" not in imported and export.DEFAULT_TYPES is DEFAULT_TYPES
