"""Model backends. A model spec names one:

    hf:<folder or hub id>          local transformers model (+ --adapter for a LoRA run folder)
    openai:<model name>            OpenAI's API, or any OpenAI-compatible server with --base-url
"""
from dataclasses import dataclass

from slingshot.errors import UserError


@dataclass
class Generation:
    """One model answer, with what it cost to produce (tokens None: the server did not say)."""
    text: str
    tokens_in: int | None
    tokens_out: int | None
    latency_s: float


def parse_model_spec(spec):
    kind, sep, name = spec.partition(":")
    if not sep or kind not in ("hf", "openai") or not name:
        raise UserError(
            f"unknown model spec {spec!r}: use hf:<folder or hub id> or openai:<model name>")
    return kind, name


def make_backend(spec, adapter=None, base_url=None, **options):
    kind, name = parse_model_spec(spec)
    if kind == "hf":
        from eval.backends.local import LocalBackend
        return LocalBackend(name, adapter=adapter, **options)
    if adapter:
        raise UserError("--adapter applies to hf: models only")
    from eval.backends.openai_api import OpenAIBackend
    return OpenAIBackend(name, base_url=base_url, **options)
