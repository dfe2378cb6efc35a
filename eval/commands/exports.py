"""python -m eval exports RECIPE [--limit N] [--max-drop P]: a recipe's GGUF exports scored as rows of its
report (eval/exports.py), failing on a drop larger than --max-drop against the merged model."""
import argparse

from slingshot.errors import cli

HELP = "score a recipe's exports beside its base and tuned rows"


@cli
def main(argv=None):
    from eval.exports import check_drops, compare_to_merged, drop_message, score_exports
    from eval.recipe import evaluate_recipe
    from slingshot.recipe import load_recipe

    parser = argparse.ArgumentParser(prog="python -m eval exports", description=HELP)
    parser.add_argument("recipe")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--max-drop", type=float, default=3.0,
                        help="fail if an export loses more EM points than this against the merged model")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    merged, stores = score_exports(recipe, limit=args.limit, threads=args.threads)
    tests = compare_to_merged(merged, stores)
    for quant, test in tests.items():
        print(drop_message(quant, test))
    evaluate_recipe(args.recipe, limit=args.limit)  # the report now holds the export rows beside base and tuned
    check_drops(tests, args.max_drop)
    return 0
