"""A GPU recipe's smoke run changes only what a CPU cannot do, and is long enough for its steps."""
from slingshot.smoke import CPU_OPTIMIZERS, SMOKE_OVERRIDES, smoke_overrides, smoke_rows


def test_a_qlora_recipe_loses_only_its_cuda_settings_each_with_a_reason():
    config = {"base_model": "models/smollm2-135m-instruct", "adapter": "qlora", "load_in_4bit": True,
              "bf16": "auto", "optimizer": "paged_adamw_8bit", "lora_r": 16, "sample_packing": True}
    changes = {key: (value, why) for key, value, why in smoke_overrides(config)}
    assert changes["adapter"][0] == "lora" and changes["load_in_4bit"][0] is False
    assert changes["optimizer"][0] == CPU_OPTIMIZERS["paged_adamw_8bit"]
    assert "bf16" not in changes and "lora_r" not in changes and "sample_packing" not in changes
    assert {k for k, _, _ in SMOKE_OVERRIDES if k.endswith("_kernel")} <= changes.keys()  # on when unset
    assert all(why for _, why in changes.values())


def test_smoke_rows_cover_a_packed_step_and_never_fall_under_eight():
    assert smoke_rows({}) == 8
    packed = {"sample_packing": True, "sequence_len": 2048, "micro_batch_size": 2, "gradient_accumulation_steps": 2}
    assert smoke_rows(packed) == 2 * 2 * 2048 // 200 + 1
    assert smoke_rows(packed, steps=3) == -(-3 * 2 * 2 * 2048 // 200)
