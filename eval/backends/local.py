"""Local transformers backend (+ a peft LoRA adapter): batched greedy generation.

Prompts are sorted by length and cut into batches under a token budget, left-padded, and
decoded greedily; a row stops at EOS. Rows that finish leave the batch (their KV cache rows
are dropped), so a batch costs what its longest *remaining* answers cost, not what the
longest one costs for every row. Outputs equal batch-1 greedy decoding (see bench/).

Every prompt of a run starts with the same tokens (the system prompt, and with few-shot
prompts the k worked examples): that shared prefix is run through the model once per run, and
each batch starts from a copy of its KV cache, so a 3-shot prompt costs little more than a
0-shot one. Batches are laid out [prefix][left padding][question], the padding masked and
positions counted over real tokens only, so every row sees exactly its own prompt.

On the CPU, attention runs through `sdpa_grouped` (torch's SDPA given the model's grouped KV
heads as they are): transformers repeats every cached key and value for each query head of its
group (a copy) whenever a padding mask is present, which at a 3-shot prompt's length cost more than the
attention itself (3.2x per call at 683 cached tokens, identical outputs).
"""
import copy
import functools
import json
import time
from pathlib import Path

from eval.backends.base import Backend, Generation, register
from slingshot.layout import display_path, resolve
from slingshot.io import sha256_file
from slingshot.errors import UserError

DEFAULT_BATCH_TOKENS = 4096   # prompt tokens per batch on a CPU; a GPU takes far more
MAX_BATCH_SIZE = 64
MIN_SHARED_PREFIX = 16        # tokens; below this a shared prefix is not worth a cache copy


def inference_mode(method):
    """torch.inference_mode(), with torch imported on the first call: the backend registry imports
    this module, and commands that never run a local model should not pay for loading torch."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        import torch
        with torch.inference_mode():
            return method(*args, **kwargs)
    return wrapper


def sdpa_grouped(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """transformers' SDPA attention, but with grouped KV heads left grouped (enable_gqa)."""
    import torch
    if attention_mask is not None and attention_mask.ndim == 4:
        attention_mask = attention_mask[:, :, :, :key.shape[-2]]
    if is_causal is None:
        is_causal = query.shape[2] > 1 and attention_mask is None and getattr(module, "is_causal", True)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=is_causal,
        enable_gqa=key.shape[1] != query.shape[1])
    return out.transpose(1, 2).contiguous(), None


def register_sdpa_grouped():
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register("sdpa_grouped", sdpa_grouped)
    ALL_MASK_ATTENTION_FUNCTIONS.register("sdpa_grouped", sdpa_mask)
    return "sdpa_grouped"


def resolve_path(name):
    path = Path(name)
    if not path.is_absolute() and resolve(path).exists():
        path = resolve(path)
    return path


def weights_digest(folder):
    """sha256 over a folder's weight files, cached beside them (keyed by size and mtime)."""
    folder = Path(folder)
    files = sorted(list(folder.glob("*.safetensors")) + list(folder.glob("*.bin")))
    if not files:
        raise UserError(f"{folder}: no weight files (*.safetensors or *.bin)")
    cache_file = folder / ".slingshot-weights.json"
    stamp = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    if cache_file.exists():
        cached = json.loads(cache_file.read_text())
        if cached.get("stamp") == stamp:
            return cached["sha256"]
    digest = "+".join(sha256_file(f)[:16] for f in files)
    try:
        cache_file.write_text(json.dumps({"stamp": stamp, "sha256": digest}))
    except OSError:
        pass
    return digest


def quantization_config(quantize, device):
    """bitsandbytes settings equal to Axolotl's for `load_in_4bit` (NF4, double quant) and `load_in_8bit`."""
    if quantize not in ("4bit", "8bit"):
        raise ValueError(f"quantize={quantize!r}: expected '4bit' or '8bit'")
    if device != "cuda":
        raise ValueError(f"a {quantize} base model needs a CUDA GPU (bitsandbytes); this machine has none. "
                         f"Score the adapter on a GPU, or with the base in 16-bit where it fits")
    import torch
    from transformers import BitsAndBytesConfig
    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


