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
    parser.add_argument("--before", help="an earlier run's JSON (same machine): shown beside this one, kept as 'before'")
    parser.add_argument("--other-load", default="not recorded", help="what else ran on the machine meanwhile, in words")
    args = parser.parse_args(argv)
    before = read_before(args.before) if args.before else None  # read first: a bad file fails before the loop runs
    result = {
        "recipe": args.recipe, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)},
        "commit": commit(),
        "load_before": os.getloadavg()[0], "other_load": args.other_load, "phases_s": {},
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
    if before:
        result["before"] = {k: v for k, v in before.items() if k != "before"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result, args.recipe)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 1 if "failed" in result else 0


def read_before(path):
    try:
        run = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        sys.exit(f"error: --before {path}: {error}")
    if not isinstance(run, dict) or not isinstance(run.get("phases_s"), dict):
        sys.exit(f"error: --before {path}: not a bench/loop.py result (no 'phases_s')")
    return run


def describe(run):
    m = run.get("machine") or {}
    loads = "/".join(f"{run[k]:.1f}" if isinstance(run.get(k), (int, float)) else "?" for k in ("load_before", "load_after"))
    failed = f"; FAILED at make {run['failed']}" if run.get("failed") else ""
    return (f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB; commit {run.get('commit', '?')}; "
            f"{run.get('date', '?')}; load average before/after {loads}; other load: {run.get('other_load', 'not recorded')}{failed}")


def train_cell(run):
    t = run.get("train")
    if not t:
        return "not recorded"
    return (f"{t.get('train_runtime_s')} s in the trainer ({t.get('wall_s')} s wall), {t.get('steps')} steps, "
            f"{t.get('tokens_per_s')} tokens/s, peak {t.get('peak_memory_gb')} GB")


def total_cell(run):
    total = run.get("total_s")
    return f"**{total} s** ({total / 60:.1f} min)" if isinstance(total, (int, float)) else "-"


def score_cell(row):
    if not row:
        return "-"
    em, f1 = row.get("exact_match"), row.get("f1")
    scores = f"{em:.1f} / {f1:.1f}" if isinstance(em, (int, float)) and isinstance(f1, (int, float)) else "? / ?"
    return f"{scores} / {row.get('generation_s', '-')}"


def render(result, recipe):
    """loop.md: this run's phases, training and scores, beside the `before` run where there is one."""
    runs = [("now", result)] + ([("before", result["before"])] if "before" in result else [])
    lines = [f"# The daily loop, phase by phase ({recipe})", "", "Generated by `bench/loop.py` (raw figures: loop.json).", ""]
    lines += [f"- {name}: {describe(run)}" for name, run in runs]
    lines += ["", "| phase | " + " | ".join(name for name, _ in runs) + " |", "|---|" + "---|" * len(runs)]
    for phase in PHASES:
        lines.append(f"| make {phase} | " + " | ".join(f"{run['phases_s'][phase]} s" if phase in run["phases_s"] else "-"
                                                           for _, run in runs) + " |")
    lines.append("| **total** | " + " | ".join(total_cell(run) for _, run in runs) + " |")
    lines.append("| training | " + " | ".join(train_cell(run) for _, run in runs) + " |")
    if "fp32_bound" in result and (result.get("train") or {}).get("tokens_per_s"):
        b, t = result["fp32_bound"], result["train"]
        lines += ["", f"fp32 bound here: {b['tokens_per_s_bound']} tokens/s ({b['gemm_gflops_fp32']} GFLOP/s fp32 GEMM on "
                      f"{b['threads']} threads, {b['flops_per_token'] / 1e6:.0f} MFLOP per token: 4 per parameter of "
                      f"{b['parameters'] / 1e6:.1f}M, 6 per trainable one); training reached "
                      f"{100 * t['tokens_per_s'] / b['tokens_per_s_bound']:.0f}% of it."]
    reports = [(name, {r["name"]: r for r in run.get("report", [])}) for name, run in runs]
    models = list(dict.fromkeys(name for _, r in reports for name in r))
    if models:
        lines += ["", "| model | " + " | ".join(f"EM / F1 / generation s ({name})" for name, _ in runs) + " |",
                  "|---|" + "---|" * len(runs)]
        for model in models:
            lines.append(f"| {model} | " + " | ".join(score_cell(r.get(model)) for _, r in reports) + " |")
        lines += ["", "The rest of `make eval` (loading models, the report, plots, the viewer): " +
                  ", ".join(f"{run.get('eval_rest_s', '-')} s ({name})" for name, run in runs) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
