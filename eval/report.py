"""Compare finished runs on one split: scores with 95% CIs, paired tests, cost, plots.

    python -m eval report RUN_DIR... [--baseline LABEL] [--out DIR] [--prices FILE]

writes report.md (eval.render), report.json, models.png, by_input_tokens.png and cost.png (eval.plots),
and index.html, every answer beside its question in the browser (eval.viewer).
Runs are compared only when they scored the same split (same split_sha256); the
paired tests use the questions both runs answered. Each store is verified first (eval.verify): answers
are re-scored against data prep's split, found by task and split name, never a file the store names; a
row scored on any other split is called unverified, "not a data-prep split", in the notes. What is scored comes from the task
module's METRICS.
"""
from pathlib import Path

import numpy as np

from eval import stats
from eval.backends import backend_for_meta, cost_for_run
from eval.cost import load_prices
from eval.format import one_line
from eval.render import reading, render_markdown
from eval.store import RunStore, find_runs
from eval.verify import is_unverified, verify_run
from eval.viewer import write_viewer
from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_text, checked_file, writable_folder
from slingshot.layout import display_path, resolve
from slingshot.recipe.trained import trained_with
from slingshot.tasks import TASKS, get_task, report_columns

ALPHA = 0.05
N_TOKEN_BUCKETS = 4
RECIPE_MAX_BYTES = 1 << 20
PLOTS = {"models": "models.png", "by_input_tokens": "by_input_tokens.png", "cost": "cost.png"}

MAX_LABEL_CHARS = 200  # a label is a name in a table, not a paragraph


class Run:
    def __init__(self, name, folder, meta, rows, skipped=()):
        self.name, self.folder, self.meta, self.rows = name, folder, meta, rows
        self.skipped = list(skipped)  # answers the task could not score here (e.g. a missing package)
        self.by_id = {r["id"]: r for r in rows}

    def scores(self, metric, ids=None):
        rows = self.rows if ids is None else [self.by_id[i] for i in ids]
        return np.array([r["metrics"][metric] for r in rows], dtype=float)


def load_run(store):
    store = store if isinstance(store, RunStore) else RunStore(store)
    try:
        meta = store.read_meta()
    except (OSError, ValueError) as e:
        raise UserError(f"{store.meta_path}: cannot read ({e})") from None
    for key in ("task", "split", "split_sha256"):
        if not meta.get(key):
            raise UserError(f"{store.meta_path}: missing key {key!r}")
    if meta["task"] not in TASKS:
        raise UserError(f"{store.meta_path}: key 'task' is {meta['task']!r}; known tasks: {sorted(TASKS)}")
    rows = list(store.load_predictions().values())
    if not rows:
        raise UserError(f"{store.predictions_path}: no predictions")
    verified = verify_run(store, meta, rows, get_task(meta["task"]))  # refuses a store changed after scoring
    skipped = [r for r in rows if (r.get("metrics") or {}).get("skipped")]
    rows = [r for r in rows if not (r.get("metrics") or {}).get("skipped")]
    if not rows:
        raise UserError(f"{store.predictions_path}: every prediction was skipped (not scorable here), "
                         f"e.g. {skipped[0]['id']!r}: {skipped[0]['metrics'].get('reason', 'no reason given')}")
    rows.sort(key=lambda r: str(r["id"]))
    # a label is shown in tables, lists and terminals: one line, control characters visible
    run = Run(one_line(meta.get("label") or store.folder.name)[:MAX_LABEL_CHARS], store.folder, meta, rows, skipped)
    run.verified = verified
    return run


def load_runs(run_stores):
    """Runs from RunStore objects or paths (a run folder, or a folder above finished runs)."""
    stores = []
    for item in run_stores:
        stores += [item] if isinstance(item, RunStore) else find_runs([item])
    if not stores:
        raise UserError("no finished runs to report on")
    runs = [load_run(s) for s in stores]
    names = [r.name for r in runs]
    for run in runs:  # two runs under one label: tell them apart by their store key
        if names.count(run.name) > 1:
            run.name = f"{run.name} [{run.meta.get('key') or run.folder.name[-12:]}]"
    check_comparable(runs)
    return runs


