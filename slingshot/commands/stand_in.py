"""python -m slingshot stand-in BASE_MODEL [--shape tiny|full]: a hub model's architecture and special tokens
with random weights, built locally for memory, speed and pipeline checks (slingshot/stand_in.py)."""
import argparse
import json

from slingshot.errors import cli

HELP = "build a random-weight stand-in of a hub model's architecture, offline"


@cli
def main(argv=None):
    from slingshot.layout import display_path
    from slingshot.stand_in import STAMP, build_stand_in

    parser = argparse.ArgumentParser(prog="python -m slingshot stand-in", description=HELP)
    parser.add_argument("base_model", help="a hub id whose config.json is carried in slingshot/model_configs/")
    parser.add_argument("--shape", default="tiny", choices=("tiny", "full"))
    args = parser.parse_args(argv)
    folder = build_stand_in(args.base_model, args.shape)
    print(f"{display_path(folder)}: {json.loads((folder / STAMP).read_text())['parameters']:,} parameters")
    return 0
