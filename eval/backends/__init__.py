"""Model backends: one class per kind of model, each in its own module, registered by its spec prefix.

    hf:<folder or hub id>     local.py        a local transformers model (+ --adapter for a LoRA run folder)
    openai:<model name>       openai_api.py   OpenAI's API, or any OpenAI-compatible server with --base-url
    gguf:<file>               llamacpp.py     a GGUF file served by llama.cpp (python -m eval exports)
    leaderboard:<model>       leaderboard.py  the Julia leaderboard's recorded answers (no model is called)

A backend class says everything the rest of eval needs to know about it: PREFIX (its spec prefix),
NAME (meta.json's "backend"), SPEC (what follows the prefix), OPTIONS (which `eval run` options apply
to it, and the constructor keyword each becomes), SERVABLE (`eval serve` can serve it), and
cost(meta, predictions, prices) (what a run cost: wall time x usd_per_hour unless the class prices
otherwise), and what the report shows of its rows beyond the common columns (report_fields,
report_lines). Adding a backend is one module here and one line in MODULES; nothing else branches on it.
"""
import importlib

from eval.backends.base import BACKENDS, Backend, Generation, register  # noqa: F401  (the backends' names)
from slingshot.errors import UserError

MODULES = ("local", "openai_api", "llamacpp", "leaderboard")  # imported on first use, in this order
def registry():
    if len(BACKENDS) < len(MODULES):
        for name in MODULES:
            importlib.import_module(f"eval.backends.{name}")
    return BACKENDS


def spec_forms(backends=None):
    """'hf:<folder or hub id> or openai:<model name>': the specs a command takes."""
    return " or ".join(f"{b.PREFIX}:{b.SPEC}" for b in (backends or registry().values()))


def run_backends():
    return [b for b in registry().values() if b.BUILT_BY_RUN]


def parse_model_spec(spec, backends=None):
    """(backend class, name) of a model spec such as hf:models/smollm2-135m-instruct."""
    backends = backends or run_backends()
    kind, sep, name = spec.partition(":")
    found = next((b for b in backends if b.PREFIX == kind), None)
    if not sep or found is None or not name:
        raise UserError(f"unknown model spec {spec!r}: use {spec_forms(backends)}")
    return found, name


def backend_for_meta(meta):
    """The class of the backend that wrote a run's meta.json (the base class when it names none known)."""
    return next((b for b in registry().values() if b.NAME == meta.get("backend")), Backend)


def check_options(spec, given):
    """Refuse `eval run` options that do not apply to the spec's backend; `given` holds the ones set."""
    cls, _ = parse_model_spec(spec)
    for option in given:
        if option not in cls.OPTIONS:
            takers = [b.PREFIX + ":" for b in run_backends() if option in b.OPTIONS]
            flag = "--" + option.replace("_", "-")
            raise UserError(f"{flag} applies to {' and '.join(takers) or 'no'} models only, "
                            f"not to {cls.PREFIX}: models")
    return cls


def make_backend(spec, **options):
    """The backend of a spec, built with the options that apply to it (None: its default)."""
    cls, name = parse_model_spec(spec)
    check_options(spec, [k for k, v in options.items() if v is not None])
    return cls(name, **{cls.OPTIONS[k]: v for k, v in options.items() if v is not None})


def cost_for_run(meta, predictions, prices):
    """What a run cost, priced as the backend that wrote its meta.json prices."""
    return backend_for_meta(meta).cost(meta, predictions, prices)
