"""The figures README.md and docs/*.md quote, generated from committed results, never typed.

A page asks for a figure with a pair of markers; `make measurements` writes what is between them:

    <!-- figures: headline -->
    (generated text)
    <!-- /figures -->

Each name below is one function of committed files: docs/reports/<recipe>/report.json and
train_summary.json, docs/reports/<recipe>-sweep/sweep.json, bench/results/*.json, and the
planner's predictions for recipes no one has run yet. `--check` fails when a page differs.
"""
import json
import re
from pathlib import Path

from eval.format import Column, fmt_ci, fmt_p, fmt_usd, markdown_table, score_columns, table_lines
from eval.published import published
from slingshot import locks
from slingshot.errors import UserError
from slingshot.layout import ROOT, TRAIN_SUMMARY, display_path

REPORTS = ROOT / "docs" / "reports"
BENCH = ROOT / "bench" / "results"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DEFAULT = "squad-smollm2-135m-lora-cpu"
DEFAULT_RECIPE = Path("recipes/squad/smollm2-135m/lora-cpu.yml")
START = re.compile(r"^<!-- figures: ([a-z0-9-]+) -->$")
END = "<!-- /figures -->"


def read_json(path):
    if not path.exists():
        raise UserError(f"{display_path(path)}: missing; the pages quote it (restore it from git, or rerun what "
                        "writes it: make publish RECIPE=..., or the bench script named in docs/benchmarks.md)")
    return json.loads(path.read_text(encoding="utf-8"))


def table(head, rows):
    return "\n".join(table_lines(head, rows, escape=False))


def default_report():
    return read_json(REPORTS / DEFAULT / "report.json")


def model(report, suffix):
    return next(m for m in report["models"] if m["name"].endswith(suffix))


def best_baseline(report, metric):
    """The base row with the highest score on `metric`, and the tuned row's paired test against it."""
    tuned = model(report, "(tuned)")
    tests = tuned["vs_baseline_rows"] + ([tuned["vs_baseline"]] if tuned.get("vs_baseline") else [])
    base = max((m for m in report["models"] if m.get("is_baseline_row")), key=lambda m: m[metric])
    test = next(t for t in tests if t["baseline"] == base["name"])["metrics"][metric]
    return base, test


def headline():
    """One sentence: the tuned row with its CI, and its gain over the strongest base row per metric."""
    report = default_report()
    tuned = model(report, "(tuned)")
    parts = []
    for metric, label in (("exact_match", "EM"), ("f1", "F1")):
        base, test = best_baseline(report, metric)
        parts.append(f"**{fmt_ci(test['diff'], test['ci'], signed=True)} {label}** over the base model's best "
                     f"({base['shots']}-shot, {base[metric]:.1f}), {fmt_p(test['p_value'])}")
    return (f"The tuned SmolLM2-135M scores **{fmt_ci(tuned['exact_match'], tuned['exact_match_ci'])} EM** and "
            f"{fmt_ci(tuned['f1'], tuned['f1_ci'])} F1 on the {tuned['n']} held-out questions of `{report['split']}`: "
            + "; ".join(parts) + ".")


def report_table():
    report = default_report()
    columns = ([Column("model", lambda m: m["name"]), Column("n", lambda m: m["n"])]
               + score_columns(["exact_match", "f1"], {"exact_match": "EM", "f1": "F1"})
               + [Column("$ per 1k answers", lambda m: m["cost"]["usd_per_1k_answers"], lambda v: fmt_usd(v, 4)),
                  Column("questions/s", lambda m: m["throughput"]["questions_per_s"], lambda v: f"{v:.2f}")])
    return "\n".join(markdown_table(columns, report["models"], escape=False))


def cpu_training():
    s = read_json(REPORTS / DEFAULT / TRAIN_SUMMARY)
    return (f"Training the default recipe (`make train`, real Axolotl, fp32, 2 threads): {s['steps']} steps, "
            f"{s['train_tokens_per_epoch']:,} prompt+answer tokens, {s['train_runtime_s']:.0f} s in the trainer "
            f"({s['wall_s'] / 60:.1f} min with start-up), **{s['tokens_per_s']:.1f} tokens/s**, peak resident memory "
            f"{s['peak_memory_gb']:.1f} GB, final training loss {s['final_train_loss']:.2f}.")