def recipe_quantization(config):
    """'4bit', '8bit' or None: how a recipe loaded its base for training."""
    if config.get("load_in_4bit") or config.get("adapter") == "qlora":
        return "4bit"
    return "8bit" if config.get("load_in_8bit") else None


@register
class LocalBackend(Backend):
    PREFIX, NAME, SPEC = "hf", "hf", "<folder or hub id>"
    OPTIONS = {"adapter": "adapter", "batch_size": "batch_size"}
    SERVABLE = True
    BATCHES = True  # generate() reports each finished batch (on_batch)

    def __init__(self, model, adapter=None, batch_size="auto", device=None, dtype=None,
                 batch_tokens=DEFAULT_BATCH_TOKENS, quantize=None, reuse_prefix=True, adapters=None):
        """`quantize` ("4bit" or "8bit") loads the base as a QLoRA or 8-bit recipe trained it,
        so its eval fits the GPU it trained on; the adapter then stays unmerged, as in training.
        `adapters` ({name: run folder}, instead of `adapter`): every adapter loaded unmerged beside the base,
        one active per generate call (select_adapter; None: the base alone), for `eval serve`."""
        import torch
        from transformers import AutoModelForCausalLM

        self.spec = f"{self.PREFIX}:{model}"
        self.model_name = model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # fp32 on the CPU: it has no fast bf16 path here, and batched bf16 drifts from batch 1.
        self.dtype = dtype or (torch.bfloat16 if self.device == "cuda" else torch.float32)
        self.batch_size = batch_size
        self.reuse_prefix = reuse_prefix
        self.prefix_stats = {"computed": 0, "tokens": 0}  # for tests and meta: once per run
        self.batch_tokens = batch_tokens if self.device == "cpu" else batch_tokens * 16
        model_path = resolve_path(model)
        self.model_source = str(model_path) if model_path.exists() else model
        self.adapter = None
        tokenizer_source = self.model_source
        if adapter and adapters:
            raise ValueError("pass `adapter` (merged) or `adapters` (selected per call), not both")
        if adapter:
            self.adapter = adapter_folder(adapter)
            tokenizer_source = tokenizer_source_of(self.adapter, tokenizer_source)
        self.tokenizer = load_tokenizer(tokenizer_source)
        self.quantize = quantize
        if quantize:
            self.model = AutoModelForCausalLM.from_pretrained(
                self.model_source, dtype=self.dtype, quantization_config=quantization_config(quantize, self.device),
                device_map={"": 0})
        else:
            attention = register_sdpa_grouped() if self.device == "cpu" else None
            self.model = AutoModelForCausalLM.from_pretrained(self.model_source, dtype=self.dtype,
                                                              attn_implementation=attention)
        if self.adapter:
            from peft import PeftModel
            self.model = PeftModel.from_pretrained(self.model, str(self.adapter))
            if not quantize:  # merging into 4-bit weights would round them again
                self.model = self.model.merge_and_unload()
        self.adapters, self.active = {}, None
        if adapters:
            self._load_adapters(adapters)
        if not quantize:
            self.model.to(self.device)
        self.model.eval()
        self.eos_ids = self._eos_ids()
        self.base_tokenizer, self.base_eos_ids = self.tokenizer, self.eos_ids

    def _load_adapters(self, adapters):
        """Every adapter beside the base, unmerged (peft's named adapters), each with the tokenizer (chat
        template) Axolotl trained it with, so a request renders as the local backend renders it for that run."""
        from peft import PeftModel
        for i, (name, folder) in enumerate(adapters.items()):
            path, inside = adapter_folder(folder), f"adapter{i}"  # peft's name: a served name may hold a '.'
            check_adapter_base(path, self.model_name)
            if i == 0:
                self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=inside)
            else:
                self.model.load_adapter(str(path), adapter_name=inside)
            source = tokenizer_source_of(path, None)
            self.adapters[name] = {"path": path, "peft": inside,
                                   "tokenizer": load_tokenizer(source) if source else self.tokenizer}

    def select_adapter(self, name):
        """The adapter the next generate calls use (None: the base model alone); one per call, never mixed."""
        if name is not None and name not in self.adapters:
            raise ValueError(f"no adapter named {name!r}; loaded: {', '.join(self.adapters) or 'none'}")
        self.active = name
        if name is None:
            self.tokenizer, self.eos_ids = self.base_tokenizer, self.base_eos_ids
        else:
            self.model.set_adapter(self.adapters[name]["peft"])
            self.tokenizer = self.adapters[name]["tokenizer"]
            self.eos_ids = self._eos_ids()

    def _eos_ids(self):
        ids = {self.tokenizer.eos_token_id}
        config_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(config_eos if isinstance(config_eos, list) else [config_eos])
        return sorted(i for i in ids if i is not None)

    def identity(self):
        model_path = Path(self.model_source)
        identity = {"backend": self.NAME, "model": self.spec, "dtype": str(self.dtype).replace("torch.", "")}
        if self.quantize:
            identity["quantize"] = self.quantize
        if model_path.exists():
            identity["model_weights"] = weights_digest(model_path)
        if self.adapter:
            identity["adapter"] = _display(self.adapter)
            identity["adapter_weights"] = weights_digest(self.adapter)
        return identity

    def info(self):
        import torch
        return {"backend": self.NAME, "device": self.device, "dtype": str(self.dtype).replace("torch.", ""),
                "batch_size": self.batch_size, "batch_tokens": self.batch_tokens,
                "threads": torch.get_num_threads(), "shared_prefix_tokens": self.prefix_stats["tokens"]}

    def encode(self, messages):
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                  return_dict=False)

    def render(self, messages, adapter=None):
        """(prompt text, token ids) of messages as a generate call with `adapter` selected renders them (None:
        the base's, or the one model's); the active adapter is left as it is (the server's /tokenize)."""
        if adapter is not None and adapter not in self.adapters:
            raise ValueError(f"no adapter named {adapter!r}")
        tokenizer = self.adapters[adapter]["tokenizer"] if adapter is not None else self.base_tokenizer
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        return text, list(ids)

    def batches(self, encoded, skip=0):
        """Length-sorted batches of (id, ids) under the batch-size and token budgets; the first
        `skip` tokens of each prompt (a cached shared prefix) are not counted against the budget."""
        order = sorted(encoded, key=lambda item: len(item[1]))
        batch, longest = [], 0
        limit = MAX_BATCH_SIZE if self.batch_size == "auto" else int(self.batch_size)
        for item in order:
            length = max(longest, len(item[1]) - skip)
            if batch and (len(batch) >= limit or
                          (self.batch_size == "auto" and length * (len(batch) + 1) > self.batch_tokens)):
                yield batch
                batch, length = [], len(item[1]) - skip
            batch.append(item)
            longest = length
        if batch:
            yield batch

    def shared_prefix(self, prompts):
        """Length of the token prefix all prompts share, leaving each at least one token of its own."""
        if not self.reuse_prefix or len(prompts) < 2:
            return 0
        first, n = prompts[0], min(len(p) for p in prompts) - 1
        for p in prompts[1:]:
            n = next((i for i in range(n) if p[i] != first[i]), n)
        return n if n >= MIN_SHARED_PREFIX else 0

    @inference_mode
    def prefix_cache(self, prefix):
        """The KV cache of the shared prefix, computed once per run."""
        self.prefix_stats["computed"] += 1
        self.prefix_stats["tokens"] = len(prefix)
        import torch
        ids = torch.tensor([prefix], device=self.device)
        return self.model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values

    def generate(self, items, max_new_tokens, on_result, on_batch=None):
        """Answer every (id, messages), calling on_result(id, Generation) for each; `on_batch(n)`, if
        given, once a batch's n answers are all handed over (a progress bar then moves a batch at a
        time: counted per answer, it shows the first answer after the whole first batch's time)."""
        if self.adapters and self.active is None:  # the base alone: every loaded adapter off
            with self.model.disable_adapter():
                return self._generate(items, max_new_tokens, on_result, on_batch)
        return self._generate(items, max_new_tokens, on_result, on_batch)

    def _generate(self, items, max_new_tokens, on_result, on_batch):
        encoded = [(item_id, self.encode(messages)) for item_id, messages in items]
        n_prefix = self.shared_prefix([ids for _, ids in encoded])
        prefix = self.prefix_cache(encoded[0][1][:n_prefix]) if n_prefix else None
        for batch in self.batches(encoded, skip=n_prefix):
            started = time.perf_counter()
            outputs = self.generate_batch([ids for _, ids in batch], max_new_tokens,
                                          prefix=prefix, n_prefix=n_prefix)
            elapsed = time.perf_counter() - started
            for (item_id, ids), out in zip(batch, outputs):
                text = self.tokenizer.decode(out, skip_special_tokens=True)
                on_result(item_id, Generation(text=text, tokens_in=len(ids), tokens_out=len(out),
                                              latency_s=elapsed / len(batch)))
            if on_batch:
                on_batch(len(batch))

    @inference_mode
    def generate_batch(self, prompts, max_new_tokens, prefix=None, n_prefix=0):
        """Greedy continuations (token ids, EOS excluded) of left-padded prompts. With `prefix`
        (the KV cache of the first n_prefix tokens every prompt shares), only the rest is run."""
        import torch
        pad = self.tokenizer.pad_token_id
        rests = [p[n_prefix:] for p in prompts]
        width = max(len(r) for r in rests)
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rests], device=self.device)
        attention = torch.tensor([[1] * n_prefix + [0] * (width - len(r)) + [1] * len(r) for r in rests],
                                 device=self.device)
        position_ids = ((attention.cumsum(-1) - 1).clamp(min=0))[:, n_prefix:]
        eos = torch.tensor(self.eos_ids, device=self.device)
        alive = torch.arange(len(prompts), device=self.device)   # original row of each live row
        results = [[] for _ in prompts]
        cache = None
        if prefix is not None:
            cache = copy.deepcopy(prefix)
            cache.batch_repeat_interleave(len(prompts))
        step_ids, step_positions = input_ids, position_ids
        for _ in range(max_new_tokens):
            out = self.model(input_ids=step_ids, attention_mask=attention, position_ids=step_positions,
                             past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache = out.past_key_values
            next_ids = out.logits[:, -1, :].argmax(-1)
            finished = torch.isin(next_ids, eos)
            for row, token in zip(alive.tolist(), next_ids.tolist()):
                results[row].append(token)
            if finished.any():
                keep = (~finished).nonzero().squeeze(-1)
                for row in alive[finished].tolist():
                    results[row].pop()  # the EOS itself is not part of the answer
                if keep.numel() == 0:
                    break
                alive, next_ids = alive[keep], next_ids[keep]
                attention, step_positions = attention[keep], step_positions[keep]
                cache.batch_select_indices(keep)
            attention = torch.cat([attention, attention.new_ones(len(alive), 1)], dim=1)
            step_positions = step_positions[:, -1:] + 1
            step_ids = next_ids.unsqueeze(-1)
        return results


def adapter_folder(adapter):
    """A LoRA run folder's path; an error naming it where it holds no adapter."""
    path = resolve_path(adapter)
    if not (path / "adapter_config.json").exists():
        raise UserError(f"{adapter}: not a LoRA run folder (no adapter_config.json); train it first with `make train`")
    return path


def check_adapter_base(folder, base_model):
    """UserError where a run folder's adapter was trained on another model than `base_model` (the last part of
    adapter_config.json's base_model_name_or_path differs): peft would load it onto any base of the same shapes."""
    config = Path(folder) / "adapter_config.json"
    try:
        trained_on = json.loads(config.read_text()).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return  # what the adapter's loader reports
    if isinstance(trained_on, str) and trained_on.strip("/") and \
            Path(trained_on.rstrip("/")).name.lower() != Path(str(base_model).rstrip("/")).name.lower():
        raise UserError(f"{_display(config)}: base_model_name_or_path is {trained_on!r}, not the served base "
                        f"{str(base_model)!r}; serve it on the model it was trained on")


def tokenizer_source_of(adapter_path, default):
    """The run folder where it holds a tokenizer (the chat template Axolotl trained with), else `default`."""
    return str(adapter_path) if (adapter_path / "tokenizer_config.json").exists() else default


def load_tokenizer(source):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _display(path):
    return display_path(path)
