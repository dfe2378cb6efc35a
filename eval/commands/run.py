"""python -m eval run --model SPEC --split SPLIT [...]: score one model on one split (resumable)."""
import argparse
from pathlib import Path

from slingshot.errors import cli, finite_number, whole_number

HELP = "score one model on one split (resumable)"
POSITIVE, NON_NEGATIVE = whole_number(1), whole_number(0)
BACKEND_OPTIONS = ("adapter", "base_url", "batch_size", "concurrency", "api_key_env", "timeout", "max_retries",
                   "batch", "finish", "poll_interval")


def batch_size(text):
    return text if text == "auto" else POSITIVE(text)


def add_arguments(parser):
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
    parser.add_argument("--batch", action="store_const", const=True, default=None,
                        help="API models: ask through the Batch API (half price on OpenAI, answers within 24 h); "
                             "the same command resumes the recorded batch")
    parser.add_argument("--finish", choices=("live", "batch"),
                        help="with --batch: ask the questions a failed, expired, cancelled or partly failed batch "
                             "left without an answer live (list price) or in a new batch")
    parser.add_argument("--poll-interval", type=finite_number(0, above=True), default=None, metavar="SECONDS",
                        help="with --batch: seconds between status checks of the batch (default 30)")
    parser.add_argument("--wait", action="store_true",
                        help="if another process is scoring the same run, wait for it instead of refusing")
    parser.add_argument("--shots", type=NON_NEGATIVE, default=0,
                        help="worked training examples before each question (the task's, the same for every model)")
    parser.add_argument("--label", help="the name shown in reports")
    parser.add_argument("--results-dir", default=None, help="default: results/ (or $SLINGSHOT_RESULTS_DIR)")
    parser.add_argument("--hardware", help="what ran it, for the report (e.g. '1x A10G')")
    parser.add_argument("--usd-per-hour", type=finite_number(0),
                        help="local models: price of the machine, for cost")
    parser.add_argument("--record", metavar="FILE",
                        help="when done, write the run's folder and scoring wall time to FILE as JSON (for drivers)")


@cli
def main(argv=None):
    from eval.backends import check_options, make_backend
    from eval.run import evaluate, split_task
    from eval.splits import resolve_split
    from eval.store import RESULTS_DIR
    from slingshot.io import atomic_write_json
    from slingshot.layout import display_path
    from slingshot.tasks import get_task

    parser = argparse.ArgumentParser(prog="python -m eval run", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
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
