"""report.md from a report dict (eval.report computes it; eval.plots draws it). Every table is a
list of eval.format Columns; the headline's are shared with the results viewer (eval.viewer)."""
import re

from eval.format import (MISSING, Column, fmt_cell, fmt_cost, fmt_diff, fmt_p, fmt_price, fmt_rate, fmt_requests,
                         fmt_usd, markdown_table, one_line, score_columns, table_lines)

RAW_HTML = re.compile(r"<(?=[A-Za-z!/?])")


def reading(report):
    """One plain-language paragraph: which differences from the baseline are real."""
    label = report["metric_labels"].get
    metrics, primary = report["metrics"], report["metrics"][0]
    base = next(m for m in report["models"] if m["is_baseline"])
    others = [m for m in report["models"] if not m["is_baseline"] and m["vs_baseline"]]
    n = base["n"]
    strongest = " (the strongest baseline row)" if any(m.get("vs_baseline_rows") for m in report["models"]) else ""
    text = [f"Baseline: {one_line(base['name'])}{strongest} with {label(primary)} {base[primary]:.1f} "
            f"(95% CI {base[f'{primary}_ci'][0]:.1f} to {base[f'{primary}_ci'][1]:.1f}) on {n} questions."]
    if not others:
        text.append("There is no other model to compare with.")
    for m in others:
        entry = m["vs_baseline"]["metrics"][primary]
        d, (low, high), p = entry["diff"], entry["ci"], entry["p_value"]
        if p < report['alpha']:
            verdict = (f"{one_line(m['name'])} is {'better' if d > 0 else 'worse'} by {abs(d):.1f} "
                       f"{label(primary)} points "
                       f"(95% CI {low:+.1f} to {high:+.1f}, {fmt_p(p)}), a difference too large to be chance")
        else:
            verdict = (f"{one_line(m['name'])} differs by {d:+.1f} {label(primary)} points "
                       f"(95% CI {low:+.1f} to {high:+.1f}, "
                       f"{fmt_p(p)}), which this many questions cannot tell apart from no difference")
        for metric in metrics[1:]:
            other = m["vs_baseline"]["metrics"][metric]
            if (other["p_value"] < report['alpha']) != (p < report['alpha']):
                verdict += (f"; on {label(metric)} ({other['diff']:+.1f}, {fmt_p(other['p_value'])}) the difference "
                            f"is {'significant' if other['p_value'] < report['alpha'] else 'not significant'}")
        text.append(verdict + ".")
    tests = ", ".join(sorted({e["test"] + f" for {label(k)}" for m in others
                              for k, e in m["vs_baseline"]["metrics"].items()}))
    if others:
        alpha = report["alpha"]
        text.append(f"Significant means p < {alpha} ({tests}). "
                    + (f"With {len(others)} comparisons, about {alpha * len(others):.2g} would pass by chance "
                       f"alone, so a p just under {alpha} deserves a second look." if len(others) > 1 else ""))
    return " ".join(t for t in text if t).strip()


def by_case_lines(report):
    table = report["by_case"]
    metric, cases = report["metric_labels"][table["metric"]], table["cases"]
    seen = [c for c in cases if c["seen"]]
    lines = ["", f"## {metric} per test case", ""]
    if seen:
        trainers = ", ".join(sorted({n for c in seen for n in c["seen_by"]}))
        text = (f"Cases marked seen are in the training data of {trainers}: scores of {trainers} there measure "
                f"recall of training answers, not skill on new problems; only the unseen cases measure that.")
    elif table["flagged_by"]:
        text = f"No test case is in the training data of {', '.join(table['flagged_by'])}."
    else:
        text = "No run records which test cases were in its training data."
    lines += [text + " Cells: mean [95% CI over the case's prompts].", ""]
    groups = ["unseen", "seen"] if seen else []
    columns = [Column("Model", lambda name: name)]
    columns += [Column(f"{metric}, {g} cases [95% CI]", lambda name, g=g: table["groups"][name][g], fmt_cell)
                for g in groups]
    columns += [Column(f"{c['case']} ({'seen' if c['seen'] else 'unseen'})",
                       lambda name, i=i: table["models"][name][i], fmt_cell) for i, c in enumerate(cases)]
    return lines + markdown_table(columns, list(table["models"]))


