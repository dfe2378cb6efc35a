"""Random-initialized stand-ins for a hub base model, built locally from its carried config.json.

    python -m slingshot stand-in meta-llama/Llama-3.1-8B [--shape tiny|full]

A stand-in has the base model's architecture (its model class, grouped-query attention ratio, rotary
settings, activation, sliding window, tied or untied embeddings) and, with `--shape full`, its exact
sizes too; `tiny` keeps the architecture and shrinks the sizes so that a few training steps run on a
CPU in seconds. Its tokenizer is the embedded model's byte-level BPE plus the special tokens the base
model's tokenizer has (model_configs/<name>.tokens.json), so a recipe's chat template, special and
end-of-turn tokens and loss masking run as shipped. Weights are seeded random numbers: memory and speed
do not depend on their values, and nothing is downloaded. Folders: models/stand-ins/<name>-<shape>/.
"""
import json
from pathlib import Path

from slingshot.errors import UserError
from slingshot.io import stable_hash
from slingshot.layout import STAND_INS_DIR, display_path

CONFIGS_DIR = Path(__file__).resolve().parent / "model_configs"
STAMP = "slingshot-stand-in.json"
FORMAT = 1
# tiny: 2 layers, head_dim 16, the base model's heads-per-KV-head ratio kept (4 query heads per group
# at most), its MLP-to-hidden ratio kept.
TINY_LAYERS, TINY_HEAD_DIM, TINY_KV_HEADS = 2, 16, 1


def carried(base_model, suffix):
    path = CONFIGS_DIR / (base_model.replace("/", "--") + suffix)
    if not path.exists():
        raise UserError(f"base_model {base_model!r}: no carried {path.name} in "
                        f"{display_path(CONFIGS_DIR)}/ (see its README) to build a stand-in from")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{display_path(path)}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise UserError(f"{display_path(path)}: expected a JSON object")
    return value


TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def check_tokens(tokens, where):
    """The carried special tokens: bos/eos/unk/pad as non-empty strings (eos required), and
    additional_special_tokens as a list of them."""
    unknown = sorted(set(tokens) - set(TOKEN_KEYS) - {"additional_special_tokens"})
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(TOKEN_KEYS)}, "
                        f"additional_special_tokens")
    extra = tokens.get("additional_special_tokens", [])
    values = [tokens[k] for k in TOKEN_KEYS if k in tokens] + (extra if isinstance(extra, list) else [extra])
    if "eos_token" not in tokens or not isinstance(extra, list) or \
            not all(isinstance(v, str) and v.strip() for v in values):
        raise UserError(f"{where}: expected an eos_token and other special tokens as non-empty strings, and "
                        f"additional_special_tokens as a list of them")


def stand_in_config(config, shape, vocab_size):
    """The base model's config.json with its sizes shrunk (tiny) or kept (full)."""
    dropped = ("torch_dtype", "dtype", "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id")
    config = {k: v for k, v in config.items() if k not in dropped}  # token ids come from the stand-in's tokenizer
    if shape == "full":
        return {**config, "vocab_size": max(config["vocab_size"], vocab_size)}
    if shape != "tiny":
        raise UserError(f"--shape {shape!r}: tiny or full")
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    group = min(4, max(1, heads // kv_heads))
    hidden = TINY_KV_HEADS * group * TINY_HEAD_DIM
    mlp_ratio = config["intermediate_size"] / config["hidden_size"]
    return {**config, "hidden_size": hidden, "num_hidden_layers": TINY_LAYERS,
            "num_attention_heads": TINY_KV_HEADS * group, "num_key_value_heads": TINY_KV_HEADS,
            "head_dim": TINY_HEAD_DIM, "intermediate_size": max(16, int(round(hidden * mlp_ratio / 16)) * 16),
            "vocab_size": -(-vocab_size // 64) * 64}


def stand_in_tokenizer(tokens):
    """The embedded model's tokenizer with the base model's special tokens added."""
    from transformers import AutoTokenizer

    from slingshot.model import MODEL_DIR, is_ready

    if not is_ready():
        raise UserError("the embedded model's tokenizer is needed for stand-ins: run `make model` first")
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    named = {k: v for k, v in tokens.items() if k.endswith("_token")}
    tokenizer.add_special_tokens({**named, "additional_special_tokens": tokens.get("additional_special_tokens", [])})
    tokenizer.chat_template = None  # recipes name their template (llama3, chatml); none is inherited
    tokenizer.pad_token = tokens.get("pad_token") or tokenizer.eos_token
    return tokenizer


def stamp_key(stamp):
    """The build key a stand-in folder records; None when missing or unreadable (then it is rebuilt)."""
    try:
        return json.loads(stamp.read_text()).get("key")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None


def stand_in_path(base_model, shape="tiny"):
    return STAND_INS_DIR / f"{base_model.replace('/', '--')}-{shape}"


def build_stand_in(base_model, shape="tiny", seed=0):
    """The stand-in folder for `base_model`, built once (rebuilt when its inputs change)."""
    from slingshot.plan import Shapes

    config, tokens = carried(base_model, ".json"), carried(base_model, ".tokens.json")
    Shapes.from_config(config, where=display_path(CONFIGS_DIR / (base_model.replace("/", "--") + ".json")))
    check_tokens(tokens, display_path(CONFIGS_DIR / (base_model.replace("/", "--") + ".tokens.json")))
    folder = stand_in_path(base_model, shape)
    key = stable_hash({"config": config, "tokens": tokens, "shape": shape, "seed": seed, "format": FORMAT})
    if stamp_key(folder / STAMP) == key:
        return folder
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = stand_in_tokenizer(tokens)
    spec = stand_in_config(config, shape, len(tokenizer))
    model_config = AutoConfig.for_model(**spec)
    for name in ("bos_token", "eos_token", "pad_token"):
        token = getattr(tokenizer, name)
        setattr(model_config, f"{name}_id", tokenizer.convert_tokens_to_ids(token) if token else None)
    torch.manual_seed(seed)
    with torch.device("meta" if shape == "full" else "cpu"):
        model = AutoModelForCausalLM.from_config(model_config, dtype=torch.bfloat16 if shape == "full" else torch.float32)
    if shape == "full":  # 8B parameters: materialize in bf16 and fill (on the GPU where there is one)
        model = model.to_empty(device="cuda" if torch.cuda.is_available() else "cpu")
        generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0, model_config.initializer_range, generator=generator)
    from slingshot.model import save_model_folder
    save_model_folder(model, tokenizer, folder, STAMP, {
        "key": key, "base_model": base_model, "shape": shape, "seed": seed,
        "note": "random weights: for memory, speed and pipeline checks only"})
    return folder