def check_comparable(runs):
    tasks = {r.meta["task"] for r in runs}
    if len(tasks) > 1:
        raise UserError("cannot compare runs of different tasks: "
                         + "; ".join(f"{r.name}: {r.meta['task']}" for r in runs))
    splits = {r.meta["split_sha256"] for r in runs}
    if len(splits) > 1:
        raise UserError("refusing to compare runs scored on different splits (split_sha256 differs): "
                         + "; ".join(f"{r.name} ({r.folder}): split {r.meta['split']} "
                                     f"sha256 {r.meta['split_sha256'][:12]}" for r in runs)
                         + ". Report each split separately.")


def summarize(run, metrics, n_boot, seed):
    out = {"name": run.name, "run_dir": display_path(run.folder), "key": run.meta.get("key"),
           "model": run.meta.get("model"), "adapter": run.meta.get("adapter"),
           "backend": run.meta.get("backend"), "device": run.meta.get("device"),
           "hardware": run.meta.get("hardware"), "prompt_version": run.meta.get("prompt_version"),
           "generation": run.meta.get("generation"), "status": run.meta.get("status"),
           "shots": run.meta.get("shots", 0), "verified": run.verified,
           "n": len(run.rows), "n_expected": run.meta.get("n_expected"),
           "training": trained_with(run.meta["adapter"]) if run.meta.get("adapter") else None}
    for metric in metrics:
        mean, low, high = stats.bootstrap_ci(run.scores(metric), n_boot=n_boot, seed=seed)
        out[metric], out[f"{metric}_ci"] = mean, [low, high]
    return out


def compare(run, base, metrics, binary_metrics, n_boot, seed):
    """Paired tests of run against base on the questions both answered."""
    ids = sorted(set(run.by_id) & set(base.by_id))
    if not ids:
        return None
    result = {"baseline": base.name, "n_paired": len(ids), "metrics": {}}
    for metric in metrics:
        a, b = run.scores(metric, ids), base.scores(metric, ids)
        boot = stats.paired_bootstrap(a, b, n_boot=n_boot, seed=seed)
        entry = {"diff": boot["diff"], "ci": boot["ci"], "p_value": boot["p_value"],
                 "test": "paired bootstrap", "bootstrap_p_value": boot["p_value"]}
        if metric in binary_metrics:
            mc = stats.mcnemar_exact(a > 0, b > 0)
            entry.update(p_value=mc["p_value"], test="exact McNemar", mcnemar=mc)
        result["metrics"][metric] = entry
    return result


def token_buckets(runs, n_buckets=N_TOKEN_BUCKETS):
    """Questions grouped by input length: per question the median of the runs' token counts,
    so one question lands in the same bucket for every model whatever its tokenizer."""
    counts = {}
    for run in runs:
        for row in run.rows:
            if isinstance(row.get("tokens_in"), (int, float)):
                counts.setdefault(row["id"], []).append(row["tokens_in"])
    if not counts:
        return None
    length = {i: float(np.median(c)) for i, c in counts.items()}
    values = np.array(list(length.values()))
    edges = np.unique(np.round(np.quantile(values, np.linspace(0, 1, n_buckets + 1)[1:-1])))
    buckets = []
    for k in range(len(edges) + 1):
        low = edges[k - 1] if k > 0 else -np.inf
        high = edges[k] if k < len(edges) else np.inf
        ids = sorted(i for i, v in length.items() if low < v <= high)
        if not ids:
            continue
        if k == 0:
            name = f"≤{high:.0f}"
        elif k == len(edges):
            name = f">{low:.0f}"
        else:
            name = f"{low + 1:.0f}–{high:.0f}"
        buckets.append({"label": name, "ids": ids})
    return buckets


def by_bucket(runs, buckets, metrics, n_boot, seed):
    table = {"buckets": [{"label": b["label"], "n_questions": len(b["ids"])} for b in buckets], "models": {}}
    for run in runs:
        per_metric = {}
        for metric in metrics:
            cells = []
            for bucket in buckets:
                ids = [i for i in bucket["ids"] if i in run.by_id]
                if ids:
                    mean, low, high = stats.bootstrap_ci(run.scores(metric, ids), n_boot=n_boot, seed=seed)
                    cells.append({"n": len(ids), "mean": mean, "ci": [low, high]})
                else:
                    cells.append({"n": 0, "mean": None, "ci": None})
            per_metric[metric] = cells
        table["models"][run.name] = per_metric
    return table


