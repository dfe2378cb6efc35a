"""python -m eval: score models on held-out splits, compare runs, serve a model.

    python -m eval run --model hf:models/smollm2-135m-instruct [--adapter runs/<run>] --split dev-200
    python -m eval run --model openai:gpt-4o-mini --split dev-200 [--shots 3]  # needs OPENAI_API_KEY
    python -m eval run --model openai:<name> --base-url http://localhost:8000/v1 --split dev-200
    python -m eval run --model openai:<name> --base-url https://host/v1 --api-key-env HOST_KEY --split dev-200
    python -m eval recipe RECIPE             # base and tuned model of a recipe, then the report
    python -m eval sweep RECIPE --sweep "train_size=32,64,128 lora_r=8,32 seed=0,1"   # python -m slingshot.sweep
    python -m eval report RESULT_DIR... [--baseline LABEL]... [--out DIR] [--prices FILE]
    python -m eval serve --model hf:... [--adapter runs/<run>] [--port 8000]
    python -m eval.leaderboard SPLIT         # the leaderboard's recorded results on a Julia split
    python -m eval.squad DATASET PREDICTIONS # the official SQuAD v1.1 evaluation, as a drop-in
"""
import argparse
import sys
from pathlib import Path

from eval.stats import N_BOOT, SEED
from slingshot.errors import UserError, cli, finite_number, whole_number
from slingshot.io import atomic_write_json
from slingshot.layout import DATA_DIR, display_path, test_split_path


price_per_hour = finite_number(0)
POSITIVE, NON_NEGATIVE = whole_number(1), whole_number(0)


def batch_size(text):
    return text if text == "auto" else POSITIVE(text)


def resolve_split(split, task=None):
    """A split name (dev-200, or squad/dev-200) or a path to a split JSONL."""
    path = Path(split)
    if path.suffix == ".jsonl":
        return path
    if "/" in split:
        task, split = split.split("/", 1)
    if task is None:
        candidates = sorted(DATA_DIR.glob(f"*/test/{split}.jsonl"))
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise FileNotFoundError(f"split {split!r} not found under data/*/test/; "
                                    f"run `make prepare` for a recipe that uses it")
        raise UserError(f"split {split!r} exists for several tasks; write <task>/{split}")
    return test_split_path(task, split)


def add_run_args(parser):
    from eval.backends import run_backends, spec_forms

    parser.add_argument("--model", required=True, help=spec_forms(run_backends()))
    parser.add_argument("--adapter", help="a LoRA run folder (runs/<recipe-name>)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1")
    parser.add_argument("--split", required=True, help="split name (dev-200) or path to a split JSONL")
    parser.add_argument("--max-new-tokens", type=POSITIVE, default=None,
                        help="answer length limit in tokens (default: the task's)")
    parser.add_argument("--limit", type=POSITIVE, help="score only the first N examples of the split")
    parser.add_argument("--batch-size", type=batch_size, help="local models: 'auto' (default) or a number")
    parser.add_argument("--concurrency", type=POSITIVE, help="API models: requests in flight (default 8)")
    parser.add_argument("--api-key-env", metavar="NAME",
                        help="API models: the environment variable holding the server's key (default: "
                             "OPENAI_API_KEY for OpenAI, no key elsewhere); the key is never logged or stored")
    parser.add_argument("--timeout", type=finite_number(0, above=True), default=None,
                        help="API models: seconds per request attempt (default 60 for OpenAI, "
                             "120 for other servers)")
    parser.add_argument("--max-retries", type=NON_NEGATIVE, default=None,
                        help="API models: retries of a failed request before the run stops (default 4)")
    parser.add_argument("--wait", action="store_true",
                        help="if another process is scoring the same run, wait for it instead of refusing")
    parser.add_argument("--shots", type=NON_NEGATIVE, default=0,
                        help="worked training examples before each question (the task's, the same for every model)")
    parser.add_argument("--label", help="the name shown in reports")
    parser.add_argument("--results-dir", default=None, help="default: results/ (or $SLINGSHOT_RESULTS_DIR)")
    parser.add_argument("--hardware", help="what ran it, for the report (e.g. '1x A10G')")
    parser.add_argument("--usd-per-hour", type=price_per_hour, help="local models: price of the machine, for cost")
    parser.add_argument("--record", metavar="FILE",
                        help="when done, write the run's folder and scoring wall time to FILE as JSON (for drivers)")


