"""Cost per 1,000 answers, and the throughput it was computed from.

API models:   tokens_in * input price + tokens_out * output price (eval/prices.yaml).
Local models: measured generation wall seconds * usd_per_hour / 3600.
Leaderboard records: the cost the leaderboard stored with each answer (its prices of the day).
A model with no known price stays unknown (None, with a note): a cost is never guessed.

    python -m eval.cost [RUN_DIR ...] [--prices FILE]
prints the price table, or the cost of each finished run under RUN_DIR.
"""
import datetime
import math
import os
import re
import sys
from pathlib import Path

import yaml

from slingshot.errors import UserError, cli

DEFAULT_PRICES = Path(__file__).with_name("prices.yaml")
PRICES_ENV = "SLINGSHOT_PRICES"
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


def _read_price_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise UserError(f"{path}: cannot read price file ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({e})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        raise UserError(f"{path}: expected a mapping with key 'models' (model -> {{input, output}})")
    table = {}
    for model, entry in doc["models"].items():
        where = f"{path}: key models.{model}"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: expected {{input: USD per 1M tokens, output: USD per 1M tokens}}")
        for side in ("input", "output"):
            value = entry.get(side)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UserError(f"{where}.{side}: need a non-negative number (USD per million tokens), got {value!r}")
        as_of = entry.get("as_of", doc.get("as_of"))
        if as_of is None:
            raise UserError(f"{where}: no 'as_of' date (give one per model or at the top of the file)")
        if isinstance(as_of, datetime.date):
            as_of = as_of.isoformat()
        table[str(model)] = {
            "input": float(entry["input"]), "output": float(entry["output"]), "as_of": str(as_of),
            "source": str(entry.get("source", doc.get("source", path))),
            **({"note": str(entry["note"])} if "note" in entry else {}),
        }
    return table


def load_prices(extra=None):
    """The price table: eval/prices.yaml, overridden and extended by `extra` or $SLINGSHOT_PRICES."""
    table = _read_price_file(DEFAULT_PRICES)
    extra = extra or os.environ.get(PRICES_ENV)
    if extra:
        table.update(_read_price_file(extra))
    return table


def api_model_name(model):
    """'openai:gpt-4o-mini' -> 'gpt-4o-mini'."""
    return model.split(":", 1)[1] if ":" in model else model


def find_price(model, prices):
    """The price entry of `model`, or of its base name when it is a dated snapshot."""
    name = api_model_name(model)
    if name in prices:
        return name, prices[name]
    base = _SNAPSHOT_SUFFIX.sub("", name)
    if base != name and base in prices:
        return base, prices[base]
    return None, None


def usage_of(meta, predictions):
    """Answers, tokens and generation wall time of a run, as run_cost takes them.

    Token counts come from meta usage (what was billed, retries included) when present,
    else from the prediction rows; wall time from meta wall_s, else summed latencies."""
    usage = meta.get("usage") or {}
    tokens_in, tokens_out = usage.get("tokens_in"), usage.get("tokens_out")
    if tokens_in is None and predictions and all(r.get("tokens_in") is not None for r in predictions):
        tokens_in = sum(r["tokens_in"] for r in predictions)
    if tokens_out is None and predictions and all(r.get("tokens_out") is not None for r in predictions):
        tokens_out = sum(r["tokens_out"] for r in predictions)
    wall_s = meta.get("wall_s")
    if wall_s is None and predictions and all(r.get("latency_s") is not None for r in predictions):
        wall_s = sum(r["latency_s"] for r in predictions)
    return {"n_answers": len(predictions), "tokens_in": tokens_in, "tokens_out": tokens_out, "wall_s": wall_s}


def empty_cost(n_answers, tokens_in, tokens_out, wall_s):
    rate = (lambda x: x / wall_s if wall_s and x is not None else None)
    return {
        "n_answers": n_answers, "tokens_in": tokens_in, "tokens_out": tokens_out, "wall_s": wall_s,
        "throughput": {"questions_per_s": rate(n_answers), "prompt_tokens_per_s": rate(tokens_in),
                       "generated_tokens_per_s": rate(tokens_out)},
        "usd_total": None, "usd_per_1k_answers": None, "basis": None, "price": None, "note": None,
    }


def run_cost(*, n_answers, tokens_in, tokens_out, wall_s, usd_per_hour, token_price=None, unpriced_note=None,
             model=None):
    """Cost of one run and the throughput behind it (all rates per generation wall second).

    token_price: (priced name, price entry) for a backend billed per token; unpriced_note: why such
    a backend has no price, when neither a token price nor usd_per_hour is known."""
    out = empty_cost(n_answers, tokens_in, tokens_out, wall_s)
    if token_price is not None:
        if tokens_in is None or tokens_out is None:
            out["note"] = f"no token usage recorded for {model}"
            return out
        price = token_price[1]
        out["usd_total"] = (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6
        out["basis"] = "api tokens"
        out["price"] = {"model": token_price[0], **price}
    elif usd_per_hour is not None:
        if not wall_s:
            out["note"] = "no generation wall time recorded"
            return out
        out["usd_total"] = wall_s * usd_per_hour / 3600
        out["basis"] = "wall time"
        out["price"] = {"usd_per_hour": usd_per_hour}
    else:
        out["note"] = unpriced_note or "no usd_per_hour given for this hardware"
        return out
    if n_answers:
        out["usd_per_1k_answers"] = out["usd_total"] / n_answers * 1000
    return out


def cost_for_run(meta, predictions, prices):
    """What a run cost, priced as the backend that wrote its meta.json prices (eval.backends)."""
    from eval.backends import backend_for_meta
    return backend_for_meta(meta).cost(meta, predictions, prices)


@cli
def main(argv=None):
    import argparse
    from eval.format import fmt_usd
    from eval.store import find_runs
    parser = argparse.ArgumentParser(prog="python -m eval.cost", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", help="run folders (or folders above them)")
    parser.add_argument("--prices", help=f"extra price YAML (default: ${PRICES_ENV})")
    args = parser.parse_args(argv)
    prices = load_prices(args.prices)
    stores = find_runs(args.runs)
    if not args.runs:
        for model, p in sorted(prices.items()):
            print(f"{model:22s} in ${p['input']:>7.2f}  out ${p['output']:>7.2f} per 1M tokens  (as of {p['as_of']})")
        return 0
    for store in stores:
        meta = store.read_meta()
        cost = cost_for_run(meta, list(store.load_predictions().values()), prices)
        qps = cost["throughput"]["questions_per_s"]
        speed = f"{qps:.3g} questions/s" if qps else "no timing"
        print(f"{meta.get('label', store.folder.name)}: {fmt_usd(cost['usd_per_1k_answers'])} per 1k answers"
              f" ({cost['basis'] or cost['note']}); {speed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
