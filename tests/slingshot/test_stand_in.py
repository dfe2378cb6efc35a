"""Stand-ins: a hub model's architecture and special tokens, random weights, built locally."""
import json

import pytest

from slingshot.errors import UserError
from slingshot.plan import Shapes, model_config
from slingshot import stand_in

BASES = ["meta-llama/Llama-3.1-8B", "cognitivecomputations/dolphin-2.6-mistral-7b-dpo-laser"]


@pytest.mark.parametrize("base", BASES)
def test_a_tiny_stand_in_keeps_the_architecture_and_the_special_tokens(base, model_dir):
    from transformers import AutoConfig, AutoTokenizer
    folder = stand_in.build_stand_in(base)
    real, built = model_config(base), AutoConfig.from_pretrained(folder)
    assert built.architectures == real["architectures"] and built.model_type == real["model_type"]
    ratio = real["num_attention_heads"] // real["num_key_value_heads"]
    assert built.num_attention_heads // built.num_key_value_heads == min(4, ratio)  # grouped-query attention
    assert getattr(built, "sliding_window", None) == real.get("sliding_window")
    assert built.num_hidden_layers == 2 and built.hidden_size < 100
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokens = json.loads((stand_in.CONFIGS_DIR / (base.replace("/", "--") + ".tokens.json")).read_text())
    for token in [tokens["eos_token"], *tokens.get("additional_special_tokens", [])]:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    assert built.eos_token_id == tokenizer.convert_tokens_to_ids(tokens["eos_token"])
    assert built.vocab_size >= len(tokenizer)
    assert stand_in.build_stand_in(base) == folder  # built once: the stamp matches


def test_full_shape_keeps_every_size():
    real = model_config(BASES[0])
    full = stand_in.stand_in_config(real, "full", 49_216)
    assert Shapes.from_config(full).total_params() == Shapes.from_config(real).total_params()


def test_broken_carried_files_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(stand_in, "CONFIGS_DIR", tmp_path)
    with pytest.raises(UserError, match="no carried x--y.json"):
        stand_in.build_stand_in("x/y")
    config = model_config(BASES[0])
    (tmp_path / "x--y.json").write_text(json.dumps({**config, "num_attention_heads": 0}))
    (tmp_path / "x--y.tokens.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(UserError, match="num_attention_heads is 0"):
        stand_in.build_stand_in("x/y")
    (tmp_path / "x--y.json").write_text(json.dumps(config))
    for tokens, message in [("[1]", "expected a JSON object"), ('{"eos_token": ""}', "non-empty strings"),
                            ('{"eos_token": "a", "foo_token": "b"}', "unknown key"),
                            ('{"eos_token": "a", "additional_special_tokens": "b"}', "as a list")]:
        (tmp_path / "x--y.tokens.json").write_text(tokens)
        with pytest.raises(UserError, match=message):
            stand_in.build_stand_in("x/y")


def test_a_corrupt_stamp_means_rebuild(tmp_path):
    (tmp_path / stand_in.STAMP).write_text("{oops")
    assert stand_in.stamp_key(tmp_path / stand_in.STAMP) is None
    (tmp_path / stand_in.STAMP).write_bytes(b"\xff\xfe[]")
    assert stand_in.stamp_key(tmp_path / stand_in.STAMP) is None
    assert stand_in.stamp_key(tmp_path / "missing.json") is None
