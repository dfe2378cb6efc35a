"""python -m eval report RESULT_DIR... [--baseline LABEL]... [--out DIR]: compare finished runs."""
import argparse
from pathlib import Path

from slingshot.errors import cli, whole_number

HELP = "compare finished runs: table, CIs, plots"


@cli
def main(argv=None):
    from eval.format import one_line
    from eval.report import build_report, load_runs
    from eval.stats import N_BOOT, SEED
    from eval.store import RESULTS_DIR, RunStore, slug

    parser = argparse.ArgumentParser(prog="python -m eval report", description=HELP)
    parser.add_argument("runs", nargs="+", help="result folders (a run or any folder above runs)")
    parser.add_argument("--baseline", action="append",
                        help="label of a baseline row; repeat it for several (the strongest is the headline)")
    parser.add_argument("--out", help="report folder (default: results/<split>/report)")
    parser.add_argument("--prices", help="extra price YAML (default: $SLINGSHOT_PRICES)")
    parser.add_argument("--n-boot", type=whole_number(1), default=N_BOOT, help="bootstrap resamples (>= 1)")
    parser.add_argument("--seed", type=whole_number(0), default=SEED, help="bootstrap seed")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)  # fail early, before any output exists
    out = Path(args.out) if args.out else RESULTS_DIR / slug(runs[0].meta["split"]) / "report"
    report = build_report([RunStore(r.folder) for r in runs], out, baseline=args.baseline,
                          prices=args.prices, n_boot=args.n_boot, seed=args.seed)
    print(f"wrote {out / 'report.md'} ({len(report['models'])} models)")
    for model in report["models"]:
        print(f"{one_line(model['name'])}: {model['verified']}")
    print(report["reading"])
    return 0
