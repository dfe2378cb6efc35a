"""`python -m slingshot plan RECIPE --gpu A10G-24GB`: what a recipe will need before renting a GPU.

From the base model's config.json and the recipe alone: trainable LoRA parameters, peak GPU
memory (weights at their precision, LoRA weights, their gradients and optimizer state,
activations at the recipe's micro batch and sequence length, logits), tokens to train on,
hours at a stated MFU (model FLOPs utilization, counted by `train_flops_per_token`) and dollars.
It says whether the run fits and, if not, what would.

The memory model counts the tensors PyTorch keeps for the backward pass of a Llama/Mistral
decoder layer with an efficient attention kernel (no seq x seq matrix). It predicts
torch.cuda.max_memory_allocated; the CUDA context and allocator slack come on top, which is
why a GPU is taken to offer RESERVE_GB less than its size.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

from slingshot.errors import UserError
from slingshot.layout import ROOT, resolve
from slingshot.recipe.settings import default_source, setting

CONFIGS_DIR = Path(__file__).resolve().parent / "model_configs"
GB = 1e9
RESERVE_GB = 1.0  # CUDA context and allocator fragmentation, outside max_memory_allocated

# name: (memory GB, peak dense bf16 tensor TFLOPS (fp16 where there is no bf16), on-demand USD/hour).
# TFLOPS: the vendor's 16-bit tensor-core peak without 2:4 sparsity, with FP32 accumulate as
# training runs; where a datasheet prints only the sparse figure, half of it. Prices are typical
# list prices; pass --usd-per-hour for yours.
GPUS = {
    "T4-16GB": (16, 65, 0.35),             # T4 datasheet: 65 mixed precision FP16/FP32 (Turing has no bf16)
    "V100-16GB": (16, 125, 0.60),          # V100 SXM2 datasheet: 125 tensor (fp16; no bf16); the PCIe card: 112
    "A10G-24GB": (24, 70, 1.01),           # unverified: NVIDIA publishes no A10G datasheet (AWS's variant of the
                                           # A10, whose datasheet gives 125); 70 is the figure third parties give
    "L4-24GB": (24, 121, 0.80),            # L4 datasheet: 242 with sparsity
    "RTXA5000-24GB": (24, 111, 0.39),      # unverified: half the RTX A5000 datasheet's 222.2 with sparsity
    "RTX3090-24GB": (24, 71, 0.25),        # GA102 whitepaper, appendix: 71 with FP32 accumulate (142: FP16 accumulate)
    "RTX4090-24GB": (24, 165.2, 0.40),     # Ada (AD102) whitepaper: 165.2 with FP32 accumulate (330.3: FP16 accumulate)
    "L40S-48GB": (48, 362.05, 1.00),       # L40S datasheet: 362.05 (733 with sparsity)
    "A100-40GB": (40, 312, 1.30),          # A100 datasheet (SXM and PCIe, 40 and 80 GB): 312 (624 with sparsity)
    "A100-80GB": (80, 312, 1.80),
    "H100PCIe-80GB": (80, 756, 2.00),      # H100 whitepaper: 756 for the PCIe card (datasheet: 1,513 with sparsity)
    "H100-80GB": (80, 989.4, 2.50),        # H100 SXM5, H100 whitepaper: 989.4 (datasheet: 1,979 with sparsity)
    "H200-141GB": (141, 989.4, 3.50),      # H200 SXM: the H100 SXM's GH100 compute (datasheet: 1,979 with sparsity)
}

REQUIRED_SHAPE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Quantized (bitsandbytes) training keeps about ten more hidden-size 16-bit tensors per token and
# layer than the count below explains: fitted to litgpt's three published QLoRA peaks
# (Llama-2-7B, Mistral-7B, Llama-3.1-8B, all within 0.1 GB of each other after this term);
# measured, not derived.
QUANTIZED_EXTRA_PER_TOKEN_LAYER = 10 * 2  # x hidden size, bytes
LOGIT_BYTES = 16  # per logit: bf16 logits, their fp32 copy, log-softmax kept for backward, fp32 and bf16 grads


@dataclass
class Shapes:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @classmethod
    def from_config(cls, c, where="config.json"):
        """Shapes of a Llama/Mistral-style decoder config; anything else is a UserError naming the key."""
        if not isinstance(c, dict):
            raise UserError(f"{where}: expected a JSON object of model settings")
        sizes = {}
        for key in REQUIRED_SHAPE_KEYS + ("num_key_value_heads", "head_dim"):
            value = c.get(key)
            if value is None and key not in REQUIRED_SHAPE_KEYS:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                found = "missing" if value is None else f"{value!r}"
                raise UserError(f"{where}: {key} is {found}; the planner reads Llama/Mistral-style decoder "
                                f"configs, which give it as a positive whole number")
            sizes[key] = value
        heads = sizes["num_attention_heads"]
        kv_heads = sizes.get("num_key_value_heads", heads)
        if heads % kv_heads:
            raise UserError(f"{where}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
        if not sizes.get("head_dim") and sizes["hidden_size"] < heads:
            raise UserError(f"{where}: hidden_size {sizes['hidden_size']} is smaller than num_attention_heads {heads} "
                            f"and there is no head_dim")
        if not isinstance(c.get("tie_word_embeddings", False), bool):
            raise UserError(f"{where}: tie_word_embeddings is {c['tie_word_embeddings']!r}; expected true or false")
        return cls(sizes["hidden_size"], sizes["intermediate_size"], sizes["num_hidden_layers"], heads, kv_heads,
                   sizes.get("head_dim") or sizes["hidden_size"] // heads, sizes["vocab_size"],
                   bool(c.get("tie_word_embeddings", False)))

    def linears(self):
        """(name, in_features, out_features) of each linear layer in one decoder layer."""
        h, q, kv, i = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate
        return [("q_proj", h, q), ("k_proj", h, kv), ("v_proj", h, kv), ("o_proj", q, h),
                ("gate_proj", h, i), ("up_proj", h, i), ("down_proj", i, h)]

    def layer_linear_params(self):
        return sum(a * b for _, a, b in self.linears())

    def embedding_params(self):
        return self.vocab * self.hidden * (1 if self.tied else 2)

    def total_params(self):
        return self.layers * (self.layer_linear_params() + 2 * self.hidden) + self.embedding_params() + self.hidden


def model_config(base_model):
    """config.json of a local model folder, a carried hub config, or the hub; checked to be readable."""
    local = resolve(base_model) / "config.json"
    carried = CONFIGS_DIR / (base_model.replace("/", "--") + ".json")
    if resolve(base_model).is_dir() and not local.is_file():
        raise UserError(f"base_model {base_model!r} is a local folder without a config.json file: "
                        f"point base_model at a Hugging Face model folder or a hub id")
    path = local if local.exists() else carried if carried.exists() else None
    if path is None:
        try:
            from huggingface_hub import hf_hub_download
            path = Path(hf_hub_download(base_model, "config.json"))
        except Exception as e:  # offline, gated without a token, or no such model
            raise UserError(f"base_model {base_model!r}: no config.json here and the hub did not give one "
                            f"({type(e).__name__}); log in with `hf auth login` (or export HF_TOKEN) or put its "
                            f"config.json in {CONFIGS_DIR.relative_to(ROOT)}/") from None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not a readable config.json ({e})") from None
    Shapes.from_config(config, where=str(path))
    return config


def lora_targets(config):
    if setting(config, "lora_target_linear"):
        return set(LINEAR_NAMES)
    # no targets: Axolotl lets peft pick by model type, q_proj and v_proj for Llama and Mistral
    return {t for t in (setting(config, "lora_target_modules") or ["q_proj", "v_proj"]) if t in LINEAR_NAMES}


def weight_bytes_per_param(config):
    if setting(config, "load_in_4bit") or setting(config, "adapter") == "qlora":
        return 0.5 + 0.5 / 64 + 4 / (64 * 256)  # NF4 + 8-bit absmax per 64 + fp32 per 256 blocks (double quant)
    if setting(config, "load_in_8bit"):
        return 1.0 + 4 / 4096  # int8 + one fp32 scale per row
    return 2 if _half(config) else 4


def _half(config):
    """16-bit training: bf16 true or 'auto' (Axolotl's default: bf16, or fp16 where the GPU lacks it), or fp16."""
    return bool(setting(config, "bf16") or setting(config, "fp16"))


def optimizer_state_bytes(optimizer):
    return 2 if "8bit" in (optimizer or "") else 8  # two moments, int8 or fp32


def estimate(config, model_cfg, gpu_memory_gb=None, micro_batch=None, checkpointing=None, gpus=1,
             zero3=None):
    """Peak memory in bytes, by part, for one GPU of a data-parallel run."""
    s = Shapes.from_config(model_cfg)
    mb = micro_batch or setting(config, "micro_batch_size")
    seq = setting(config, "sequence_len")
    ckpt = bool(setting(config, "gradient_checkpointing")) if checkpointing is None else checkpointing
    if zero3 is None:
        zero3 = "zero3" in str(setting(config, "deepspeed") or "")
    half = _half(config)
    act = 2 if half else 4
    r = lora_rank(config)
    targets = lora_targets(config)
    dropout = setting(config, "lora_dropout") > 0
    lora_params = adapter_params(s, config)

    quantized_linears = s.layers * s.layer_linear_params()
    rest = s.total_params() - quantized_linears  # embeddings, lm_head, norms stay 16-bit when quantized
    wbytes = weight_bytes_per_param(config)
    weights = quantized_linears * wbytes + rest * (wbytes if wbytes >= 2 else 2)
    shard = gpus if zero3 else 1
    weights /= shard
    # peft keeps adapter weights in fp32; grads fp32; Adam's two moments.
    lora = lora_params * (4 + 4 + optimizer_state_bytes(setting(config, "optimizer"))) / (gpus if zero3 else 1)

    tokens = mb * seq
    h, q, kv, i = s.hidden, s.heads * s.head_dim, s.kv_heads * s.head_dim, s.intermediate
    # Saved for backward per token and layer: norm inputs and outputs, q/k/v and their rotary
    # versions, attention output, MLP gate, up, activation and product.
    per_token_layer = act * (2 * h + (q + 2 * kv) + (q + kv) + q + 2 * h + 4 * i)
    if dropout:  # a LoRA-wrapped linear keeps its dropped-out input (and the 1-byte mask)
        per_token_layer += sum((act + 1) * a for name, a, _ in s.linears() if name in targets)
    per_token_layer += sum(act * r for name, _, _ in s.linears() if name in targets)
    if ckpt:  # only each layer's input, plus one layer's activations while it is recomputed
        activations = tokens * (s.layers * act * h + per_token_layer)
    else:
        activations = tokens * s.layers * per_token_layer
    if wbytes < 2:  # per layer whose activations are alive at once
        activations += tokens * (1 if ckpt else s.layers) * QUANTIZED_EXTRA_PER_TOKEN_LAYER * h
    logits = tokens * s.vocab * (LOGIT_BYTES if half else 12)
    # the largest weight dequantized to 16-bit for a matmul, alive during forward and backward
    dequant = max(a * b for _, a, b in s.linears()) * 2 if wbytes < 2 else 0
    parts = {"weights": weights, "lora_and_optimizer": lora, "activations": activations,
             "logits": logits, "dequantized": dequant}
    return {"parts_gb": {k: round(v / GB, 2) for k, v in parts.items()},
            "peak_gb": round(sum(parts.values()) / GB, 2),
            "trainable_params": lora_params, "total_params": s.total_params(),
            "micro_batch": mb, "sequence_len": seq, "gradient_checkpointing": ckpt}


def adapter_params(s, config):
    """LoRA parameters: a pair A (in x r), B (r x out) on each targeted linear of every layer."""
    r = lora_rank(config)
    return s.layers * sum(r * (a + b) for name, a, b in s.linears() if name in lora_targets(config))


def lora_rank(config):
    """The recipe's lora_r. Axolotl has no default: a LoRA recipe without one is an error here (peft
    would get None); without an adapter there is no LoRA, so no rank (0)."""
    r = setting(config, "lora_r")
    if r is None and is_lora(config):
        raise UserError(f"adapter: {setting(config, 'adapter')} needs lora_r, and Axolotl has no default "
                        f"({default_source('lora_r')} is None); set it, e.g. lora_r: 16")
    return r or 0


def is_lora(config):
    return setting(config, "adapter") in ("lora", "qlora")


def flop_terms(model_cfg, config):
    """(N, adapter parameters; 0 for full fine-tuning). N: the parameters a token is multiplied by,
    every decoder layer's linears and norms and the output head; not the input embedding, a lookup
    (tied embeddings count once, as the head)."""
    s = Shapes.from_config(model_cfg)
    n = s.total_params() - (0 if s.tied else s.vocab * s.hidden)
    return n, adapter_params(s, config) if is_lora(config) else 0


def train_flops_per_token(model_cfg, config):
    """Model FLOPs of one training token. LoRA (and QLoRA: dequantizing is overhead, not model FLOPs):
    4N for the frozen base (forward 2N, input gradients 2N, no weight gradients) plus 6 per adapter
    parameter (forward, input gradient, weight gradient). Full fine-tuning: 6N. Attention's
    sequence-length terms are not counted, nor is gradient checkpointing's second forward pass."""
    n, adapter = flop_terms(model_cfg, config)
    return 4 * n + 6 * adapter if is_lora(config) else 6 * n


def flop_count_name(config):
    return "4N+adapter" if is_lora(config) else "6N"


def assumed_mfu(model_cfg, config, checkpointing):
    """The MFU plan assumes without --mfu: 35% for a 16-bit base, 20% for a quantized one (dequantizing
    every matmul costs QLoRA about 40%). Gradient checkpointing runs every forward pass twice and the
    second is not model FLOPs, so it lowers MFU by the share of the work it adds."""
    mfu = 0.2 if setting(config, "load_in_4bit") or setting(config, "load_in_8bit") else 0.35
    if not checkpointing:
        return mfu
    n, adapter = flop_terms(model_cfg, config)
    flops = train_flops_per_token(model_cfg, config)
    return mfu * flops / (flops + 2 * (n + adapter))


POSITIVE_KEYS = ("micro_batch_size", "gradient_accumulation_steps", "sequence_len", "lora_r", "lora_alpha",
                 "num_epochs")


def plan(recipe, gpu="A10G-24GB", gpus=1, usd_per_hour=None, mfu=None):
    if gpu not in GPUS:
        raise UserError(f"--gpu {gpu!r} is not in the table; choose one of {', '.join(GPUS)}")
    memory_gb, tflops, price = GPUS[gpu]
    price = price if usd_per_hour is None else usd_per_hour
    config = recipe.config
    checks = {"--gpus": gpus, "--usd-per-hour": price, "--mfu": mfu if mfu is not None else 0.5,
              **{k: config[k] for k in POSITIVE_KEYS if k in config}}  # the values the recipe writes
    for name, value in checks.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0 \
                or (value == 0 and name != "--usd-per-hour"):
            raise UserError(f"{recipe.path}: {name} is {value!r}; it must be a positive number")
    if mfu is not None and mfu > 1:
        raise UserError(f"--mfu {mfu}: a fraction of the GPU's peak, between 0 and 1")
    if is_lora(config) and setting(config, "lora_r") is None:
        raise UserError(f"{recipe.where('adapter')}: adapter: {setting(config, 'adapter')} needs lora_r, and Axolotl "
                        f"has no default ({default_source('lora_r')} is None); set it, e.g. lora_r: 16")
    model_cfg = model_config(setting(config, "base_model"))
    est = estimate(config, model_cfg, gpus=gpus)
    mfu = mfu or round(assumed_mfu(model_cfg, config, est["gradient_checkpointing"]), 3)
    alt = estimate(config, model_cfg, gpus=gpus, checkpointing=not est["gradient_checkpointing"])
    usable = memory_gb - RESERVE_GB
    fits = est["peak_gb"] <= usable

    rows = recipe.task.planned_train_rows(recipe.params())
    epochs = setting(config, "num_epochs")
    per_row = recipe.task.TOKENS_PER_ROW
    if not setting(config, "sample_packing") and setting(config, "pad_to_sequence_len"):
        per_row = setting(config, "sequence_len")
    train_tokens = rows * per_row * epochs
    flops = train_flops_per_token(model_cfg, config)
    seconds = train_tokens * flops / (tflops * 1e12 * mfu * gpus)
    hours = seconds / 3600
    result = {
        "recipe": str(recipe.path), "base_model": setting(config, "base_model"), "gpu": gpu, "gpus": gpus,
        "gpu_memory_gb": memory_gb, "usable_gpu_memory_gb": usable,
        "trainable_params": est["trainable_params"], "total_params": est["total_params"],
        "peak_gpu_memory_gb": est["peak_gb"], "memory_parts_gb": est["parts_gb"],
        "gradient_checkpointing": est["gradient_checkpointing"],
        "peak_gpu_memory_gb_other_checkpointing": alt["peak_gb"],
        "micro_batch_size": est["micro_batch"], "sequence_len": est["sequence_len"],
        "train_rows": rows, "tokens_per_row": per_row, "epochs": epochs, "train_tokens": train_tokens,
        "bf16_tflops": tflops, "train_flops_per_token": flops, "flop_count": flop_count_name(config),
        "mfu": mfu, "hours": round(hours, 3), "usd_per_hour": price,
        "usd": round(hours * price * gpus, 2), "fits": fits,
        "to_fit": [] if fits else ways_to_fit(config, model_cfg, usable, gpus),
        "export": export_needs(model_cfg),
    }
    return result


# The GGUF types `make export` writes by default (slingshot.export reads them here, below it)
DEFAULT_TYPES = ("F32", "F16", "Q8_0", "Q4_K_M")
# Bytes per parameter of each export file (slingshot.export: the merged model in bf16, GGUF files)
EXPORT_BYTES_PER_PARAM = {"merged": 2, "F32": 4, "F16": 2, "Q8_0": 1.0625, "Q5_K_M": 0.69, "Q4_K_M": 0.61,
                          "LORA": 2}  # LORA: the base's F16 file it is served over (the adapter is a few MB)


def export_needs(model_cfg, types=None):
    """Disk for `make export` (the merged model plus each GGUF file, by default export's default types)
    and memory for the merge (the base model in bf16, plus the adapter and room to save), in GB."""
    types = DEFAULT_TYPES if types is None else types
    params = Shapes.from_config(model_cfg).total_params()
    files = {name: params * EXPORT_BYTES_PER_PARAM[name] / GB for name in ("merged", *types)}
    return {"disk_gb": round(sum(files.values()), 1), "files_gb": {k: round(v, 1) for k, v in files.items()},
            "memory_gb": round(params * 2 * 1.25 / GB, 1)}


def ways_to_fit(config, model_cfg, usable, gpus):
    """Changes that bring the predicted peak under the usable memory, cheapest first."""
    ways = []
    if not setting(config, "gradient_checkpointing"):
        e = estimate(config, model_cfg, checkpointing=True, gpus=gpus)
        if e["peak_gb"] <= usable:
            ways.append(f"gradient_checkpointing: true ({e['peak_gb']} GB)")
    micro_batch = setting(config, "micro_batch_size")
    for mb in range(micro_batch - 1, 0, -1):
        e = estimate(config, model_cfg, micro_batch=mb, gpus=gpus)
        if e["peak_gb"] <= usable:
            acc = setting(config, "gradient_accumulation_steps") * micro_batch // mb
            ways.append(f"micro_batch_size: {mb} with gradient_accumulation_steps: {acc}, same batch ({e['peak_gb']} GB)")
            break
    if not (setting(config, "load_in_4bit") or setting(config, "adapter") == "qlora"):
        q = {**config, "load_in_4bit": True, "load_in_8bit": False, "adapter": "qlora",
             "gradient_checkpointing": True}
        e = estimate(q, model_cfg, gpus=gpus)
        if e["peak_gb"] <= usable:
            ways.append(f"QLoRA: load_in_4bit: true, adapter: qlora, gradient_checkpointing: true ({e['peak_gb']} GB)")
    for n in (2, 4, 8):
        e = estimate(config, model_cfg, gpus=n, zero3=True)
        if e["peak_gb"] <= usable:
            ways.append(f"ZeRO-3 across {n} GPUs: deepspeed: recipes/deepspeed/zero3.json, GPUS={n} ({e['peak_gb']} GB each)")
            break
    return ways or ["none of micro batch, checkpointing, QLoRA or ZeRO-3 on 8 GPUs is enough: pick a larger GPU"]


def format_plan(p):
    parts = ", ".join(f"{k} {v}" for k, v in p["memory_parts_gb"].items())
    other = "without" if p["gradient_checkpointing"] else "with"
    lines = [
        f"plan for {p['recipe']} on {p['gpus']}x {p['gpu']}",
        f"  base model            {p['base_model']} ({p['total_params'] / 1e9:.2f}B parameters)",
        f"  trainable parameters  {p['trainable_params']:,} (LoRA)",
        f"  peak GPU memory       {p['peak_gpu_memory_gb']} GB per GPU "
        f"(gradient checkpointing {'on' if p['gradient_checkpointing'] else 'off'}; "
        f"{other} it: {p['peak_gpu_memory_gb_other_checkpointing']} GB)",
        f"                        {parts}",
        f"  GPU memory usable     {p['usable_gpu_memory_gb']} GB of {p['gpu_memory_gb']} GB",
        f"  micro batch x length  {p['micro_batch_size']} x {p['sequence_len']} tokens",
        f"  tokens to train on    {p['train_tokens']:,} ({p['train_rows']:,} rows x ~{p['tokens_per_row']} tokens x {p['epochs']} epochs)",
        f"  time                  {p['hours'] * 60:.0f} min at {p['mfu']:.0%} MFU by the {p['flop_count']} count "
        f"({p['train_flops_per_token'] / 1e9:.2f} GFLOP a token) of {p['bf16_tflops']} TFLOPS per GPU",
        f"  cost                  ${p['usd']:.2f} at ${p['usd_per_hour']}/h per GPU",
        f"  fits                  {'yes' if p['fits'] else 'NO: will not fit'}",
    ]
    lines += [f"  to fit                {w}" for w in p["to_fit"]]
    export = p["export"]
    lines.append(f"  make export needs     {export['disk_gb']} GB of disk ("
                 + ", ".join(f"{k} {v}" for k, v in export["files_gb"].items())
                 + f") and {export['memory_gb']} GB of RAM to merge")
    return "\n".join(lines)


def gpus_named_in(compact):
    """Rows of the table whose model is in `compact` (an upper-case name without spaces), the longest
    model first: 'H100PCIE' before 'H100', 'L40S' before 'L4'."""
    return sorted((gpu for gpu in GPUS if gpu.split("-")[0].upper() in compact),
                  key=lambda gpu: -len(gpu.split("-")[0]))


def gpu_of_recipe(recipe):
    """The table's GPU that a recipe's `hardware.name` names ('1x A10G 24 GB' -> A10G-24GB)."""
    name = str((recipe.block.get("hardware") or {}).get("name", "")).replace(" ", "").upper()
    for gpu in gpus_named_in(name):
        if gpu.split("-")[1].upper().replace("GB", "") in name:
            return gpu
    return "A10G-24GB"


def gpu_of_device(name, memory_gb):
    """The table's GPU for a device torch names ('NVIDIA H200', 139.8 GB -> H200-141GB); None if absent.
    NVL cards are absent: they run at lower clocks than the SXM rows."""
    compact = name.upper().replace(" ", "").replace("-", "")
    found = gpus_named_in(compact)
    if not found or "NVL" in compact:
        return None
    longest = [gpu for gpu in found if len(gpu.split("-")[0]) == len(found[0].split("-")[0])]
    return min(longest, key=lambda gpu: abs(GPUS[gpu][0] - memory_gb))


# litgpt's config_hub/finetune table (1x A10G, bf16-true, Alpaca2k, LoRA r32 on q and v, no
# gradient checkpointing): torch.cuda.max_memory_allocated in GB. The 4-bit runs use bnb NF4.
LITGPT = (
    # (name, model config changes from Llama-3.1-8B, micro batch, 4-bit, published peak GB)
    ("llama-3.1-8b/lora", {}, 1, False, 19.73),
    ("llama-3.1-8b/qlora", {}, 2, True, 17.41),
    ("mistral-7b/lora", {"vocab_size": 32000}, 2, False, 20.66),
    ("mistral-7b/qlora", {"vocab_size": 32000}, 2, True, 14.29),
    ("llama-2-7b/lora", {"vocab_size": 32000, "intermediate_size": 11008, "num_key_value_heads": 32}, 2, False, 19.77),
    ("llama-2-7b/qlora", {"vocab_size": 32000, "intermediate_size": 11008, "num_key_value_heads": 32}, 2, True, 13.68),
)


def litgpt_config(micro_batch, four_bit):
    """The recipe settings of litgpt's measured runs, for `estimate`."""
    config = {"sequence_len": 512, "micro_batch_size": micro_batch, "lora_r": 32, "lora_dropout": 0.05,
              "lora_target_modules": ["q_proj", "v_proj"], "bf16": True, "gradient_checkpointing": False}
    if four_bit:
        config.update(load_in_4bit=True, adapter="qlora")
    return config


def litgpt_check():
    """(name, micro batch, published peak GB, predicted peak GB) for each of litgpt's measured runs."""
    base = model_config("meta-llama/Llama-3.1-8B")
    return [(name, micro_batch, published, estimate(litgpt_config(micro_batch, four_bit), {**base, **changes})["peak_gb"])
            for name, changes, micro_batch, four_bit, published in LITGPT]
