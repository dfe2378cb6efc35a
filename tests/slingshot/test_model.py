"""The embedded model's Hugging Face tokenizer tokenizes as llama.cpp does on the GGUF it came from,
and it is the byte-level BPE that llama.cpp's HF-to-GGUF converter recognises (see slingshot.model)."""
import gzip
import json

import pytest

from slingshot.layout import SOURCES_DIR


def squad_dev_texts(articles=8):
    with gzip.open(SOURCES_DIR / "squad" / "dev-v1.1.json.gz", "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    texts = []
    for article in data[:articles]:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            for qa in paragraph["qas"]:
                texts += [qa["question"], *(a["text"] for a in qa["answers"])]
    return texts


def test_tokenizer_matches_llama_cpp_on_the_source_gguf(model_dir):
    llama_cpp = pytest.importorskip("llama_cpp", reason="run `make llamacpp`")
    from transformers import AutoTokenizer

    from slingshot.model import find_gguf

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert json.loads(tokenizer.backend_tokenizer.to_str())["model"]["byte_fallback"] is False
    reference = llama_cpp.Llama(str(find_gguf()), vocab_only=True, verbose=False)
    # '⅓' and the digits are where transformers' own reading of the GGUF tokenized differently
    texts = squad_dev_texts() + ["⅓ to Tesla, ⅓ to Peck", "2023: 12,345.67 and 1e-9", "  two  spaces\n\n\ttab",
                                 "émoji 🦙 中文 日本語", "<|im_start|>user"]
    differ = [t for t in texts if tokenizer.encode(t, add_special_tokens=False)
              != reference.tokenize(t.encode(), add_bos=False, special=True)]
    assert len(texts) > 1000 and differ == []
    assert tokenizer.decode(tokenizer.encode("⅓ of 2023 🦙", add_special_tokens=False)) == "⅓ of 2023 🦙"
