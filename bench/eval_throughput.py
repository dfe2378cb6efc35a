"""Eval throughput: plain `generate` one question at a time vs slingshot's batched backend.

    python bench/eval_throughput.py [--model models/smollm2-135m-instruct] [--n 64] [--split dev-200]
    python bench/eval_throughput.py --model meta-llama/Llama-3.1-8B --n 512 --baseline-batch 1 64   # on a GPU

Checks that the batched answers equal batch-1 greedy answers, reports questions/s, prompt
and generated tokens/s, and how far the work is from the machine's measured matmul rate.
Writes bench/results/eval_throughput.json and .md.
"""
import argparse
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.splits import resolve_split  # noqa: E402
from eval.backends.local import LocalBackend  # noqa: E402
from slingshot.io import atomic_write_json, atomic_write_text, read_jsonl  # noqa: E402


def matmul_gflops(device, dtype, size=2048, repeats=10):
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def plain_generate(backend, rows, max_new_tokens, batch_size):
    """transformers' own generate with naive batches in file order (the usual eval loop)."""
    tok, model = backend.tokenizer, backend.model
    answers, prompt_tokens, new_tokens = {}, 0, 0
    started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        texts = [tok.apply_chat_template(r["messages"], add_generation_prompt=True, tokenize=False) for r in chunk]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(backend.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=backend.eos_ids, pad_token_id=tok.pad_token_id)
        for r, row_out, mask in zip(chunk, out[:, enc["input_ids"].shape[1]:], enc["attention_mask"]):
            ids = [t for t in row_out.tolist() if t not in backend.eos_ids and t != tok.pad_token_id]
            answers[r["id"]] = tok.decode(ids, skip_special_tokens=True)
            prompt_tokens += int(mask.sum())
            new_tokens += len(ids)
    return answers, time.perf_counter() - started, prompt_tokens, new_tokens


def batched(backend, rows, max_new_tokens):
    answers, prompt_tokens, new_tokens = {}, 0, 0

    def on_result(item_id, generation):
        nonlocal prompt_tokens, new_tokens
        answers[item_id] = generation.text
        prompt_tokens += generation.tokens_in
        new_tokens += generation.tokens_out

    started = time.perf_counter()
    backend.generate([(r["id"], r["messages"]) for r in rows], max_new_tokens, on_result)
    return answers, time.perf_counter() - started, prompt_tokens, new_tokens


def rates(n, seconds, prompt_tokens, new_tokens, params, peak_gflops):
    flops = 2 * params * (prompt_tokens + new_tokens)  # forward pass: ~2 FLOPs per parameter per token
    return {"seconds": round(seconds, 2), "questions_per_s": round(n / seconds, 3),
            "prompt_tokens_per_s": round(prompt_tokens / seconds, 1),
            "generated_tokens_per_s": round(new_tokens / seconds, 1),
            "model_gflops": round(flops / seconds / 1e9, 1),
            "share_of_matmul_peak": round(flops / seconds / 1e9 / peak_gflops, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/smollm2-135m-instruct")
    parser.add_argument("--split", default="dev-200", help="a split name (dev-200, <task>/<split>) or a split JSONL")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--baseline-batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], help="default: the backend's")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "eval_throughput"))
    args = parser.parse_args()

    rows = read_jsonl(resolve_split(args.split))[:args.n]
    backend = LocalBackend(args.model, dtype=getattr(torch, args.dtype) if args.dtype else None)
    params = sum(p.numel() for p in backend.model.parameters())
    peak = matmul_gflops(backend.device, backend.dtype)
    result = {"model": args.model, "n": len(rows), "max_new_tokens": args.max_new_tokens,
              "device": backend.device, "dtype": str(backend.dtype), "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(),
              "gpu": torch.cuda.get_device_name() if backend.device == "cuda" else None,
              "matmul_gflops": round(peak, 1), "parameters": params, "runs": {}}
    reference = None
    for batch_size in args.baseline_batch:
        answers, seconds, pt, nt = plain_generate(backend, rows, args.max_new_tokens, batch_size)
        result["runs"][f"generate, batch {batch_size}"] = rates(len(rows), seconds, pt, nt, params, peak)
        if batch_size == 1:
            reference = answers
        print(f"generate batch {batch_size}: {len(rows) / seconds:.2f} q/s", flush=True)
    answers, seconds, pt, nt = batched(backend, rows, args.max_new_tokens)
    result["runs"]["slingshot batched"] = rates(len(rows), seconds, pt, nt, params, peak)
    print(f"slingshot batched: {len(rows) / seconds:.2f} q/s", flush=True)
    if reference is not None:
        same = sum(answers[r["id"]].strip() == reference[r["id"]].strip() for r in rows)
        result["identical_to_batch_1"] = f"{same}/{len(rows)}"
        base = result["runs"]["generate, batch 1"]["questions_per_s"]
        result["speedup_vs_batch_1"] = round(result["runs"]["slingshot batched"]["questions_per_s"] / base, 2)
    atomic_write_json(Path(args.out).with_suffix(".json"), result)
    lines = [f"# Eval throughput: {args.model}, {len(rows)} SQuAD questions, max {args.max_new_tokens} new tokens",
             "", f"Device {result['device']} ({result['gpu'] or result['machine']}, {result['threads']} threads, "
             f"{result['dtype']}); measured matmul rate {result['matmul_gflops']} GFLOP/s.", "",
             "| method | q/s | prompt tok/s | generated tok/s | model GFLOP/s | share of matmul rate |",
             "|---|---|---|---|---|---|"]
    for name, r in result["runs"].items():
        lines.append(f"| {name} | {r['questions_per_s']} | {r['prompt_tokens_per_s']} | "
                     f"{r['generated_tokens_per_s']} | {r['model_gflops']} | {r['share_of_matmul_peak']:.1%} |")
    if "speedup_vs_batch_1" in result:
        lines += ["", f"Speed-up over one question at a time: {result['speedup_vs_batch_1']}x; "
                      f"answers identical to batch-1 greedy: {result['identical_to_batch_1']}."]
    atomic_write_text(Path(args.out).with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
