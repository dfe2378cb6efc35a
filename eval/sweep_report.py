"""The sweep report: every cell against the base model, the learning curve, the seed spread.

    reports/<recipe>-sweep/sweep.md, sweep.json, learning_curve.png, rank.png
    written by `python -m eval sweep` (eval/commands/sweep.py) when its cells are finished

Each cell is scored with a 95% bootstrap CI and tested against the base model on the same
questions (exact McNemar for 0/100 metrics, paired bootstrap otherwise); the p-values of all
cells are Holm-corrected, one family per metric. A setting (the cell's values other than the
seed) shows its seeds' mean and spread (max - min) beside the CI: the CI covers the choice of
test questions, not the run-to-run variation between seeds, which only the spread shows.
"""
from pathlib import Path

from eval import stats
from eval.format import Column, fmt_diff, fmt_p, fmt_params, markdown_table, score_columns
from eval.report import ALPHA, compare, load_run, summarize
from eval.store import RunStore
from slingshot.io import atomic_write_json, atomic_write_text
from slingshot.layout import display_path, resolve

PLOTS = {"learning_curve": "learning_curve.png", "rank": "rank.png"}


def effective(cell):
    """Data size, rank and seed the cell trained with, swept or not."""
    recipe = cell["recipe"]
    return {"train_size": recipe.params().get("train_size"), "lora_r": recipe.setting("lora_r"),
            "seed": recipe.setting("seed")}


def setting_of(params):
    return {k: v for k, v in params.items() if k != "seed"}


def row(name, params, summary, metrics, vs=None):
    out = {"params": params, "name": name, "n": summary["n"]}
    for metric in metrics:
        out[metric], out[f"{metric}_ci"] = summary[metric], summary[f"{metric}_ci"]
    if vs is None:
        out["p_value"] = None
    else:
        primary = vs["metrics"][metrics[0]]
        out["p_value"] = primary["p_value"]
        out["test"] = primary["test"]
        out["vs_baseline"] = {m: {"diff": e["diff"], "ci": e["ci"], "p_value": e["p_value"], "test": e["test"]}
                              for m, e in vs["metrics"].items()}
    return out


def settings_table(cells, metrics):
    """Cells grouped by everything but the seed: mean, seed spread and mean CI half-width per metric."""
    groups = {}
    for cell in cells:
        key = tuple(sorted((k, str(v)) for k, v in setting_of(cell["params"]).items()))
        groups.setdefault(key, []).append(cell)
    table = []
    for members in groups.values():
        entry = {"params": setting_of(members[0]["params"]), "effective": setting_of(members[0]["effective"]),
                 "seeds": [c["effective"]["seed"] for c in members], "cells": [c["name"] for c in members]}
        for metric in metrics:
            values = [c[metric] for c in members]
            half = [(c[f"{metric}_ci"][1] - c[f"{metric}_ci"][0]) / 2 for c in members]
            entry[metric] = sum(values) / len(values)
            entry[f"{metric}_spread"] = max(values) - min(values) if len(values) > 1 else None
            entry[f"{metric}_ci_half_width"] = sum(half) / len(half)
        entry["holds"] = all(c["holds"] for c in members)
        table.append(entry)
    return table


def _sort_key(value):
    return (0, float(value), "") if isinstance(value, (int, float)) else (1, 0.0, str(value))


def conclusion(settings, baseline, metric, label, n_tests):
    holding = [s for s in settings if s["holds"]]
    how = (f"after Holm correction over {n_tests} cell{'s' * (n_tests != 1)} (α = {ALPHA}; "
           f"every seed of a setting must pass)")
    if not holding:
        return (f"No setting's {label} gain over the base model ({baseline[metric]:.1f}) holds {how}: "
                f"on this test split the sweep cannot show that any of these data sizes beats the baseline.")
    best = min(holding, key=lambda s: (_sort_key(s["effective"]["train_size"]), _sort_key(s["effective"]["lora_r"])))
    eff = best["effective"]
    seeds = f" (mean of {len(best['seeds'])} seeds)" if len(best["seeds"]) > 1 else ""
    return (f"The smallest data size whose {label} gain over the base model holds {how} is "
            f"train_size={eff['train_size']} (lora_r={eff['lora_r']}): {label} {best[metric]:.1f}{seeds} "
            f"against {baseline[metric]:.1f}.")


