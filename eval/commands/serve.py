"""python -m eval serve --model hf:... [--adapter runs/<run> | --adapter name=runs/<run> ...] [--port 8000]: an
OpenAI-compatible server over a local model (eval/serve.py). `--recipe R` or `--sweep R` (make serve) serves every
adapter of a recipe or of its sweep's trained cells: vLLM (.venv-vllm) where nvidia-smi finds a GPU, this server
otherwise (eval/serving.py builds both command lines)."""
import argparse
import os
import shlex

from eval.serve import ChatServer, default_served_name
from slingshot.errors import UserError, cli, finite_number, whole_number

HELP = "an OpenAI-compatible server over a local model (and many LoRA adapters)"


def add_arguments(parser):
    from eval.backends import registry, spec_forms
    parser.add_argument("--model", help=spec_forms([b for b in registry().values() if b.SERVABLE]) + " to serve")
    parser.add_argument("--adapter", action="append", help="a LoRA run folder to serve on top of --model; "
                        "name=runs/<run>, repeated: several adapters, each request picks one by its name")
    parser.add_argument("--recipe", help="serve this recipe's base model and tuned adapter (make serve RECIPE=)")
    parser.add_argument("--sweep", help="serve this recipe's base model and every trained cell of its sweep "
                        "(make serve SWEEP=)")
    parser.add_argument("--grid", help="with --sweep: the grid the sweep ran, if not its slingshot.sweep block")
    parser.add_argument("--gpu", choices=("auto", "yes", "no"), default="auto",
                        help="with --recipe/--sweep: vLLM on the GPU (yes), this server (no), or as nvidia-smi says")
    parser.add_argument("--print-command", action="store_true", help="with --recipe/--sweep: print the command only")
    parser.add_argument("--served-name", help="the model name clients send "
                        "(default: the model folder's name, +<run> with an adapter)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=whole_number(0, 65535), default=8000, help="0 picks a free port")
    parser.add_argument("--max-batch", type=whole_number(1), default=8, help="requests per generate call")
    parser.add_argument("--batch-wait-ms", type=finite_number(0), default=10.0,
                        help="how long to gather concurrent requests into one batch")
    parser.add_argument("--default-max-tokens", type=whole_number(1), default=256)
    parser.add_argument("--max-tokens-limit", type=whole_number(1), default=2048)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")


def serve(args):
    from eval.backends import make_backend, parse_model_spec, registry, spec_forms
    from eval.serving import parse_adapter_args

    servable = [b for b in registry().values() if b.SERVABLE]
    if not args.model:
        raise UserError("eval serve: --model is required (or --recipe / --sweep)")
    if args.model.partition(":")[0] not in [b.PREFIX for b in servable]:
        raise UserError(f"eval serve: --model {args.model!r}: only {spec_forms(servable)} models can be served")
    adapter, adapters = parse_adapter_args(args.adapter)
    models = None
    if adapters:
        if args.served_name:
            raise UserError("eval serve: --served-name names one model; named adapters are served by their names")
        cls, name = parse_model_spec(args.model)
        if not hasattr(cls, "select_adapter"):
            raise UserError(f"eval serve: {cls.PREFIX}: models cannot serve named adapters")
        backend = cls(name, adapters=adapters)
        served_name = default_served_name(args.model)
        models = {served_name: None, **{name: name for name in adapters}}
        if len(models) != len(adapters) + 1:
            raise UserError(f"eval serve: an adapter may not be named {served_name!r}, the base model's name")
    else:
        backend = make_backend(args.model, adapter=adapter)
        served_name = args.served_name or default_served_name(args.model, adapter)
    server = ChatServer((args.host, args.port), backend, served_name, max_batch=args.max_batch,
                        batch_wait_s=args.batch_wait_ms / 1000,
                        default_max_tokens=args.default_max_tokens,
                        max_tokens_limit=args.max_tokens_limit, quiet=args.quiet, models=models)
    print(f"serving {', '.join(server.models)} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def serve_recipe(args):
    """--recipe / --sweep: vLLM where there is a GPU (exec'd from .venv-vllm), else this server in-process."""
    from eval import serving
    from slingshot.layout import ROOT
    from slingshot.recipe import load_recipe

    if args.model or args.adapter:
        raise UserError("eval serve: --recipe/--sweep choose the model and adapters; drop --model/--adapter")
    recipe = load_recipe(args.recipe or args.sweep)
    adapters = serving.recipe_adapters(recipe) if args.recipe else serving.sweep_adapters(recipe, args.grid)
    base = recipe.config["base_model"]
    gpu = args.gpu == "yes" or (args.gpu == "auto" and serving.has_gpu())
    if gpu:
        argv = serving.vllm_command(base, adapters, args.host, args.port)
        print(shlex.join(argv), flush=True)
        if args.print_command:
            return 0
        if not (ROOT / argv[0]).exists():
            raise UserError(f"{argv[0]} is missing: `make vllm` installs vLLM's own venv (requirements/locks/vllm.txt)")
        os.chdir(ROOT)  # the paths in argv are the repository's, relative to it (serving.path_arg)
        os.execv(ROOT / argv[0], argv)
    argv = serving.eval_serve_arguments(base, adapters, args.host, args.port)
    print(f"python -m eval serve {shlex.join(argv)}", flush=True)  # the same server, run here in this process
    if args.print_command:
        return 0
    args.model, args.adapter = argv[1], [argv[i + 1] for i, a in enumerate(argv) if a == "--adapter"]
    return serve(args)


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m eval serve", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.recipe and args.sweep:
        raise UserError("eval serve: --recipe or --sweep, not both")
    return serve_recipe(args) if args.recipe or args.sweep else serve(args)
