"""Which attention path Axolotl took in a training, asked of Axolotl and transformers, not re-derived.

Axolotl 0.19 gives packed rows (sample_packing with attn_implementation: sdpa) torch's variable-length
kernel, `sdpa_varlen`, by replacing the function transformers calls for "sdpa"; it does so only where
that kernel serves the model (PatchManager._apply_sdpa_varlen_patch: CUDA with bf16/fp16 weights, head_dim
at most 256, no sliding window, and sdpa_varlen not set false). Everywhere else stock SDPA runs and
packed rows are kept apart by a block-diagonal mask: "masked SDPA".

`observe` loads the config the training ran with (the run's axolotl.yml) as Axolotl loads it (validated
and normalized: the same device and dtype on this machine), builds the model on the meta device
with Axolotl's attention setting to see which implementation transformers settles on, runs Axolotl's
own patch step, looks up the function that implementation now resolves to, and takes the patch back.
Axolotl's log line, where the training printed one, counts as the same answer.
"""
import contextlib

import yaml

from slingshot.layout import WORKSPACE

VARLEN_LOG_LINE = "sdpa_varlen: patched 'sdpa'"  # what Axolotl logs (INFO) when it installs the kernel
PATHS = {
    "sdpa_varlen": "torch's variable-length kernel: packed rows attend as separate sequences",
    "masked SDPA": "stock SDPA; packed rows are kept apart by a block-diagonal mask",
}


def observe(axolotl_yml, log_text=""):
    """{"path", "about", "attn_implementation", "sample_packing", "device", "dtype", "sdpa_varlen"}."""
    try:
        cfg, model_config = axolotl_config(axolotl_yml)
        implementation = model_attention(model_config, cfg.attn_implementation)
        varlen = installs_varlen(cfg, model_config, implementation) or VARLEN_LOG_LINE in log_text
    except Exception as e:  # the training has finished: a question Axolotl cannot answer must not fail it
        return {"path": "unknown", "about": f"could not ask Axolotl ({type(e).__name__}: {str(e)[:200]})"}
    path = ("sdpa_varlen" if varlen else "masked SDPA" if implementation == "sdpa" and cfg.sample_packing
            else implementation)
    return {"path": path, "about": PATHS.get(path, "no packed rows" if not cfg.sample_packing else ""),
            "attn_implementation": implementation, "sample_packing": bool(cfg.sample_packing),
            "device": str(cfg.device), "dtype": str(cfg.torch_dtype).removeprefix("torch."),
            "sdpa_varlen": cfg.sdpa_varlen}


def axolotl_config(axolotl_yml):
    """The config as `axolotl train` holds it before loading the model, and the model's config."""
    from axolotl.loaders.utils import load_model_config
    from axolotl.utils.config import normalize_config, validate_config
    from axolotl.utils.dict import DictDefault

    with open(axolotl_yml, encoding="utf-8") as f:
        raw = DictDefault(yaml.safe_load(f))
    with contextlib.chdir(WORKSPACE):  # Axolotl trains there: the config's relative paths are from there
        cfg = validate_config(raw)  # without axolotl.cli's GPU probe: importing axolotl.cli configures logging
        normalize_config(cfg)
        return cfg, load_model_config(cfg)


def model_attention(model_config, attn_implementation):
    """The attention implementation transformers gives the model when Axolotl asks for this one."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config, **kwargs)
    return model.config._attn_implementation


def installs_varlen(cfg, model_config, implementation):
    """Whether Axolotl's patch step swaps the varlen kernel in for this implementation."""
    from axolotl.loaders.patch_manager import PatchManager
    from axolotl.monkeypatch.attention.sdpa_varlen import unpatch_sdpa_varlen
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    before = ALL_ATTENTION_FUNCTIONS.get(implementation)
    try:
        PatchManager(cfg, model_config)._apply_sdpa_varlen_patch()
        after = ALL_ATTENTION_FUNCTIONS.get(implementation)
    finally:
        unpatch_sdpa_varlen()
    return after is not before and hasattr(after, "_axolotl_sdpa_original")


def describe(attention):
    """One line for a person: the path, what it means and what decided it."""
    facts = ", ".join(f"{k} {attention[k]}" for k in ("device", "dtype", "sdpa_varlen") if k in attention)
    about = "; ".join(filter(None, [attention.get("about"), facts]))
    return f"attention: {attention['path']}" + (f" ({about})" if about else "")
