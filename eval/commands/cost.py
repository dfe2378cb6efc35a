"""python -m eval cost [RUN_DIR ...] [--prices FILE]: the price table, or what each finished run cost."""
import argparse

from slingshot.errors import cli

HELP = "the price table, or the cost of each finished run"


@cli
def main(argv=None):
    from eval.backends import cost_for_run
    from eval.cost import PRICES_ENV, load_prices
    from eval.format import fmt_cost
    from eval.store import find_runs

    parser = argparse.ArgumentParser(prog="python -m eval cost", description=HELP)
    parser.add_argument("runs", nargs="*", help="run folders (or folders above them)")
    parser.add_argument("--prices", help=f"extra price YAML (default: ${PRICES_ENV})")
    args = parser.parse_args(argv)
    prices = load_prices(args.prices)
    if not args.runs:
        for model, p in sorted(prices.items()):
            print(f"{model:22s} in ${p['input']:>7.2f}  out ${p['output']:>7.2f} per 1M tokens  (as of {p['as_of']})")
        return 0
    for store in find_runs(args.runs):
        meta = store.read_meta()
        cost = cost_for_run(meta, list(store.load_predictions().values()), prices)
        qps = cost["throughput"]["questions_per_s"]
        speed = f"{qps:.3g} questions/s" if qps else "no timing"
        print(f"{meta.get('label', store.folder.name)}: {fmt_cost(cost)} per 1k answers"
              f" ({cost['basis'] or cost['note']}); {speed}")
    return 0