def training_bound():
    """The CPU's ceiling for training tokens/s (bench/fp32_bound.py, measured in the loop benchmark's run)
    and the share that run's training reached."""
    data = read_json(BENCH / "loop.json")
    b, reached = data.get("fp32_bound"), (data.get("train") or {}).get("tokens_per_s")
    if not b or not reached:
        raise UserError(f"{display_path(BENCH / 'loop.json')}: no {'fp32_bound' if not b else 'train.tokens_per_s'} "
                        f"(the run failed before it); rerun python3 bench/loop.py on an idle machine")
    return (f"The bound the CPU sets: a training token costs about {b['flops_per_token'] / 1e6:.0f} MFLOP (2 FLOPs per "
            f"parameter forward and 2 backward through the frozen {b['parameters'] / 1e6:.0f}M model, 6 per trainable "
            f"LoRA parameter), and this CPU's fp32 matmuls ran at ~{b['gemm_gflops_fp32']:.0f} GFLOP/s in the same "
            f"benchmark, so ~{b['tokens_per_s_bound']:.0f} tokens/s; that run's training reached {reached / b['tokens_per_s_bound']:.0%} "
            f"of it (attention, the 49k-word output layer's softmax and Python's overhead are the rest).")


def loop():
    data = read_json(BENCH / "loop.json")
    phases = ", ".join(f"{name} {seconds / 60:.1f}" for name, seconds in data["phases_s"].items())
    machine = data["machine"]
    return (f"`make all` from a fresh clone took **{data['total_s'] / 60:.1f} minutes** on {machine['cores']} "
            f"{machine['cpu']} cores with {machine['memory_gb']} GB (minutes: {phases}; the package cache warm).")


def recipes():
    """Every shipped recipe: measured time, memory and cost where a run is published, else the plan's."""
    from slingshot.plan import gpu_of_recipe, plan
    from slingshot.recipe import load_recipe
    rows = []
    default_task = DEFAULT_RECIPE.parts[1]
    order = lambda p: (p.parts[-3] != default_task, "cpu" not in p.stem, p)  # noqa: E731  (the default recipe first)
    for path in sorted((ROOT / "recipes").glob("*/*/*.yml"), key=order):
        recipe = load_recipe(path)
        hardware = recipe.block.get("hardware") or {}
        summary, _ = published(recipe.name)
        label = f"`{display_path(path).removeprefix('recipes/').removesuffix('.yml')}`"
        params = recipe.params()
        data = f"{params.get('train_size')} → `{params['test_split']}`"
        if summary:
            cost = summary["wall_s"] / 3600 * hardware["usd_per_hour"]
            rows.append((label, hardware["name"], data, f"{summary['trainable_parameters'] / 1e6:.1f}M",
                         f"{summary['wall_s'] / 60:.1f} min", f"{summary['peak_memory_gb']:.1f} GB", f"${cost:.3f}"))
        elif "CPU" in hardware.get("name", ""):
            trainable = plan(recipe)["trainable_params"]
            rows.append((label, hardware["name"], data, f"{trainable / 1e6:.1f}M", "not measured", "not measured",
                         "not measured"))
        else:
            p = plan(recipe, gpu=gpu_of_recipe(recipe))
            rows.append((label, hardware["name"], data, f"{p['trainable_params'] / 1e6:.1f}M",
                         f"predicted {p['hours'] * 60:.0f} min", f"predicted {p['peak_gpu_memory_gb']:.1f} GB",
                         f"predicted ${p['usd']:.2f}"))
    return table(["recipe", "meant for", "train data → test split", "trainable params", "train time",
                  "peak memory", "training cost"], rows)


