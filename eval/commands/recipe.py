"""python -m eval recipe RECIPE [--limit N] [--out DIR]: a recipe's base and tuned model scored, then the report."""
import argparse

from slingshot.errors import cli, whole_number

HELP = "score a recipe's base and tuned model, then report"


@cli
def main(argv=None):
    from eval.recipe import evaluate_recipe

    parser = argparse.ArgumentParser(prog="python -m eval recipe", description=HELP)
    parser.add_argument("recipe")
    parser.add_argument("--limit", type=whole_number(1))
    parser.add_argument("--out", help="report folder (default reports/<recipe-name>)")
    args = parser.parse_args(argv)
    evaluate_recipe(args.recipe, limit=args.limit, out=args.out)
    return 0
