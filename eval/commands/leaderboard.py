"""python -m eval leaderboard SPLIT [--model NAME ...]: the Julia-LLM-Leaderboard's recorded results on a
Julia split, as finished run folders beside the tuned model's (eval/backends/leaderboard.py builds them)."""
import argparse

from slingshot.errors import cli

HELP = "the Julia leaderboard's recorded results on a Julia split, as run folders"


@cli
def main(argv=None):
    from eval.backends.leaderboard import DEFAULT_MODELS, _mean, reference_runs
    from eval.store import RESULTS_DIR
    from slingshot.layout import display_path

    parser = argparse.ArgumentParser(prog="python -m eval leaderboard", description=HELP)
    parser.add_argument("split", help="a Julia split JSONL (data/julia/test/<split>.jsonl)")
    parser.add_argument("--model", action="append", help=f"repeatable; default: {', '.join(DEFAULT_MODELS)}")
    parser.add_argument("--results-dir", default=RESULTS_DIR)
    parser.add_argument("--limit", type=int, help="only the first N prompts, as `eval run --limit`")
    args = parser.parse_args(argv)
    stores = reference_runs(args.split, args.model, args.results_dir, args.limit, quiet=False)
    for store in stores:
        rows = store.load_predictions().values()
        mean = _mean([r["metrics"]["score"] for r in rows])
        print(f"{store.read_meta()['label']}: score {mean:.1f} over {len(rows)} prompts ({display_path(store.folder)})")
    return 0