def export_needs():
    from slingshot.plan import plan
    from slingshot.recipe import load_recipe
    p = plan(load_recipe(ROOT / "recipes/squad/llama-3.1-8b/lora.yml"))
    files = ", ".join(f"{name} {gb} GB" for name, gb in p["export"]["files_gb"].items())
    return (f"`make export` of an 8B model needs ~{p['export']['disk_gb']:.0f} GB of disk ({files}) and "
            f"~{p['export']['memory_gb']:.0f} GB of RAM for the merge (`plan` prints it for every recipe).")


def plan_vs_litgpt():
    from slingshot.plan import litgpt_check
    rows = []
    for name, micro_batch, measured, predicted in litgpt_check():
        error = (predicted - measured) / measured
        rows.append((f"{name}, micro batch {micro_batch}", f"{measured:.2f} GB",
                     f"{predicted:.2f} GB" + (f" ({error:+.1%})" if abs(error) >= 0.01 else "")))
    return table(["model, method, micro batch", "published", "predicted"], rows)


def eval_throughput():
    data = read_json(BENCH / "eval_throughput.json")
    names = {"generate, batch 1": "`generate`, one question at a time", "generate, batch 8": "`generate`, batches of 8",
             "slingshot batched": "slingshot batched (length-sorted, rows leave at EOS)"}
    rows = [(names.get(name, name), f"{r['questions_per_s']:.2f}", f"{r['prompt_tokens_per_s']:.0f}",
             f"{r['generated_tokens_per_s']:.1f}", f"{r['share_of_matmul_peak']:.0%}") for name, r in data["runs"].items()]
    return (table(["method", "questions/s", "prompt tokens/s", "generated tokens/s", "share of the fp32 matmul rate"],
                  rows) + f"\n\n{data['speedup_vs_batch_1']}x one-at-a-time, answers identical to batch-1 greedy "
            f"decoding on {data['identical_to_batch_1']} questions; this CPU's fp32 matmul rate: "
            f"{data['matmul_gflops']:.0f} GFLOP/s.")


def fewshot():
    data = read_json(BENCH / "fewshot_prefix.json")
    rows = [(r["shots"], "yes" if r["prefix_reuse"] else "no", f"{r['questions_per_s']:.2f}", f"{r['prompt_tokens']:.0f}",
             r["shared_prefix_tokens"], "yes" if r["answers_equal_with_reuse"] else "no") for r in data["results"]]
    speed = {(r["shots"], r["prefix_reuse"]): r["questions_per_s"] for r in data["results"]}
    return (table(["shots", "shared-prefix KV reuse", "questions/s", "prompt tokens", "shared prefix tokens",
                   "answers equal to no reuse"], rows)
            + f"\n\nWith reuse the 3-shot row runs at {speed[3, True] / speed[0, True]:.2f} of the 0-shot row's speed; "
            f"without it at {speed[3, False] / speed[0, False]:.2f}.")


def julia_rescore():
    data = read_json(BENCH / "julia_rescore.json")
    summary, agree = data["summary"], data["agreement"]["ALL"]
    fields = ", ".join(f"{k.replace('_', ' ')} {agree[k]:.1%}" for k in
                       ("parsed", "executed", "unit_tests_passed", "examples_executed"))
    return (f"Re-scoring {summary['n']:,} stored leaderboard runs ({summary['selection']}) in `leaderboard` mode "
            f"reproduces every stored field for **{agree['all_fields']:.1%}** of runs ({fields}; mean score "
            f"{summary['mean_stored']:.2f} stored vs {summary['mean_ours']:.2f} re-scored, Julia "
            f"{summary['julia_version']}).")


def export_bench():
    data = read_json(BENCH / "export_bench.json")
    rows = []
    for m in data["models"]:
        kind = m["name"].split("(", 1)[-1].rstrip(")")
        key = "LORA" if kind.startswith("LoRA GGUF") else kind.removesuffix(" GGUF")
        test = data["vs_merged"].get(key)
        size = data["gguf_bytes"].get(key)
        where = " (adapter and the F16 base it is served over)" if key == "LORA" else ""
        rows.append((m["name"], f"{size / 1e6:.1f} MB{where}" if size else "", fmt_ci(m["exact_match"], m["exact_match_ci"]),
                     fmt_ci(m["f1"], m["f1_ci"]),
                     f"{fmt_ci(test['diff'], test['ci'], signed=True)} EM, p={test['p_value']:.2f}, "
                     f"{test['answers_differ']} of {test['n']} differ" if test else "",
                     f"{m['questions_per_s']:.2f}"))
    return table(["row", "file(s)", "EM [95% CI]", "F1 [95% CI]", "vs the merged model", "questions/s"], rows)


