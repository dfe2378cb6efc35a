"""Compare finished runs on one split: scores with 95% CIs, paired tests, cost, plots.

    python -m eval report RUN_DIR... [--baseline LABEL] [--out DIR] [--prices FILE]

writes report.md (eval.render), report.json, models.png, by_input_tokens.png and cost.png (eval.plots),
and index.html, every answer beside its question in the browser (eval.viewer).
Runs are compared only when they scored the same split (same split_sha256); the
paired tests use the questions both runs answered. What is scored comes from the task
module's METRICS.
"""
from pathlib import Path

import numpy as np

from eval import stats
from eval.cost import cost_for_run, load_prices
from eval.render import reading, render_markdown
from eval.store import RunStore, find_runs
from eval.verify import is_unverified, verify_run
from eval.viewer import write_viewer
from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_text
from slingshot.layout import display_path, resolve
from slingshot.tasks import TASKS, get_task

ALPHA = 0.05
N_TOKEN_BUCKETS = 4
PLOTS = {"models": "models.png", "by_input_tokens": "by_input_tokens.png", "cost": "cost.png"}


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
    run = Run(meta.get("label") or store.folder.name, store.folder, meta, rows, skipped)
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
           "n": len(run.rows), "n_expected": run.meta.get("n_expected")}
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


def by_case(runs, metric, n_boot=stats.N_BOOT, seed=stats.SEED):
    """Score per test case (95% CI over the case's rows), for tasks whose rows carry a `case`.

    A case is seen when a run's rows mark it `seen` (the tuned model trained on it); every
    model also gets its mean over the unseen cases and over the seen ones, so a reference
    model's score on the tuned model's training problems sits beside the tuned score there."""
    if not all("case" in r for run in runs for r in run.rows):
        return None
    seen_by = {}
    for run in runs:
        for r in run.rows:
            names = seen_by.setdefault(r["case"], [])
            if r.get("seen") and run.name not in names:
                names.append(run.name)
    cases = sorted(seen_by, key=lambda c: (not seen_by[c], str(c)))
    flagged = [run.name for run in runs if any("seen" in r for r in run.rows)]
    table = {"metric": metric, "flagged_by": flagged,
             "cases": [{"case": c, "seen": bool(seen_by[c]), "seen_by": seen_by[c]} for c in cases],
             "models": {}, "groups": {}}
    for run in runs:
        table["models"][run.name] = [
            _cell([r["metrics"][metric] for r in run.rows if r["case"] == case], n_boot, seed) for case in cases]
        table["groups"][run.name] = {
            group: _cell([r["metrics"][metric] for r in run.rows if bool(seen_by[r["case"]]) == (group == "seen")],
                         n_boot, seed)
            for group in ("unseen", "seen")}
    return table


def scoring_modes(run, n_boot, seed):
    """Julia: the leaderboard-mode score (its harness, bugs included) beside the corrected one, each
    with its CI. A leaderboard record is leaderboard-mode scoring by definition."""
    if run.meta.get("backend") == "leaderboard":
        leaderboard = [r["metrics"]["score"] for r in run.rows]
        return {"n": len(leaderboard), "corrected": None, "leaderboard": _cell(leaderboard, n_boot, seed),
                "differ_in_leaderboard_mode": None}
    both = [r["metrics"] for r in run.rows if "leaderboard_mode_score" in r["metrics"]]
    if not both:
        return None
    return {"n": len(both), "corrected": _cell([m["score"] for m in both], n_boot, seed),
            "leaderboard": _cell([m["leaderboard_mode_score"] for m in both], n_boot, seed),
            "differ_in_leaderboard_mode": sum(m["leaderboard_mode_score"] != m["score"] for m in both)}


def training_contamination(adapter):
    """The contamination statement of a tuned model, from the recipe saved in its run folder, for
    runs scored without `make eval` (python -m eval run --adapter ...)."""
    from slingshot.contamination import check_recipe, contamination_statement
    from slingshot.recipe import load_recipe

    recipe_file = resolve(adapter) / "recipe.yml"
    if not recipe_file.exists():
        return f"Not checked: {adapter} holds no recipe.yml, so its training data is unknown."
    try:
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


