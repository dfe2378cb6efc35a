"""python -m slingshot train RECIPE [--gpus N] [--force]: real Axolotl on a recipe; the run folder keeps
the adapter, the whole log, the loss curve and train_summary.json (slingshot.train)."""
import argparse
import os

from slingshot.errors import cli

HELP = "train a recipe with real Axolotl (GPUS=N: data-parallel); resumes only its own checkpoints"


def add_launch_args(parser):
    parser.add_argument("--force", action="store_true", help="train again even if the run is up to date")
    parser.add_argument("--gpus", type=int, help="data-parallel processes on this machine "
                        "(default: $GPUS, else the recipe's slingshot.hardware.gpus, else 1)")
    parser.add_argument("--nodes", type=int, default=int(os.environ.get("NODES", 1)), help="machines ($NODES)")
    parser.add_argument("--node-rank", type=int, default=int(os.environ.get("NODE_RANK", 0)),
                        help="this machine's rank, 0 on the head node ($NODE_RANK)")
    parser.add_argument("--head", default=os.environ.get("HEAD", "127.0.0.1:29500"),
                        help="host:port of node 0, reachable from every node ($HEAD)")


def launch(args):
    """train()'s keyword arguments from the parsed launch options."""
    return dict(force=args.force, gpus=args.gpus, nodes=args.nodes, node_rank=args.node_rank, head=args.head)


@cli
def main(argv=None):
    from slingshot.recipe import load_recipe
    from slingshot.train import train

    parser = argparse.ArgumentParser(prog="python -m slingshot train", description=HELP)
    parser.add_argument("recipe")
    add_launch_args(parser)
    args = parser.parse_args(argv)
    train(load_recipe(args.recipe), **launch(args))
    return 0
