"""python -m slingshot doctor RECIPE (make doctor): can this machine run the recipe? GPU, driver, memory, disk,
hub, packages, compiled extensions and export room, checked before anything is paid for (slingshot/doctor.py)."""
import argparse

from slingshot.errors import UserError, cli

HELP = "can this machine run the recipe? before anything is paid for"


@cli
def main(argv=None):
    from slingshot.doctor import run_checks
    from slingshot.recipe import RecipeError, load_recipe

    parser = argparse.ArgumentParser(prog="python -m slingshot doctor", description=HELP)
    parser.add_argument("recipe")
    args = parser.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe)
    except RecipeError as e:
        raise UserError(str(e)) from None
    results = run_checks(recipe)
    for name, verdict, detail in results:
        print(f"{verdict:5} {name:11} {detail}")
    failed = [name for name, verdict, _ in results if verdict == "FAIL"]
    print(f"\n{'not ready: fix ' + ', '.join(failed) if failed else 'ready'} for {args.recipe}")
    return 1 if failed else 0