def build_sweep_report(recipe, grid, results, base_store, out_dir, wall_s=None, unfinished=(),
                       n_boot=stats.N_BOOT, seed=stats.SEED):
    """Write sweep.md, sweep.json and the plots; return the report dict."""
    from eval import sweep_plots

    base = load_run(base_store)
    task = recipe.task
    metrics = list(task.METRICS)
    base_summary = summarize(base, metrics, n_boot, seed)
    cells = []
    for result in results:
        run = load_run(RunStore(resolve(result["record"]["store"])))
        summary = summarize(run, metrics, n_boot, seed)
        vs = compare(run, base, metrics, task.BINARY_METRICS, n_boot, seed)
        cell = row(result["recipe"].name, result["params"], summary, metrics, vs)
        cell.update(effective=effective(result), recipe=display_path(result["recipe"].path),
                    train_wall_s=result["record"].get("train_wall_s"), eval_wall_s=result["record"].get("eval_wall_s"))
        cells.append(cell)
    for metric in metrics:
        adjusted = stats.holm([c["vs_baseline"][metric]["p_value"] for c in cells])
        for cell, p in zip(cells, adjusted):
            cell["vs_baseline"][metric]["p_holm"] = p
    for cell in cells:
        first = cell["vs_baseline"][metrics[0]]
        cell["p_value_holm"] = first["p_holm"]
        cell["holds"] = first["diff"] > 0 and first["p_holm"] < ALPHA
    settings = settings_table(cells, metrics)
    baseline = row(base.name, {}, base_summary, metrics)
    baseline["eval_wall_s"] = base.meta.get("wall_s")
    label = task.METRICS[metrics[0]]
    report = {
        "recipe": display_path(recipe.path), "task": recipe.block["task"], "split": base.meta["split"],
        "grid": grid, "metrics": metrics, "metric_labels": dict(task.METRICS), "alpha": ALPHA,
        "confidence": stats.CONFIDENCE, "n_boot": n_boot, "seed": seed,
        "correction": f"Holm over the {len(cells)} cells, one family per metric",
        "baseline": baseline, "cells": cells, "settings": settings,
        "wall_s": round(wall_s, 1) if wall_s is not None else None,
        "compute_s": round(sum((c["train_wall_s"] or 0) + (c["eval_wall_s"] or 0) for c in cells)
                           + (baseline["eval_wall_s"] or 0), 1),
        "plots": dict(PLOTS),
        "unfinished": list(unfinished),
    }
    report["conclusion"] = conclusion(settings, baseline, metrics[0], label, len(cells))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_plots.plot_against(report, "train_size", "lora_r", out_dir / PLOTS["learning_curve"])
    sweep_plots.plot_against(report, "lora_r", "train_size", out_dir / PLOTS["rank"])
    atomic_write_json(out_dir / "sweep.json", report)
    atomic_write_text(out_dir / "sweep.md", render(report))
    return report


def cell_columns(report):
    """The cells table: the baseline row first, then every cell with its test against it."""
    metrics, labels = report["metrics"], report["metric_labels"]
    first = labels[metrics[0]]
    cell = lambda key, fmt=str: (lambda c: "" if c.get("is_baseline") else fmt(c[key]))  # noqa: E731
    effective = lambda key: (lambda c: "" if c.get("is_baseline") else str(c["effective"][key]))  # noqa: E731
    delta = lambda m: (lambda c: "baseline" if c.get("is_baseline") else fmt_diff(c["vs_baseline"][m], with_p=False))  # noqa: E731
    return ([Column("cell", lambda c: f"{c['name']} (baseline)" if c.get("is_baseline") else c["name"]),
             Column("train_size", effective("train_size")), Column("lora_r", effective("lora_r")),
             Column("seed", effective("seed")), Column("n", lambda c: c["n"])]
            + score_columns(metrics, labels)
            + [Column(f"Δ{labels[m]} vs base [95% CI]", delta(m)) for m in metrics]
            + [Column(f"p ({first})", cell("p_value", lambda p: fmt_p(p, named=False))),
               Column("p Holm", cell("p_value_holm", lambda p: fmt_p(p, named=False))),
               Column("gain holds", cell("holds", lambda h: "yes" if h else "no"))])


