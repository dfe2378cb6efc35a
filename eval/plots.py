"""Report figures (matplotlib, Agg): scores per model, by input length, against cost.

Each takes the report dict built by eval.report and writes one PNG atomically.
One panel per headline metric; a model keeps its colour in every figure.
"""
import io
import math

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eval.format import fmt_cost, fmt_usd  # noqa: E402
from slingshot.io import atomic_write_bytes  # noqa: E402

def _colors(report):
    cycle = plt.get_cmap("tab10" if len(report["models"]) <= 10 else "tab20").colors
    return {m["name"]: cycle[i % len(cycle)] for i, m in enumerate(report["models"])}


def _title(report, what):
    return f"{report['task']} · {report['split']} · {what} (95% CI)"


def _save(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _errors(mean, ci):
    return [[mean - ci[0]], [ci[1] - mean]]


def plot_models(report, path):
    models, metrics, colors = report["models"][::-1], report["metrics"], _colors(report)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics) + 2, 1.4 + 0.45 * len(models)),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        for y, m in enumerate(models):
            ax.barh(y, m[metric], xerr=_errors(m[metric], m[f"{metric}_ci"]), color=colors[m["name"]],
                    alpha=0.85, capsize=3, edgecolor="black" if m["is_baseline"] else "none")
            ax.text(min(m[f"{metric}_ci"][1] + 1.5, 101), y, f"{m[metric]:.1f}", va="center", fontsize=8)
        ax.set_xlim(0, 110)
        ax.set_xlabel(report["metric_labels"].get(metric, metric))
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(models)),
                          [m["name"] + (" (baseline)" if m["is_baseline"] else "") for m in models])
    fig.suptitle(_title(report, f"n={report['models'][0]['n']}"))
    _save(fig, path)


def _empty(path, report, what, message):
    fig, ax = plt.subplots(figsize=(6, 2.5), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    fig.suptitle(_title(report, what))
    _save(fig, path)


def plot_by_input_tokens(report, path):
    table = report["by_input_tokens"]
    if not table:
        return _empty(path, report, "by input length", "No token counts recorded in these runs.")
    metrics, colors = report["metrics"], _colors(report)
    names = [m["name"] for m in report["models"]]
    buckets = table["buckets"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics) + 2.5, 4.2), squeeze=False,
                             layout="constrained")
    dodge = 0.25 / max(1, len(names) - 1) if len(names) > 1 else 0
    for ax, metric in zip(axes[0], metrics):
        for k, name in enumerate(names):
            cells = table["models"][name][metric]
            xs = [i + (k - (len(names) - 1) / 2) * dodge for i, c in enumerate(cells) if c["mean"] is not None]
            ys = [c["mean"] for c in cells if c["mean"] is not None]
            err = [[c["mean"] - c["ci"][0] for c in cells if c["mean"] is not None],
                   [c["ci"][1] - c["mean"] for c in cells if c["mean"] is not None]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, color=colors[name], label=name)
        ax.set_xticks(range(len(buckets)), [f"{b['label']}\n(n={b['n_questions']})" for b in buckets])
        ax.set_xlabel("input tokens per question (median over models)")
        ax.set_ylabel(report["metric_labels"].get(metric, metric))
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    fig.suptitle(_title(report, "by input length"))
    _save(fig, path)


def plot_cost(report, path):
    metrics, colors = report["metrics"], _colors(report)
    known = [m for m in report["models"] if m["cost"]["usd_per_1k_answers"] is not None]
    unknown = [m["name"] + (f" ({fmt_cost(m['cost'])})" if m["cost"].get("n_unknown") else "")
               for m in report["models"] if m["cost"]["usd_per_1k_answers"] is None]
    if not known:
        return _empty(path, report, "against cost", "No model has a known cost (see the report notes).")
    costs = [m["cost"]["usd_per_1k_answers"] for m in known]
    positive = [c for c in costs if c > 0]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics) + 2.5, 4.2), squeeze=False,
                             layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        for m, cost in zip(known, costs):
            ax.errorbar([cost], [m[metric]], yerr=_errors(m[metric], m[f"{metric}_ci"]), marker="o",
                        capsize=3, color=colors[m["name"]])
            partial = f" (cost of {m['cost']['n_answers'] - m['cost']['n_unknown']} of {m['cost']['n_answers']})" if m["cost"].get("n_unknown") else ""
            ax.annotate(m["name"] + partial, (cost, m[metric]), textcoords="offset points", xytext=(5, 4),
                        fontsize=7)
        if positive and max(positive) / min(positive) > 10:
            if len(positive) < len(costs):  # free runs at 0 need a linear stretch near zero
                ax.set_xscale("symlog", linthresh=10 ** math.floor(math.log10(min(positive))))
            else:
                ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_usd(v)))
        ax.margins(x=0.12)
        ax.set_xlabel("cost per 1,000 answers (USD)")
        ax.set_ylabel(report["metric_labels"].get(metric, metric))
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3, which="both")
    if unknown:
        fig.text(0.01, -0.02, "Not shown, cost unknown: " + ", ".join(unknown), fontsize=8, ha="left", va="top")
    fig.suptitle(_title(report, "against cost"))
    _save(fig, path)