def delta_column(metric, label):
    def value(model):
        if model["is_baseline"]:
            return "baseline"
        if model["vs_baseline"] is None:
            return MISSING
        return fmt_diff(model["vs_baseline"]["metrics"][metric])
    return Column(f"Δ{label} vs baseline [95% CI], p", value)


def headline_columns(report):
    """The headline table: scores with CIs, differences from the baseline, cost, speed."""
    labels, metrics = report["metric_labels"], report["metrics"]
    return ([Column("Model", lambda m: m["name"] + (" (baseline)" if m["is_baseline"] else "")),
             Column("n", lambda m: m["n"])]
            + score_columns(metrics, labels)
            + [delta_column(m, labels[m]) for m in metrics]
            + [Column("$ per 1k answers", lambda m: m["cost"], fmt_charged),
               Column("questions/s", lambda m: m["throughput"]["questions_per_s"], fmt_rate)])


def fmt_charged(cost):
    """The cost per 1k answers a row was charged, and for an API row what the other mode would cost:
    '$0.0100 batch (live: $0.0200)', '$0.0200 (batch: $0.0100)'."""
    text = fmt_cost(cost)
    mode, other = cost.get("mode"), cost.get("other")
    if mode in ("batch", "mixed") and cost["usd_per_1k_answers"] is not None:
        text += " batch" if mode == "batch" else f" ({cost['n_batch']} batch)"
    if other and other["usd_per_1k_answers"] is not None:
        text += f" ({other['mode']}: {fmt_usd(other['usd_per_1k_answers'])})"
    return text


def fmt_batch_price(model):
    """What the row's cost was computed from: the batch price beside the list price for a batch run."""
    price = model["cost"].get("price") or {}
    text = fmt_price(model)
    if model["cost"].get("mode") in ("batch", "mixed") and price.get("batch"):
        text += f"; batch ${price['batch']['input']:g} / ${price['batch']['output']:g}"
    return text


def headline_cells(report):
    """(header, rows of cells) of the headline table, for report.md and the viewer."""
    columns = headline_columns(report)
    return [c.header for c in columns], [[c.cell(m) for c in columns] for m in report["models"]]


def baseline_rows_lines(report):
    """Every model tested against each baseline row, when there are several."""
    labels, metrics = report["metric_labels"], report["metrics"]
    pairs = [(m, entry) for m in report["models"] if m.get("vs_baseline_rows")
             for entry in [m["vs_baseline"]] + m["vs_baseline_rows"] if entry]
    if not pairs:
        return []
    columns = ([Column("Model", lambda p: p[0]["name"]), Column("against", lambda p: p[1]["baseline"]),
                Column("n paired", lambda p: p[1]["n_paired"])]
               + [Column(f"Δ{labels[k]} [95% CI], p", lambda p, k=k: p[1]["metrics"][k], fmt_diff) for k in metrics])
    return ["## Paired tests against every baseline row", ""] + markdown_table(columns, pairs) + [""]


def scoring_modes_lines(report):
    """The task's scoring modes side by side (REPORT_COLUMNS["scoring_modes"] of its module)."""
    models = [m for m in report["models"] if m.get("scoring_modes")]
    extra = report.get("scoring_modes")
    if not models or not extra:
        return []
    modes = extra["modes"]
    columns = [Column("Model", lambda m: m["name"]), Column("n", lambda m: m["scoring_modes"]["n"])]
    columns += [Column(f"{label} [95% CI]", lambda m, mode=mode: m["scoring_modes"][mode], fmt_cell)
                for mode, label in modes.items()]
    columns.append(Column("answers scored differently", lambda m: m["scoring_modes"][extra["differ"]],
                          lambda v: MISSING if v is None else str(v)))
    return ["## Scoring modes", "", extra["note"], ""] + markdown_table(columns, models) + [""]


