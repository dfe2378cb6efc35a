"""`python -m data_prep RECIPE [--force]`: build the recipe's training, validation and test JSONL and their
manifest (data_prep/prepare.py)."""
import argparse
import sys

from slingshot.errors import cli

HELP = "build a recipe's training, validation and test JSONL"


@cli
def main(argv=None):
    from data_prep.prepare import prepare_recipe
    from slingshot.recipe import data_errors_located, load_recipe

    parser = argparse.ArgumentParser(prog="python -m data_prep", description=HELP)
    parser.add_argument("recipe", help="path to a recipe YAML")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    with data_errors_located(recipe):
        prepare_recipe(recipe, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
