"""python -m slingshot plan RECIPE [--gpu A10G-24GB] [--gpus N] [--usd-per-hour X] [--mfu F] [--json]
   python -m slingshot doctor RECIPE     # can this machine run it? (GPU, driver, memory, disk, hub)
   python -m slingshot lock [--check] [NAME ...]   # make (or check) requirements/locks/ with uv
   python -m slingshot which-lock        # the lock this machine's driver runs (no venv needed)

What a recipe needs before a GPU is rented: trainable parameters, peak GPU memory, tokens,
hours and dollars, and whether it fits (with the change that would make it fit).
"""
import argparse
import json

from slingshot.errors import UserError, cli


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m slingshot", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="memory, time and cost of a recipe on a GPU, offline")
    plan.add_argument("recipe")
    plan.add_argument("--gpu", default=None, help="a GPU of the table (default: the recipe's hardware, else A10G-24GB)")
    plan.add_argument("--gpus", type=int, default=1, help="data-parallel GPUs (ZeRO-3 recipes shard the weights)")
    plan.add_argument("--usd-per-hour", type=float, help="your price per GPU-hour (default: the table's)")
    plan.add_argument("--mfu", type=float, help="model FLOPs utilization to assume, by the 4N+adapter count (default 0.35, 0.2 on a quantized base, lower with gradient checkpointing)")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument("--list-gpus", action="store_true", help="print the GPU table and exit")
    doctor = commands.add_parser("doctor", help="can this machine run the recipe? before anything is paid for")
    doctor.add_argument("recipe")
    lock = commands.add_parser("lock", help="regenerate requirements/locks/ from requirements/*.in (needs uv)")
    lock.add_argument("names", nargs="*", help="locks to make (default: all)")
    lock.add_argument("--check", action="store_true", help="compare the committed locks with the resolver's output")
    lock.add_argument("--uv", default="uv", help="the uv executable")
    lock.add_argument("--torch-wheels", help="where torch's CPU build is found (a find-links folder or URL)")
    commands.add_parser("which-lock", help="print the lock for this machine's NVIDIA driver (cpu without one)")
    args, rest = parser.parse_known_args(argv)
    if args.command in ("lock", "which-lock"):
        from slingshot.lock_command import lock_main, which_lock_main
        return which_lock_main() if args.command == "which-lock" else lock_main(parser.parse_args(argv))
    if args.command == "doctor":
        from slingshot.doctor import main as doctor_main
        return doctor_main([args.recipe, *rest])
    args = parser.parse_args(argv)
    from slingshot.plan import GPUS, format_plan, gpu_of_recipe, plan as make_plan
    from slingshot.recipe import RecipeError, load_recipe

    if args.list_gpus:
        for name, (memory, tflops, price) in GPUS.items():
            print(f"{name:15} {memory:4} GB  {tflops:4} TFLOPS dense bf16  ${price}/h")
        return 0
    try:
        recipe = load_recipe(args.recipe)
    except RecipeError as e:
        raise UserError(str(e)) from None
    result = make_plan(recipe, gpu=args.gpu or gpu_of_recipe(recipe), gpus=args.gpus,
                       usd_per_hour=args.usd_per_hour, mfu=args.mfu)
    print(json.dumps(result) if args.json else format_plan(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
