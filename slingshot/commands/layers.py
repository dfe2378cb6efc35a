"""python -m slingshot layers [--write]: the floors of the code and their modules, drawn from the imports
(slingshot/architecture.py); --write puts the drawing into docs/layout.md."""
import argparse

from slingshot.errors import UserError, cli

HELP = "draw the code's floors and modules (--write: into docs/layout.md)"
START, END = "<!-- floors: python -m slingshot layers --write -->\n```\n", "\n```\n<!-- /floors -->"


@cli
def main(argv=None):
    from slingshot.architecture import drawing
    from slingshot.io import atomic_write_text
    from slingshot.layout import ROOT

    parser = argparse.ArgumentParser(prog="python -m slingshot layers", description=HELP)
    parser.add_argument("--write", action="store_true", help="replace the drawing in docs/layout.md")
    args = parser.parse_args(argv)
    drawn = drawing()
    if not args.write:
        print(drawn)
        return 0
    page = ROOT / "docs" / "layout.md"
    text = page.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise UserError(f"docs/layout.md: no block between {START.splitlines()[0]} and {END.strip()}")
    head, rest = text.split(START, 1)
    atomic_write_text(page, head + START + drawn + END + rest.split(END, 1)[1])
    print("wrote docs/layout.md")
    return 0
