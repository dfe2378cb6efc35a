"""python -m eval serve --model hf:... [--adapter runs/<run>] [--port 8000]: an OpenAI-compatible server
over a local model (eval/serve.py)."""
import argparse

from eval.serve import ChatServer, default_served_name
from slingshot.errors import UserError, cli, finite_number, whole_number

HELP = "an OpenAI-compatible server over a local model"


def add_arguments(parser):
    from eval.backends import registry, spec_forms
    parser.add_argument("--model", required=True,
                        help=spec_forms([b for b in registry().values() if b.SERVABLE]) + " to serve")
    parser.add_argument("--adapter", help="a LoRA run folder to serve on top of --model")
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
    from eval.backends import make_backend, registry, spec_forms

    servable = [b for b in registry().values() if b.SERVABLE]
    if args.model.partition(":")[0] not in [b.PREFIX for b in servable]:
        raise UserError(f"eval serve: --model {args.model!r}: only {spec_forms(servable)} models can be served")
    backend = make_backend(args.model, adapter=args.adapter)
    served_name = args.served_name or default_served_name(args.model, args.adapter)
    server = ChatServer((args.host, args.port), backend, served_name, max_batch=args.max_batch,
                        batch_wait_s=args.batch_wait_ms / 1000,
                        default_max_tokens=args.default_max_tokens,
                        max_tokens_limit=args.max_tokens_limit, quiet=args.quiet)
    print(f"serving {served_name} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m eval serve", description=HELP)
    add_arguments(parser)
    return serve(parser.parse_args(argv))
