"""A recipe trained on a quantized base is scored on the same quantized base (so it fits its GPU)."""
import pytest

from eval.backends.local import quantization_config, recipe_quantization
from eval.recipe import eval_quantization
from slingshot import ROOT
from slingshot.recipe import load_recipe
from tests.helpers import write_recipe


def test_each_shipped_recipe_is_scored_as_it_trained():
    expected = {"squad/llama-3.1-8b/qlora.yml": "4bit", "squad/llama-3.1-8b/lora.yml": None,
                "julia/dolphin-2.6-mistral-7b/lora-cheater.yml": "8bit",
                "squad/smollm2-135m/lora-cpu.yml": None}
    for rel, quantize in expected.items():
        assert eval_quantization(load_recipe(ROOT / "recipes" / rel)) == quantize, rel


def test_the_recipe_can_ask_for_16_bit_eval(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, base=ROOT / "recipes/squad/llama-3.1-8b/qlora.yml",
                                      edit=lambda c: c["slingshot"]["eval"].update(quantize="none")))
    assert eval_quantization(recipe) is None


def test_bitsandbytes_settings_match_axolotl_qlora():
    assert recipe_quantization({"adapter": "qlora"}) == "4bit"
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        quantization_config("4bit", "cpu")
    with pytest.raises(ValueError, match="expected '4bit' or '8bit'"):
        quantization_config("3bit", "cuda")