def spread_text(setting, metric):
    spread = setting[f"{metric}_spread"]
    if spread is None:
        return "one seed"
    flag = " (more than the CI)" if spread > setting[f"{metric}_ci_half_width"] else ""
    return f"{spread:.1f}{flag}"


def setting_columns(report):
    """The seeds table: one row per setting, its seeds' mean, spread and CI half-width per metric."""
    columns = [Column("setting", lambda s: s["params"], fmt_params),
               Column("seeds", lambda s: ", ".join(map(str, s["seeds"])))]
    for m in report["metrics"]:
        label = report["metric_labels"][m]
        columns += [Column(f"{label} mean", lambda s, m=m: f"{s[m]:.1f}"),
                    Column(f"{label} seed spread", lambda s, m=m: spread_text(s, m)),
                    Column(f"{label} CI half-width", lambda s, m=m: f"±{s[f'{m}_ci_half_width']:.1f}")]
    return columns + [Column("gain holds (every seed)", lambda s: "yes" if s["holds"] else "no")]


def render(report):
    metrics, labels, base = report["metrics"], report["metric_labels"], report["baseline"]
    first = labels[metrics[0]]
    lines = [f"# Sweep of {report['recipe']}", "",
             f"Task {report['task']}, test split {report['split']} (n = {base['n']}); swept: "
             + "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in report["grid"].items()) + ".", "",
             f"**{report['conclusion']}**", ""]
    if report["unfinished"]:
        lines += [f"Partial report: {len(report['unfinished'])} cell(s) not finished yet "
                  f"({', '.join(report['unfinished'])}); `make sweep` with the same settings finishes them.", ""]
    lines += markdown_table(cell_columns(report), [dict(base, is_baseline=True)] + report["cells"], escape=False)
    lines += ["", f"p: {report['cells'][0]['test'] if report['cells'] else ''} on {first} against the base model on "
              f"the same questions; Holm's step-down correction over the {len(report['cells'])} cells "
              f"(one family per metric; {', '.join(labels[m] for m in metrics[1:])} p-values, Holm-corrected the "
              f"same way, are in sweep.json). A gain holds when it is positive and its Holm-corrected p < "
              f"{report['alpha']}.", ""]
    lines += ["## Seeds", "",
              "The 95% CI covers which test questions were drawn, not the run-to-run variation of training; "
              "the seed spread (max - min over seeds of one setting) shows that. When the spread is larger "
              "than the CI's half-width, two seeds disagree more than the interval suggests.", ""]
    lines += markdown_table(setting_columns(report), report["settings"], escape=False)
    lines += ["", f"![learning curve]({report['plots']['learning_curve']})", f"![against rank]({report['plots']['rank']})", ""]
    if report.get("compute_s"):
        lines.append(f"Compute: {report['compute_s'] / 60:.1f} min of training and scoring "
                     f"(cells' training wall time plus every scoring run, base included).")
    return "\n".join(lines) + "\n"


def print_sweep_report(report, out, n_finished, n_cells, unfinished):
    if unfinished:
        print(f"sweep report ({n_finished} of {n_cells} cells): {display_path(out / 'sweep.md')}\n"
              f"{report['conclusion']}")
    else:
        print(f"\nsweep report: {display_path(out / 'sweep.md')}\n{report['conclusion']}")
