"""Exports against the checkpoint: questions/s, cost per 1,000 answers and EM/F1 (95% CIs) of the
base and tuned HF models (slingshot's batched local backend) and of the merged model and every
GGUF of the recipe's export served by llama.cpp, on the recipe's test split.

    python bench/export_bench.py [RECIPE] [--limit N] [--threads 2]

Run `make export RECIPE=...` first. Writes bench/results/export_bench.{json,md} and
export_accuracy_vs_cost.png (accuracy against cost: export rows beside the base and tuned rows).
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import commit, cpu_name  # noqa: E402
from eval.format import fmt_ci  # noqa: E402
from eval.exports import compare_to_merged, drop_message, score_exports  # noqa: E402
from eval.recipe import evaluate_recipe  # noqa: E402
from slingshot.io import atomic_write_json, atomic_write_text  # noqa: E402
from slingshot.recipe import load_recipe  # noqa: E402

OUT = ROOT / "bench" / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", nargs="?", default="recipes/squad/smollm2-135m/lora-cpu.yml")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--load", default="nothing else", help="what else ran on the machine meanwhile")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    merged, stores = score_exports(recipe, limit=args.limit, threads=args.threads)
    tests = compare_to_merged(merged, stores)
    report_dir = OUT / "export_bench_report"
    report = evaluate_recipe(args.recipe, limit=args.limit, out=report_dir)  # base, tuned, merged, GGUFs
    rows = []
    for model in report["models"]:
        rows.append({"name": model["name"], "n": model["n"], "exact_match": model["exact_match"],
                     "exact_match_ci": model["exact_match_ci"], "f1": model["f1"], "f1_ci": model["f1_ci"],
                     "questions_per_s": model["throughput"].get("questions_per_s") if model.get("throughput") else None,
                     "usd_per_1k_answers": model["cost"]["usd_per_1k_answers"]})
    result = {"recipe": args.recipe, "limit": args.limit, "threads": args.threads, "machine": f"{os.cpu_count()} cores, {cpu_name()}",
              "commit": commit() or "unknown", "other_load": args.load, "models": rows,
              "vs_merged": {q: {**t, "message": drop_message(q, t)} for q, t in tests.items()},
              "gguf_bytes": {q: s.read_meta().get("gguf_bytes") for q, s in stores.items()}}
    atomic_write_json(OUT / "export_bench.json", result)
    lines = ["| model | n | EM [95% CI] | F1 [95% CI] | q/s | $ / 1k answers |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['n']} | {fmt_ci(r['exact_match'], r['exact_match_ci'])} | "
                     f"{fmt_ci(r['f1'], r['f1_ci'])} | "
                     f"{r['questions_per_s'] or float('nan'):.2f} | {r['usd_per_1k_answers'] or float('nan'):.5f} |")
    lines += ["", "| export | file(s) MB | answers that differ from the merged model | vs the merged model |",
              "|---|---|---|---|"]
    for quant, t in result["vs_merged"].items():
        size = result["gguf_bytes"][quant]
        what = "adapter-only GGUF over the F16 base (both files)" if quant == "LORA" else f"{quant} GGUF"
        lines.append(f"| {what} | {size / 1e6:.1f} | {t['answers_differ']} of {t['n']} | {t['message']} |")
    lines += ["", f"Machine: {result['machine']}; commit {result['commit']}; also running: {result['other_load']}."]
    atomic_write_text(OUT / "export_bench.md", "\n".join(lines) + "\n")
    shutil.copyfile(report_dir / "cost.png", OUT / "export_accuracy_vs_cost.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