def sweep(folder, key):
    data = read_json(REPORTS / folder / "sweep.json")
    rows = []
    for cell in data["cells"]:
        em, f1 = cell["vs_baseline"]["exact_match"], cell["vs_baseline"]["f1"]
        rows.append((cell["params"][key], fmt_ci(cell["exact_match"], cell["exact_match_ci"]), fmt_ci(cell["f1"], cell["f1_ci"]),
                     f"{em['diff']:+.1f}, Holm {fmt_p(em['p_holm'])}",
                     f"{fmt_ci(f1['diff'], f1['ci'], signed=True)}, Holm {fmt_p(f1['p_holm'])}",
                     f"{(cell['train_wall_s'] + cell['eval_wall_s']) / 60:.1f} min"))
    text = table([key, "EM [95% CI]", "F1 [95% CI]", "ΔEM vs base 0-shot", "ΔF1 vs base 0-shot",
                  "train + score"], rows)
    text += (f"\n\nThis sweep ran {data['wall_s'] / 60:.1f} minutes (cells finished earlier are kept, not rerun; "
             f"scoring the base row once takes {data['baseline']['eval_wall_s'] / 60:.1f}).")
    if key == "seed":
        spread = {m: max(c[m] for c in data["cells"]) - min(c[m] for c in data["cells"]) for m in ("exact_match", "f1")}
        half = max((c["exact_match_ci"][1] - c["exact_match_ci"][0]) / 2 for c in data["cells"])
        text += (f" Seed spread (max - min): {spread['exact_match']:.1f} EM and {spread['f1']:.1f} F1 points, "
                 f"against a 95% CI half-width of up to ±{half:.1f} EM.")
    return text + f"\n\n{data['conclusion']}"


def stack():
    """The pinned versions of the packages that decide how training runs."""
    pins = locks.pins("cuda13")
    names = ("axolotl", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "bitsandbytes", "deepspeed")
    return "Pinned: " + ", ".join(f"{name} {pins[name]}" for name in names) + "."


FIGURES = {
    "headline": headline,
    "report-table": report_table,
    "cpu-training": cpu_training,
    "loop": loop,
    "training-bound": training_bound,
    "recipes": recipes,
    "export-needs": export_needs,
    "plan-vs-litgpt": plan_vs_litgpt,
    "eval-throughput": eval_throughput,
    "fewshot": fewshot,
    "julia-rescore": julia_rescore,
    "export-bench": export_bench,
    "sweep-curve": lambda: sweep(f"{DEFAULT}-sweep", "train_size"),
    "sweep-seeds": lambda: sweep(f"{DEFAULT}-seeds", "seed"),
    "stack": stack,
}


def fill(text, where, figures=FIGURES):
    """`text` with every figures block rewritten; an unknown name or a missing end marker names the line."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        out.append(lines[i])
        found = START.match(lines[i].strip())
        i += 1
        if not found:
            continue
        name, start = found.group(1), i
        if name not in figures:
            raise UserError(f"{where}:{start}: unknown figure '{name}'; known: {', '.join(figures)}")
        while i < len(lines) and lines[i].strip() != END:
            i += 1
        if i == len(lines):
            raise UserError(f"{where}:{start}: figure '{name}' has no closing {END} line; add one after it")
        out += [figures[name](), END]
        i += 1
    return "\n".join(out)


def stale_pages(write, pages=None):
    """Rewrite (write=True) or compare every page that quotes figures; returns the pages that differed."""
    from slingshot.io import atomic_write_text
    stale = []
    for page in pages or PAGES:
        text = page.read_text(encoding="utf-8")
        new = fill(text, display_path(page))
        if new != text:
            stale.append(display_path(page))
            if write:
                atomic_write_text(page, new)
    return stale