BACKEND_OPTIONS = ("adapter", "base_url", "batch_size", "concurrency", "api_key_env", "timeout", "max_retries")


def cmd_run(args):
    from eval.backends import check_options, make_backend
    from eval.run import evaluate, split_task
    from eval.store import RESULTS_DIR
    from slingshot.tasks import get_task

    options = {name: getattr(args, name) for name in BACKEND_OPTIONS}
    # a wrong spec, or an option its backend does not take, is named before the split is looked up
    check_options(args.model, [name for name, value in options.items() if value is not None])
    split_path = resolve_split(args.split)
    task = get_task(split_task(split_path)[0])
    backend = make_backend(args.model, **options)
    max_new_tokens = args.max_new_tokens if args.max_new_tokens is not None else task.EVAL_DEFAULTS["max_new_tokens"]
    store = evaluate(backend, split_path, max_new_tokens, results_dir=args.results_dir or RESULTS_DIR,
                     label=args.label, limit=args.limit, hardware=args.hardware, usd_per_hour=args.usd_per_hour,
                     wait=args.wait, shots=args.shots)
    if args.record:
        atomic_write_json(Path(args.record), {"store": display_path(store.folder),
                                              "wall_s": store.read_meta().get("wall_s")})
    return 0


def cmd_recipe(args):
    from eval.recipe import evaluate_recipe

    evaluate_recipe(args.recipe, limit=args.limit, out=args.out)
    return 0


def cmd_report(args):
    from eval.report import build_report, load_runs
    from eval.store import RESULTS_DIR, RunStore, slug

    runs = load_runs(args.runs)  # fail early, before any output exists
    out = Path(args.out) if args.out else RESULTS_DIR / slug(runs[0].meta["split"]) / "report"
    report = build_report([RunStore(r.folder) for r in runs], out, baseline=args.baseline,
                          prices=args.prices, n_boot=args.n_boot, seed=args.seed)
    print(f"wrote {out / 'report.md'} ({len(report['models'])} models)")
    for model in report["models"]:
        print(f"{model['name']}: {model['verified']}")
    print(report["reading"])


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="score one model on one split (resumable)")
    add_run_args(run)
    run.set_defaults(handler=cmd_run)
    recipe = commands.add_parser("recipe", help="score a recipe's base and tuned model, then report")
    recipe.add_argument("recipe")
    recipe.add_argument("--limit", type=POSITIVE)
    recipe.add_argument("--out", help="report folder (default reports/<recipe-name>)")
    recipe.set_defaults(handler=cmd_recipe)
    from slingshot import sweep as sweep_cli  # the driver lives with train and export; this forwards to it
    sweep = commands.add_parser("sweep", help="train and score a grid of variants of a recipe, then report")
    sweep_cli.add_arguments(sweep)
    sweep.set_defaults(handler=sweep_cli.cmd_sweep)
    report = commands.add_parser("report", help="compare finished runs: table, CIs, plots")
    report.add_argument("runs", nargs="+", help="result folders (a run or any folder above runs)")
    report.add_argument("--baseline", action="append",
                        help="label of a baseline row; repeat it for several (the strongest is the headline)")
    report.add_argument("--out", help="report folder (default: results/<split>/report)")
    report.add_argument("--prices", help="extra price YAML (default: $SLINGSHOT_PRICES)")
    report.add_argument("--n-boot", type=POSITIVE, default=N_BOOT, help="bootstrap resamples (>= 1)")
    report.add_argument("--seed", type=NON_NEGATIVE, default=SEED, help="bootstrap seed")
    report.set_defaults(handler=cmd_report)
    from eval import serve as serve_cli  # stdlib only: cheap to import
    serve = commands.add_parser("serve", help="an OpenAI-compatible server over a local model")
    serve_cli.add_arguments(serve)
    serve.set_defaults(handler=serve_cli.serve)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