def cost_lines(report):
    columns = [Column("Model", lambda m: m["name"]),
               Column("basis", lambda m: m["cost"]["basis"] or "unknown"),
               Column("price", fmt_batch_price),
               Column("$ per 1k answers", lambda m: m["cost"], fmt_charged)]
    columns += [Column(header, lambda m, key=key: m["throughput"][key], fmt_rate)
                for header, key in (("questions/s", "questions_per_s"), ("prompt tokens/s", "prompt_tokens_per_s"),
                                    ("generated tokens/s", "generated_tokens_per_s"))]
    columns.append(Column("API requests sent (sent/kept per segment)", lambda m: m["cost"], fmt_requests))
    return ["## Cost and throughput", ""] + markdown_table(columns, report["models"])


def training_text(training):
    """A tuned row's settings as its training recorded them: 'LoRA rank 8, alpha 16; 128 training rows,
    2 epochs; base <model>'; '?' where the record lacks a value."""
    if training.get("recipe") is None or training.get("problem"):
        return f"training settings unknown ({training.get('problem') or 'no record'})"

    def shown(key):
        value = training.get(key)
        return "?" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    length = f"{shown('max_steps')} steps" if training.get("max_steps") else \
        f"{shown('num_epochs')} epoch{'' if training.get('num_epochs') == 1 else 's'}"
    return (f"LoRA rank {shown('lora_r')}, alpha {shown('lora_alpha')}; {shown('train_rows')} training rows, "
            f"{length}; base {shown('base_model')}")


def training_lines(report):
    """Under the headline: what each tuned row was trained with, from its run folder's record."""
    tuned = [m for m in report["models"] if m.get("training")]
    if not tuned:
        return []
    return ["", "Tuned rows, as trained (the recipe.yml and train_summary.json in each run folder):"] + \
        [f"- **{one_line(m['name'])}**: {training_text(m['training'])}"
         + (f" ({m['training']['recipe']})" if m["training"].get("recipe") else "") for m in tuned]


def headline_lines(report):
    label = report["metric_labels"].get
    lines = [f"# {report['task']} on {report['split']}", "",
             f"Split sha256 `{report['split_sha256']}`. Scores are 0–100 with 95% percentile-bootstrap "
             f"intervals ({report['n_boot']} resamples, seed {report['seed']}); Δ is against **{report['baseline']}** "
             f"on the questions both answered, with a paired-bootstrap interval.", ""]
    header, rows = headline_cells(report)
    lines += table_lines(header, rows)
    tests = sorted({f"{label(k)}: {e['test']}" for m in report["models"] if m["vs_baseline"]
                    for k, e in m["vs_baseline"]["metrics"].items()})
    if tests:
        lines += ["", "p-values: " + "; ".join(tests) + "."]
    return lines + training_lines(report) + ["", report["reading"], ""]


def render_markdown(report):
    """report.md: the headline table, the reading, contamination, cost, per-case table, plots, notes."""
    from eval.backends import registry

    label = report["metric_labels"].get
    lines = headline_lines(report) + baseline_rows_lines(report) + scoring_modes_lines(report)
    if report.get("contamination"):
        lines += ["## Contamination", ""]
        lines += [f"- **{c['model']}**: {c['statement']}" for c in report["contamination"]] + [""]
    lines += cost_lines(report)
    if report["by_case"]:
        lines += by_case_lines(report)
    for backend in registry().values():
        lines += backend.report_lines(report)
    lines += ["", "## Plots", "",
              f"![{label(report['metrics'][0])} per model]({report['plots']['models']})", "",
              f"![accuracy by input length]({report['plots']['by_input_tokens']})", "",
              f"![accuracy against cost]({report['plots']['cost']})", ""]
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in report["notes"]] + [""]
    # no text here is HTML: a '<' that would open a tag or a comment (from a label, say) is written as one
    return RAW_HTML.sub("&lt;", "\n".join(lines))
