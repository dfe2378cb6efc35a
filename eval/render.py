"""report.md from a report dict (eval.report computes it; eval.plots draws it)."""
from eval.cost import format_cost, format_requests


def fmt_p(p):
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def fmt_ci(mean, ci):
    return f"{mean:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def fmt_diff(entry):
    return f"{entry['diff']:+.1f} [{entry['ci'][0]:+.1f}, {entry['ci'][1]:+.1f}], {fmt_p(entry['p_value'])}"


def fmt_rate(value):
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def reading(report):
    """One plain-language paragraph: which differences from the baseline are real."""
    label = report["metric_labels"].get
    metrics, primary = report["metrics"], report["metrics"][0]
    base = next(m for m in report["models"] if m["is_baseline"])
    others = [m for m in report["models"] if not m["is_baseline"] and m["vs_baseline"]]
    n = base["n"]
    strongest = " (the strongest baseline row)" if any(m.get("vs_baseline_rows") for m in report["models"]) else ""
    text = [f"Baseline: {base['name']}{strongest} with {label(primary)} {base[primary]:.1f} "
            f"(95% CI {base[f'{primary}_ci'][0]:.1f} to {base[f'{primary}_ci'][1]:.1f}) on {n} questions."]
    if not others:
        text.append("There is no other model to compare with.")
    for m in others:
        entry = m["vs_baseline"]["metrics"][primary]
        d, (low, high), p = entry["diff"], entry["ci"], entry["p_value"]
        if p < report['alpha']:
            verdict = (f"{m['name']} is {'better' if d > 0 else 'worse'} by {abs(d):.1f} {label(primary)} points "
                       f"(95% CI {low:+.1f} to {high:+.1f}, {fmt_p(p)}), a difference too large to be chance")
        else:
            verdict = (f"{m['name']} differs by {d:+.1f} {label(primary)} points (95% CI {low:+.1f} to {high:+.1f}, "
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


def fmt_price(model):
    """What a model's cost was computed from: list prices, hourly price, or the leaderboard's record."""
    cost = model["cost"]
    price = cost["price"] or {}
    if "input" in price:
        return f"${price['input']:g} / ${price['output']:g} per 1M in/out ({price['model']}, {price['as_of']})"
    if "usd_per_hour" in price:
        return f"${price['usd_per_hour']:g}/h ({model['hardware'] or model['device']})"
    if "recorded_usd" in price:
        text = f"recorded: ${price['recorded_usd']:.4g} for {price['recorded_answers']} answers"
        unpriced = price["unpriced_answers"]
        return text + (f" ({unpriced} more recorded at $0, left out)" if unpriced else "")
    return cost["note"] or "–"


def fmt_cell(cell):
    if cell["mean"] is None:
        return "–"
    return fmt_ci(cell["mean"], cell["ci"]) if cell["ci"] else f"{cell['mean']:.1f}"


def render_by_case(report):
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
    heads = ([f"{metric}, {g} cases [95% CI]" for g in groups]
             + [f"{c['case']} ({'seen' if c['seen'] else 'unseen'})" for c in cases])
    lines += ["| Model | " + " | ".join(heads) + " |", "|" + "---|" * (len(heads) + 1)]
    for name, cells in table["models"].items():
        row = [fmt_cell(table["groups"][name][g]) for g in groups] + [fmt_cell(c) for c in cells]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in [name] + row) + " |")
    return lines


def headline_cells(report):
    """(header, rows of cells) of the headline table: scores with CIs, differences, cost, speed."""
    label = report["metric_labels"].get
    metrics = report["metrics"]
    header = (["Model", "n"] + [f"{label(m)} [95% CI]" for m in metrics]
              + [f"Δ{label(m)} vs baseline [95% CI], p" for m in metrics]
              + ["$ per 1k answers", "questions/s"])
    rows = []
    for m in report["models"]:
        deltas = (["baseline"] * len(metrics) if m["is_baseline"] else
                  ["–"] * len(metrics) if m["vs_baseline"] is None else
                  [fmt_diff(m["vs_baseline"]["metrics"][k]) for k in metrics])
        rows.append([m["name"] + (" (baseline)" if m["is_baseline"] else ""), str(m["n"])]
                    + [fmt_ci(m[k], m[f"{k}_ci"]) for k in metrics] + deltas
                    + [format_cost(m["cost"]), fmt_rate(m["throughput"]["questions_per_s"])])
    return header, rows


