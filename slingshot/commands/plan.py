"""python -m slingshot plan RECIPE [--gpu A10G-24GB] [--gpus N] [--usd-per-hour X] [--mfu F] [--json] (make plan):
what a recipe needs before a GPU is rented: trainable parameters, peak GPU memory, tokens, hours and dollars,
and whether it fits, with the change that would make it fit (slingshot/plan.py)."""
import argparse
import json

from slingshot.errors import UserError, cli, finite_number, whole_number

MAX_USD_PER_HOUR = 1000  # beyond any GPU-hour on sale: a typo, and a cost with dozens of digits


def fraction(text):
    """An MFU: a share of the GPU's peak, above 0 and at most 1."""
    value = finite_number(0, above=True)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r}: an MFU is a share of the peak, above 0 and at most 1 (e.g. 0.35)")
    if value < 1e-4:
        raise argparse.ArgumentTypeError(f"{text!r}: an MFU below 0.0001 would plan a training of years; "
                                         f"measured ones are 0.1 to 0.6")
    return value


def hourly_price(text):
    value = finite_number(0)(text)
    if value > MAX_USD_PER_HOUR:
        raise argparse.ArgumentTypeError(f"{text!r}: more than ${MAX_USD_PER_HOUR} per GPU-hour")
    return value

HELP = "memory, time and cost of a recipe on a GPU, offline"


@cli
def main(argv=None):
    from slingshot.plan import GPUS, format_plan, gpu_of_recipe, plan
    from slingshot.recipe import RecipeError, load_recipe

    parser = argparse.ArgumentParser(prog="python -m slingshot plan", description=HELP)
    parser.add_argument("recipe", nargs="?")
    parser.add_argument("--gpu", default=None, help="a GPU of the table (default: the recipe's hardware, else A10G-24GB)")
    parser.add_argument("--gpus", type=whole_number(1, 4096), default=1,
                        help="data-parallel GPUs (ZeRO-3 recipes shard the weights)")
    parser.add_argument("--usd-per-hour", type=hourly_price, help="your price per GPU-hour (default: the table's)")
    parser.add_argument("--mfu", type=fraction, help="model FLOPs utilization to assume, by the 4N+adapter count "
                        "(default 0.35, 0.2 on a quantized base, lower with gradient checkpointing)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--list-gpus", action="store_true", help="print the GPU table and exit")
    args = parser.parse_args(argv)
    if args.list_gpus:
        for name, (memory, tflops, price) in GPUS.items():
            print(f"{name:15} {memory:4} GB  {tflops:4} TFLOPS dense bf16  ${price}/h")
        return 0
    if not args.recipe:
        parser.error("the following arguments are required: recipe")
    try:
        recipe = load_recipe(args.recipe)
    except RecipeError as e:
        raise UserError(str(e)) from None
    result = plan(recipe, gpu=gpu_of_recipe(recipe) if args.gpu is None else args.gpu, gpus=args.gpus,
                  usd_per_hour=args.usd_per_hour, mfu=args.mfu)
    print(json.dumps(result) if args.json else format_plan(result))
    return 0