def build_report(run_stores, out_dir, baseline=None, prices=None, n_boot=stats.N_BOOT, seed=stats.SEED):
    """Write report.md, report.json, the plots and index.html to out_dir; return the report dict."""
    from eval import plots
    runs = load_runs(run_stores)
    task = runs[0].meta["task"]
    task_module = get_task(task)
    metrics = list(task_module.METRICS)
    primary = metrics[0]
    label = task_module.METRICS.get
    prices = load_prices(prices) if prices is None or isinstance(prices, (str, Path)) else prices
    notes = []

    models = {run.name: summarize(run, metrics, n_boot, seed) for run in runs}
    baseline_rows = []
    if baseline is None:
        base = max(runs, key=lambda r: (models[r.name][primary], r.name))
        notes.append(f"No baseline given: every model is compared with the top scorer on {label(primary)}, {base.name}.")
    else:
        for wanted in ([baseline] if isinstance(baseline, str) else baseline):
            matches = [r for r in runs if wanted in (r.name, r.meta.get("label"))]
            if len(matches) != 1:
                raise UserError(f"baseline {wanted!r} {'is ambiguous' if matches else 'not found'}; "
                                 f"runs: {', '.join(r.name for r in runs)}")
            baseline_rows.append(matches[0])
        # the headline compares against the strongest baseline row, never a weaker one
        base = max(baseline_rows, key=lambda r: (models[r.name][primary], r.name))
        if len(baseline_rows) > 1:
            notes.append(f"Baseline rows: {', '.join(r.name for r in baseline_rows)}; the headline compares "
                         f"with the strongest on {label(primary)}, {base.name}, and every model is also "
                         f"tested against each of them (\"Paired tests against every baseline row\").")

    for run in runs:
        summary = models[run.name]
        summary["is_baseline"] = run is base
        summary["vs_baseline"] = None if run is base else compare(run, base, metrics, task_module.BINARY_METRICS, n_boot, seed)
        summary["is_baseline_row"] = run in baseline_rows
        summary["vs_baseline_rows"] = [compare(run, other, metrics, task_module.BINARY_METRICS, n_boot, seed)
                                       for other in baseline_rows if other is not run and other is not base] if len(baseline_rows) > 1 else []
        if run is not base:
            if summary["vs_baseline"] is None:
                notes.append(f"{run.name} shares no question with the baseline: no paired test.")
            elif summary["vs_baseline"]["n_paired"] < max(len(run.rows), len(base.rows)):
                notes.append(f"{run.name} and {base.name} answered different questions: paired tests use "
                             f"the {summary['vs_baseline']['n_paired']} both answered.")
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
        modes = scoring_modes(run, n_boot, seed)
        if modes:
            summary["scoring_modes"] = modes
        if run.meta.get("backend") == "leaderboard":
            summary["leaderboard"] = {k: run.meta.get(k) for k in ("n_samples", "recorded", "harness", "note")}

    order = sorted(runs, key=lambda r: (-models[r.name][primary], r.name))
    buckets = token_buckets(runs)
    report = {
        "task": task, "split": runs[0].meta["split"], "split_sha256": runs[0].meta["split_sha256"],
        "metrics": metrics, "metric_labels": dict(task_module.METRICS), "confidence": stats.CONFIDENCE, "n_boot": n_boot, "seed": seed, "alpha": ALPHA,
        "baseline": base.name,
        "models": [models[r.name] for r in order],
        "by_input_tokens": by_bucket(order, buckets, metrics, n_boot, seed) if buckets else None,
        "by_case": by_case(order, primary, n_boot, seed),
        "contamination": [{"model": r.name, "statement": statement}
                          for r in order for statement in contamination_of(r)],
        "plots": dict(PLOTS),
        "notes": notes,
    }
    table = report["by_case"]
    for case in (table["cases"] if table else []):
        unflagged = [n for n in table["flagged_by"] if n not in case["seen_by"]]
        if case["seen"] and unflagged:
            notes.append(f"Case {case['case']} is in the training data of {', '.join(case['seen_by'])} but not "
                         f"of {', '.join(unflagged)}; the per-case table marks it seen.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots.plot_models(report, out_dir / PLOTS["models"])
    plots.plot_by_input_tokens(report, out_dir / PLOTS["by_input_tokens"])
    plots.plot_cost(report, out_dir / PLOTS["cost"])
    report["reading"] = reading(report)
    atomic_write_json(out_dir / "report.json", report)
    atomic_write_text(out_dir / "report.md", render_markdown(report))
    write_viewer(report, runs, buckets, out_dir)
    return report
