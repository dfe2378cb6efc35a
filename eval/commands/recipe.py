"""python -m eval recipe RECIPE [--limit N] [--out DIR] [--base-url URL]: a recipe's base and tuned model scored
(here, or through a server that serves both: make serve RECIPE=...), then the report."""
import argparse

from slingshot.errors import UserError, cli, whole_number

HELP = "score a recipe's base and tuned model, then report"


@cli
def main(argv=None):
    from eval.recipe import evaluate_recipe

    parser = argparse.ArgumentParser(prog="python -m eval recipe", description=HELP)
    parser.add_argument("recipe")
    parser.add_argument("--limit", type=whole_number(1))
    parser.add_argument("--out", help="report folder (default reports/<recipe-name>)")
    parser.add_argument("--base-url", help="ask an OpenAI-compatible server serving the base model and the adapter "
                        "by their names (make serve RECIPE=...), e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--concurrency", type=whole_number(1), help="with --base-url: requests in flight (default 8; "
                        "a GPU server answers more at once, e.g. 128)")
    args = parser.parse_args(argv)
    if args.concurrency and not args.base_url:
        raise UserError("--concurrency applies with --base-url only (a local model batches by itself)")
    evaluate_recipe(args.recipe, limit=args.limit, out=args.out, base_url=args.base_url, concurrency=args.concurrency)
    return 0