def _cell(values, n_boot, seed):
    """Mean of a group of per-example scores, with a bootstrap CI when there is more than one."""
    if not values:
        return {"n": 0, "mean": None, "ci": None}
    if len(values) == 1:
        return {"n": 1, "mean": float(values[0]), "ci": None}
    mean, low, high = stats.bootstrap_ci(values, n_boot=n_boot, seed=seed)
    return {"n": len(values), "mean": mean, "ci": [low, high]}


def by_case(runs, metric, n_boot=stats.N_BOOT, seed=stats.SEED, field="case"):
    """Score per test case (95% CI over the case's rows), for tasks whose rows carry one (`field`,
    the task's REPORT_COLUMNS["group_by"]).

    A case is seen when a run's rows mark it `seen` (the tuned model trained on it); every
    model also gets its mean over the unseen cases and over the seen ones, so a reference
    model's score on the tuned model's training problems sits beside the tuned score there."""
    if not all(field in r for run in runs for r in run.rows):
        return None
    seen_by = {}
    for run in runs:
        for r in run.rows:
            names = seen_by.setdefault(r[field], [])
            if r.get("seen") and run.name not in names:
                names.append(run.name)
    cases = sorted(seen_by, key=lambda c: (not seen_by[c], str(c)))
    flagged = [run.name for run in runs if any("seen" in r for r in run.rows)]
    table = {"metric": metric, "flagged_by": flagged,
             "cases": [{"case": c, "seen": bool(seen_by[c]), "seen_by": seen_by[c]} for c in cases],
             "models": {}, "groups": {}}
    for run in runs:
        table["models"][run.name] = [
            _cell([r["metrics"][metric] for r in run.rows if r[field] == case], n_boot, seed) for case in cases]
        table["groups"][run.name] = {
            group: _cell([r["metrics"][metric] for r in run.rows if bool(seen_by[r[field]]) == (group == "seen")],
                         n_boot, seed)
            for group in ("unseen", "seen")}
    return table


def scoring_modes(run, columns, primary, n_boot, seed):
    """The task's scoring modes side by side (its REPORT_COLUMNS["scoring_modes"]), e.g. Julia's
    leaderboard-mode score (its harness, bugs included) beside the corrected one, each with its CI.
    A backend whose scores were computed in one mode (RECORDED_SCORING) has only that one."""
    modes = columns.get("scoring_modes")
    if not modes:
        return None
    differ = f"differ_in_{list(modes)[-1]}_mode"
    recorded = backend_for_meta(run.meta).RECORDED_SCORING
    if recorded in modes:
        values = [r["metrics"][primary] for r in run.rows]
        return {"n": len(values), **{mode: _cell(values, n_boot, seed) if mode == recorded else None
                                     for mode in modes}, differ: None}
    keys = [key for key, _ in modes.values()]
    both = [r["metrics"] for r in run.rows if all(k in r["metrics"] for k in keys)]
    if not both:
        return None
    return {"n": len(both), **{mode: _cell([m[key] for m in both], n_boot, seed) for mode, (key, _) in modes.items()},
            differ: sum(m[keys[-1]] != m[keys[0]] for m in both)}


def training_contamination(adapter):
    """The contamination statement of a tuned model, from the recipe saved in its run folder, for
    runs scored without `make eval` (python -m eval run --adapter ...)."""
    from slingshot.contamination import check_recipe, contamination_statement
    from slingshot.recipe import load_recipe

    recipe_file = resolve(adapter) / "recipe.yml"
    if not recipe_file.exists():
        return f"Not checked: {adapter} holds no recipe.yml, so its training data is unknown."
    try:
        checked_file(recipe_file, "the run's recipe", RECIPE_MAX_BYTES)  # a FIFO would block the report
        return contamination_statement(check_recipe(load_recipe(recipe_file)))
    except UserError as e:
        return f"Not checked: {e}"


