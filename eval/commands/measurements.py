"""python -m eval measurements [--check] [--publish RECIPE] (make measurements): each recipe folder's
README table and the figures README.md and docs/ quote, generated from published runs (eval/measurements.py,
eval/figures.py)."""
import argparse
import sys

from slingshot.errors import cli

HELP = "write (or --check) the recipe tables and the figures the pages quote"


@cli
def main(argv=None):
    from eval.figures import stale_pages
    from eval.measurements import publish, recipe_folders, render_folder
    from slingshot.io import atomic_write_text
    from slingshot.layout import display_path

    parser = argparse.ArgumentParser(prog="python -m eval measurements", description=HELP)
    parser.add_argument("--check", action="store_true", help="fail if a README or page is not what the runs say")
    parser.add_argument("--publish", metavar="RECIPE", help="copy this recipe's finished run into docs/reports first")
    args = parser.parse_args(argv)
    if args.publish:
        publish(args.publish)
    stale = []
    for folder in recipe_folders():
        text, readme = render_folder(folder), folder / "README.md"
        if args.check:
            if not readme.exists() or readme.read_text(encoding="utf-8") != text:
                stale.append(display_path(readme))
        else:
            atomic_write_text(readme, text)
            print(f"wrote {display_path(readme)}")
    pages = stale_pages(write=not args.check)
    if args.check:
        stale += pages
    else:
        print("".join(f"wrote {page}\n" for page in pages), end="")
    if stale:
        print("out of date (run `make measurements`; never edit generated figures by hand): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0
