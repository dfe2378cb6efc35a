"""This machine's fp32 bound for training a model: `python bench/fp32_bound.py [MODEL_FOLDER]` (in the venv).

Measures the fp32 matrix-multiply rate torch reaches here on all threads (square GEMMs of the size the
model's layers multiply), counts the model's parameters, and divides: the tokens per second training
would reach if every FLOP ran at that rate. FLOPs per token: 2 per parameter forward, 2 backward
through frozen weights (gradients of the inputs only), and 6 per trainable LoRA parameter; attention
scores and the optimizer are left out, so the bound is generous. Prints JSON."""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gemm_gflops(size=1536, seconds=3.0):
    import torch
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        done += 1
    return 2 * size ** 3 * done / (time.perf_counter() - started) / 1e9


def parameters(model_folder):
    from safetensors import safe_open
    total = 0
    for file in sorted(Path(model_folder).glob("*.safetensors")):
        with safe_open(str(file), "pt") as f:
            for name in f.keys():
                shape = f.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total


def bound(model_folder, trainable=0):
    import torch
    rate = gemm_gflops()
    n = parameters(model_folder)
    flops_per_token = 4 * n + 6 * trainable
    return {"threads": torch.get_num_threads(), "gemm_gflops_fp32": round(rate, 1), "parameters": n,
            "trainable_parameters": trainable, "flops_per_token": flops_per_token,
            "tokens_per_s_bound": round(rate * 1e9 / flops_per_token, 1)}


if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "models" / "smollm2-135m-instruct")
    trainable = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(json.dumps(bound(folder, trainable)))