def contamination_of(run):
    """Statements for one row: its training data (tuned models) and its few-shot examples."""
    statements = []
    if run.meta.get("contamination"):
        statements.append(run.meta["contamination"])
    elif run.meta.get("adapter"):
        statements.append(training_contamination(run.meta["adapter"]))
    if run.meta.get("shot_contamination"):
        statements.append(run.meta["shot_contamination"])
    return statements


def choose_baseline(runs, models, baseline, primary, label, notes):
    """(the headline's baseline run, the baseline rows asked for); the strongest row is the headline."""
    if baseline is None:
        base = max(runs, key=lambda r: (models[r.name][primary], r.name))
        notes.append(f"No baseline given: every model is compared with the top scorer on {label(primary)}, {base.name}.")
        return base, []
    rows = []
    for wanted in ([baseline] if isinstance(baseline, str) else baseline):
        matches = [r for r in runs if wanted in (r.name, r.meta.get("label"))]
        if len(matches) != 1:
            raise UserError(f"baseline {wanted!r} {'is ambiguous' if matches else 'not found'}; "
                             f"runs: {', '.join(r.name for r in runs)}")
        rows.append(matches[0])
    # the headline compares against the strongest baseline row, never a weaker one
    base = max(rows, key=lambda r: (models[r.name][primary], r.name))
    if len(rows) > 1:
        notes.append(f"Baseline rows: {', '.join(r.name for r in rows)}; the headline compares "
                     f"with the strongest on {label(primary)}, {base.name}, and every model is also "
                     f"tested against each of them (\"Paired tests against every baseline row\").")
    return base, rows



def add_tests(summary, run, base, baseline_rows, task_module, n_boot, seed, notes):
    """The run's paired tests against the headline baseline and every other baseline row."""
    metrics, binary = list(task_module.METRICS), task_module.BINARY_METRICS
    summary["is_baseline"] = run is base
    summary["vs_baseline"] = None if run is base else compare(run, base, metrics, binary, n_boot, seed)
    summary["is_baseline_row"] = run in baseline_rows
    summary["vs_baseline_rows"] = [compare(run, other, metrics, binary, n_boot, seed)
                                   for other in baseline_rows if other is not run and other is not base] \
        if len(baseline_rows) > 1 else []
    if run is base:
        return
    if summary["vs_baseline"] is None:
        notes.append(f"{run.name} shares no question with the baseline: no paired test.")
    elif summary["vs_baseline"]["n_paired"] < max(len(run.rows), len(base.rows)):
        notes.append(f"{run.name} and {base.name} answered different questions: paired tests use "
                     f"the {summary['vs_baseline']['n_paired']} both answered.")


def add_cost_and_checks(summary, run, prices, notes):
    """Cost and throughput, and the notes on what the row lacks (price, answers, verification)."""
    cost = cost_for_run(run.meta, run.rows + run.skipped, prices)
    summary["throughput"] = cost.pop("throughput")
    summary["cost"] = cost
    if cost["note"]:
        known = cost["usd_per_1k_answers"] is not None
        notes.append(f"{run.name}: {cost['note'] if known else 'cost unknown (' + cost['note'] + ')'}.")
    truncated = sum(1 for r in run.rows + run.skipped if r.get("truncated"))
    if truncated:
        notes.append(f"{run.name}: {truncated} answer(s) ran past what max_new_tokens allows and were stored "
                     f"cut (flagged \"truncated\" in its predictions.jsonl): the server ignored max_tokens.")
    expected = run.meta.get("n_expected")
    if expected and len(run.rows) + len(run.skipped) < expected:
        notes.append(f"{run.name} is incomplete: {len(run.rows) + len(run.skipped)} of {expected} "
                     f"questions answered.")
    if run.skipped:
        reasons = sorted({str(r["metrics"].get("reason") or "no reason given") for r in run.skipped})
        notes.append(f"{run.name}: {len(run.skipped)} answers could not be scored here and are left out of "
                     f"its scores, not counted as 0 ({'; '.join(reasons)}).")
    if is_unverified(run.verified):
        notes.append(f"{run.name}: {run.verified}.")
    asked, served = str(run.meta.get("model", "")), run.meta.get("served_models") or []
    other = [m for m in served if not (m == asked or m.startswith(asked + "-"))]  # dated snapshots are the model
    if asked and other:
        notes.append(f"{run.name}: asked for {asked}, but the server answered as {', '.join(other)}; its "
                     f"label and price are the model asked for.")


