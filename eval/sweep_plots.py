"""Sweep figures: scores against data size (one line per rank) and against rank (one line per size).

Each seed is its own point with its 95% CI; the line joins the seeds' means; the base model is
the grey band. Numeric x values get a log2 axis; anything else (e.g. "4%") is categorical.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from slingshot.io import atomic_write_bytes  # noqa: E402


def _order(value):
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def _positions(values):
    if all(isinstance(v, (int, float)) and v > 0 for v in values):
        return {v: v for v in values}, True
    ordered = sorted(values, key=str)
    return {v: i for i, v in enumerate(ordered)}, False


def plot_against(report, x_key, line_key, path):
    metrics, labels, base = report["metrics"], report["metric_labels"], report["baseline"]
    cells = report["cells"]
    xs = sorted({c["effective"][x_key] for c in cells}, key=_order)
    position, numeric = _positions(xs)
    lines = sorted({c["effective"][line_key] for c in cells}, key=_order)
    cycle = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics) + 1.5, 4.0), squeeze=False,
                             layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        low, high = base[f"{metric}_ci"]
        ax.axhspan(low, high, color="grey", alpha=0.2)
        ax.axhline(base[metric], color="grey", lw=1, label="base model (band: 95% CI)")
        for k, line in enumerate(lines):
            color = cycle[k % len(cycle)]
            members = [c for c in cells if c["effective"][line_key] == line]
            means = []
            for x in xs:
                at = [c for c in members if c["effective"][x_key] == x]
                if not at:
                    continue
                for j, c in enumerate(at):  # seeds side by side
                    shift = (j - (len(at) - 1) / 2) * (0.04 if numeric else 0.06)
                    px = position[x] * (2 ** shift) if numeric else position[x] + shift
                    ci = c[f"{metric}_ci"]
                    ax.errorbar([px], [c[metric]], yerr=[[c[metric] - ci[0]], [ci[1] - c[metric]]], fmt="o",
                                ms=4, capsize=2, color=color, alpha=0.55)
                means.append((position[x], sum(c[metric] for c in at) / len(at),
                              max(c[metric] for c in at) - min(c[metric] for c in at)))
            if means:
                seeds = max(len([c for c in members if c["effective"][x_key] == x]) for x in xs)
                ax.plot([m[0] for m in means], [m[1] for m in means], "-s", color=color, ms=5,
                        label=f"{line_key}={line}" + (f" (mean of {seeds} seeds)" if seeds > 1 else ""))
        if numeric:
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.minorticks_off()
        else:
            ax.set_xticks(list(position.values()), [str(x) for x in position])
        ax.set_xlabel(x_key)
        ax.set_ylabel(labels.get(metric, metric))
        ax.set_ylim(-3, max(103 if high > 60 else 0, max([c[f"{metric}_ci"][1] for c in cells] + [high]) + 8))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    fig.suptitle(f"{report['recipe']} · {report['split']} · points: one training each, 95% CI")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
