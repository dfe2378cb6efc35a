"""The daily loop, timed phase by phase: `make venv model prepare train eval` on the default recipe.

    python3 bench/loop.py [--recipe recipes/squad/smollm2-135m/lora-cpu.yml] [--out bench/results/loop]

Runs each make target in turn (a phase already done, such as an existing venv, takes the seconds
make needs to see that), then records its wall seconds, the training's tokens/s and peak memory
from train_summary.json beside this machine's fp32 bound (bench/fp32_bound.py), each eval row's
generation seconds and the report's headline rows. Writes <out>.json and <out>.md with the
machine, the commit and the load average before and after, so a figure is never quoted without
what else was running. Run it from a fresh clone (`make clean` first) for the whole loop.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import commit, cpu_name  # noqa: E402

PHASES = ("venv", "model", "prepare", "train", "eval")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/squad/smollm2-135m/lora-cpu.yml")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "loop"))
    args = parser.parse_args(argv)
    result = {
        "recipe": args.recipe, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)},
        "commit": commit(),
        "load_before": os.getloadavg()[0], "phases_s": {},
    }
    for phase in PHASES:
        started = time.time()
        print(f"== make {phase}", flush=True)
        code = subprocess.run(["make", phase, f"RECIPE={args.recipe}"], cwd=ROOT).returncode
        result["phases_s"][phase] = round(time.time() - started, 1)
        if code != 0:
            result["failed"] = phase
            break
    result["load_after"] = os.getloadavg()[0]
    result["total_s"] = round(sum(result["phases_s"].values()), 1)
    sys.path.insert(0, str(ROOT))
    from slingshot.layout import REPORTS_DIR, RUNS_DIR, TRAIN_SUMMARY, recipe_name  # no venv needed
    name = recipe_name(ROOT / args.recipe)
    summary = RUNS_DIR / name / TRAIN_SUMMARY
    if summary.exists():
        s = json.loads(summary.read_text())
        result["train"] = {k: s.get(k) for k in ("wall_s", "train_runtime_s", "tokens_per_s", "peak_memory_gb",
                                                 "steps", "final_train_loss", "trainable_parameters")}
        python = ROOT / ".venv" / "bin" / "python"
        measured = subprocess.run([str(python), str(ROOT / "bench" / "fp32_bound.py"),
                                   str(ROOT / "models" / "smollm2-135m-instruct"), str(s.get("trainable_parameters") or 0)],
                                  capture_output=True, text=True)
        if measured.returncode == 0:
            result["fp32_bound"] = json.loads(measured.stdout.strip().splitlines()[-1])
    report = REPORTS_DIR / name / "report.json"
    if report.exists():
        models = json.loads(report.read_text())["models"]
        result["report"] = [{**{k: m.get(k) for k in ("name", "n", "exact_match", "f1")},
                             "generation_s": (m.get("cost") or {}).get("wall_s")} for m in models]
        rows_s = sum(r["generation_s"] or 0 for r in result["report"])
        result["eval_rest_s"] = round(result["phases_s"].get("eval", 0) - rows_s, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    lines = [f"# The daily loop, phase by phase ({args.recipe})", "",
             f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; commit {result['commit']}; {result['date']}; "
             f"load average {result['load_before']:.1f} before, {result['load_after']:.1f} after.", "",
             "| phase | seconds |", "|---|---|"]
    lines += [f"| make {k} | {v} |" for k, v in result["phases_s"].items()]
    lines.append(f"| **total** | **{result['total_s']}** ({result['total_s'] / 60:.1f} min) |")
    if "train" in result:
        t = result["train"]
        lines += ["", f"Training: {t['steps']} steps, {t['train_runtime_s']} s in the trainer ({t['wall_s']} s wall), "
                      f"{t['tokens_per_s']} tokens/s, peak memory {t['peak_memory_gb']} GB."]
        if "fp32_bound" in result:
            b = result["fp32_bound"]
            lines += ["", f"fp32 bound here: {b['tokens_per_s_bound']} tokens/s ({b['gemm_gflops_fp32']} GFLOP/s fp32 GEMM on "
                          f"{b['threads']} threads, {b['flops_per_token'] / 1e6:.0f} MFLOP per token: 4 per parameter of "
                          f"{b['parameters'] / 1e6:.1f}M, 6 per trainable one); training reached "
                          f"{100 * t['tokens_per_s'] / b['tokens_per_s_bound']:.0f}% of it."]
    if "report" in result:
        lines += ["", "| model | n | EM | F1 | generation s |", "|---|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['n']} | {r['exact_match']:.1f} | {r['f1']:.1f} | {r['generation_s']} |"
                  for r in result["report"]]
        lines += ["", f"The rest of `make eval` (loading models, the report, plots, the viewer): {result['eval_rest_s']} s."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if "failed" in result else 0


if __name__ == "__main__":
    sys.exit(main())