def seen_case_notes(table, notes):
    for case in (table["cases"] if table else []):
        unflagged = [n for n in table["flagged_by"] if n not in case["seen_by"]]
        if case["seen"] and unflagged:
            notes.append(f"Case {case['case']} is in the training data of {', '.join(case['seen_by'])} but not "
                         f"of {', '.join(unflagged)}; the per-case table marks it seen.")


def summarize_all(runs, task_module, baseline, prices, n_boot, seed, notes):
    """{run name: its report row} and the headline's baseline run."""
    metrics, columns = list(task_module.METRICS), report_columns(task_module)
    primary, label = metrics[0], task_module.METRICS.get
    models = {run.name: summarize(run, metrics, n_boot, seed) for run in runs}
    base, baseline_rows = choose_baseline(runs, models, baseline, primary, label, notes)
    for run in runs:
        summary = models[run.name]
        add_tests(summary, run, base, baseline_rows, task_module, n_boot, seed, notes)
        add_cost_and_checks(summary, run, prices, notes)
        modes = scoring_modes(run, columns, primary, n_boot, seed)
        if modes:
            summary["scoring_modes"] = modes
        summary.update(backend_for_meta(run.meta).report_fields(run.meta))
    return models, base


def scoring_modes_legend(columns):
    modes = columns.get("scoring_modes")
    if not modes:
        return {}
    return {"scoring_modes": {"modes": {mode: label for mode, (_, label) in modes.items()},
                              "differ": f"differ_in_{list(modes)[-1]}_mode",
                              "note": columns.get("scoring_modes_note", "")}}


def write_report(report, runs, buckets, out_dir):
    from eval import plots
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots.plot_models(report, out_dir / PLOTS["models"])
    plots.plot_by_input_tokens(report, out_dir / PLOTS["by_input_tokens"])
    plots.plot_cost(report, out_dir / PLOTS["cost"])
    report["reading"] = reading(report)
    atomic_write_json(out_dir / "report.json", report)
    atomic_write_text(out_dir / "report.md", render_markdown(report))
    write_viewer(report, runs, buckets, out_dir)


def build_report(run_stores, out_dir, baseline=None, prices=None, n_boot=stats.N_BOOT, seed=stats.SEED):
    """Write report.md, report.json, the plots and index.html to out_dir; return the report dict."""
    runs = load_runs(run_stores)
    writable_folder(Path(out_dir), "the report folder")  # before the bootstrap: a bad --out is named at once
    task = runs[0].meta["task"]
    task_module = get_task(task)
    metrics, columns = list(task_module.METRICS), report_columns(task_module)
    prices = load_prices(prices) if prices is None or isinstance(prices, (str, Path)) else prices
    notes = []
    models, base = summarize_all(runs, task_module, baseline, prices, n_boot, seed, notes)
    order = sorted(runs, key=lambda r: (-models[r.name][metrics[0]], r.name))
    buckets = token_buckets(runs)
    group_by = columns.get("group_by")
    report = {
        "task": task, "split": runs[0].meta["split"], "split_sha256": runs[0].meta["split_sha256"],
        "metrics": metrics, "metric_labels": dict(task_module.METRICS), "confidence": stats.CONFIDENCE,
        "n_boot": n_boot, "seed": seed, "alpha": ALPHA,
        "baseline": base.name,
        "models": [models[r.name] for r in order],
        "by_input_tokens": by_bucket(order, buckets, metrics, n_boot, seed) if buckets else None,
        "by_case": by_case(order, metrics[0], n_boot, seed, group_by) if group_by else None,
        "contamination": [{"model": r.name, "statement": statement}
                          for r in order for statement in contamination_of(r)],
        "plots": dict(PLOTS),
        "notes": notes,
        **scoring_modes_legend(columns),
    }
    seen_case_notes(report["by_case"], notes)
    write_report(report, runs, buckets, out_dir)
    return report
