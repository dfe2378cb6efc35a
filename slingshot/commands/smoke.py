"""python -m slingshot smoke RECIPE: one CPU step of a GPU recipe on a small random-initialized
stand-in of its base model, with only what needs a GPU changed (slingshot.smoke says what and why)."""
import argparse

from slingshot.errors import cli

HELP = "one CPU training step of a GPU recipe on a small stand-in of its base model"


def prepare_data(recipe):
    """data_prep's preparation of a (smoke) recipe, its data errors named by the recipe's file and line."""
    try:
        from data_prep.prepare import prepare_recipe
    except ImportError:  # until data_prep's library module exists
        from data_prep.__main__ import prepare_recipe
    from slingshot.recipe import data_errors_located

    with data_errors_located(recipe):
        return prepare_recipe(recipe)


@cli
def main(argv=None):
    from slingshot.commands.train import add_launch_args, launch
    from slingshot.recipe import load_recipe
    from slingshot.smoke import prepare_smoke
    from slingshot.smoke_report import smoke_changes, smoke_lines
    from slingshot.train import train

    parser = argparse.ArgumentParser(prog="python -m slingshot smoke", description=HELP)
    parser.add_argument("recipe", help="a GPU recipe (recipes/<task>/<model>/<method>.yml)")
    add_launch_args(parser)
    args = parser.parse_args(argv)
    shipped = load_recipe(args.recipe)
    smoke = prepare_smoke(shipped, prepare_data)
    summary = train(smoke, record={"smoke_overrides": smoke_changes(shipped, smoke)}, **launch(args))
    print(smoke_lines(shipped, summary))
    return 0