def render_markdown(report):
    """report.md: the headline table, the reading, contamination, cost, per-case table, plots, notes."""
    label = report["metric_labels"].get
    metrics, base = report["metrics"], report["baseline"]
    lines = [f"# {report['task']} on {report['split']}", "",
             f"Split sha256 `{report['split_sha256']}`. Scores are 0–100 with 95% percentile-bootstrap "
             f"intervals ({report['n_boot']} resamples, seed {report['seed']}); Δ is against **{base}** on "
             f"the questions both answered, with a paired-bootstrap interval.", ""]
    header, rows = headline_cells(report)
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    tests = sorted({f"{label(k)}: {e['test']}" for m in report["models"] if m["vs_baseline"]
                    for k, e in m["vs_baseline"]["metrics"].items()})
    if tests:
        lines += ["", "p-values: " + "; ".join(tests) + "."]
    lines += ["", report["reading"], ""]

    extra = [m for m in report["models"] if m.get("vs_baseline_rows")]
    if extra:
        lines += ["## Paired tests against every baseline row", "",
                  "| Model | against | n paired | " + " | ".join(f"Δ{label(k)} [95% CI], p" for k in metrics) + " |",
                  "|" + "---|" * (3 + len(metrics))]
        for m in extra:
            for entry in [m["vs_baseline"]] + m["vs_baseline_rows"]:
                if entry:
                    cells = [m["name"], entry["baseline"], str(entry["n_paired"])] + [
                        fmt_diff(entry["metrics"][k]) for k in metrics]
                    lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines += [""]

    modes = [m for m in report["models"] if m.get("scoring_modes")]
    if modes:
        lines += ["## Scoring modes", "",
                  "Corrected mode scores the code as written; leaderboard mode reproduces the leaderboard's "
                  "harness, bugs included (a `\"\"\"` anywhere in an answer scores 0 there). Leaderboard records "
                  "were scored by that harness only.", "",
                  "| Model | n | corrected [95% CI] | leaderboard mode [95% CI] | answers scored differently |",
                  "|---|---|---|---|---|"]
        for m in modes:
            sm = m["scoring_modes"]
            cells = [m["name"], str(sm["n"]), fmt_cell(sm["corrected"]) if sm["corrected"] else "–",
                     fmt_cell(sm["leaderboard"]),
                     "–" if sm["differ_in_leaderboard_mode"] is None else str(sm["differ_in_leaderboard_mode"])]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines += [""]

    if report.get("contamination"):
        lines += ["## Contamination", ""]
        lines += [f"- **{c['model']}**: {c['statement']}" for c in report["contamination"]] + [""]

    lines += ["## Cost and throughput", "",
              "| Model | basis | price | $ per 1k answers | questions/s | prompt tokens/s | generated tokens/s "
              "| API requests sent (sent/kept per segment) |",
              "|---|---|---|---|---|---|---|---|"]
    for m in report["models"]:
        c, t = m["cost"], m["throughput"]
        lines.append(f"| {m['name']} | {c['basis'] or 'unknown'} | {fmt_price(m)} | {format_cost(c)} "
                     f"| {fmt_rate(t['questions_per_s'])} | {fmt_rate(t['prompt_tokens_per_s'])} "
                     f"| {fmt_rate(t['generated_tokens_per_s'])} | {format_requests(c)} |")

    if report["by_case"]:
        lines += render_by_case(report)

    records = [m for m in report["models"] if m.get("leaderboard")]
    if records:
        lines += ["", "## Leaderboard records", "",
                  "Models marked (leaderboard record) were not run here: each prompt's score is the mean of the "
                  "Julia-LLM-Leaderboard's stored evaluations of that model's sampled answers, scored by the "
                  "leaderboard's harness when they were recorded (cost as it recorded it, no timing). Answers "
                  "recorded before 2024-08-12 went through a harness that pasted examples and tests into string "
                  "literals, which broke some runs; the base and tuned models are scored by this repo's sandbox "
                  "without those bugs.", "",
                  "| Model | stored answers | recorded | before 2024-02-01 | before 2024-08-12 "
                  "| given this split's exact prompt |",
                  "|---|---|---|---|---|---|"]
        for m in records:
            r = m["leaderboard"]
            lines.append(f"| {m['name']} | {r['n_samples']} | {r['recorded']['first']} to {r['recorded']['last']} "
                         f"| {r['harness']['before_20240201']} | {r['harness']['before_20240812']} "
                         f"| {r['recorded']['n_same_prompt']} |")

    lines += ["", "## Plots", "",
              f"![{label(metrics[0])} per model]({report['plots']['models']})", "",
              f"![accuracy by input length]({report['plots']['by_input_tokens']})", "",
              f"![accuracy against cost]({report['plots']['cost']})", ""]
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in report["notes"]] + [""]
    return "\n".join(lines)
