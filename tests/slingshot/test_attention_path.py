"""Which attention path a training took, asked of Axolotl and transformers."""
import yaml

from slingshot.attention_path import describe, observe
from slingshot.recipe import load_recipe
from tests.helpers import DEFAULT_RECIPE


def test_the_attention_path_is_asked_of_axolotl(tmp_path, model_dir):
    """On this CPU Axolotl keeps stock SDPA for packed rows (masked SDPA); without packing the model's
    own attention runs; Axolotl's log line that it installed sdpa_varlen counts."""
    from slingshot.train import axolotl_config
    config = axolotl_config(load_recipe(DEFAULT_RECIPE))
    path = tmp_path / "axolotl.yml"
    for edit, expected in [({}, "sdpa"), ({"sample_packing": True, "attn_implementation": "sdpa"}, "masked SDPA"),
                           ({"sample_packing": True, "attn_implementation": "eager"}, "eager")]:
        path.write_text(yaml.safe_dump({**config, **edit}))
        attention = observe(path)
        assert attention["path"] == expected and attention["device"] == "cpu", (edit, attention)
    path.write_text(yaml.safe_dump({**config, "sample_packing": True, "attn_implementation": "sdpa"}))
    assert observe(path, "INFO sdpa_varlen: patched 'sdpa' to use cu_seqlens varlen_attn")["path"] == "sdpa_varlen"
    assert observe(tmp_path / "missing.yml")["path"] == "unknown"


def test_describe_says_the_path_and_what_decided_it():
    assert describe({"path": "sdpa_varlen", "about": "varlen", "device": "cuda:0", "dtype": "bfloat16",
                     "sdpa_varlen": None}) == "attention: sdpa_varlen (varlen; device cuda:0, dtype bfloat16, sdpa_varlen None)"
    assert describe({"path": "unknown"}) == "attention: unknown"
