"""Cost per 1,000 answers, and the throughput it was computed from.

API models:   tokens_in * input price + tokens_out * output price (eval/prices.yaml); the answers a batch
              gave (meta batch.answered) at the table's batch price, the rest at the list price, and what
              the other mode would have cost beside it (priced_by_mode).
Local models: measured generation wall seconds * usd_per_hour / 3600.
Leaderboard records: the cost the leaderboard stored with each answer (its prices of the day).
A model with no known price stays unknown (None, with a note): a cost is never guessed. So do
answers whose server reported no token usage: they are counted, never priced as 0 tokens; and answers
whose usage cannot be true (0 prompt tokens, or 0 generated tokens for a non-empty answer): their usage
is not trusted (UNTRUSTED), named in the cost's note and never billed as $0.
Token counts are summed from the answers themselves (which the store's hash covers), not from the
sums meta.json repeats; eval.verify refuses a store whose meta sums differ from its answers'.

`python -m eval cost [RUN_DIR ...]` prints the price table, or what each finished run cost.
"""
import datetime
import math
import os
import re
from pathlib import Path

import yaml

from eval.format import NO_USAGE
from slingshot.errors import UserError

DEFAULT_PRICES = Path(__file__).with_name("prices.yaml")
PRICES_ENV = "SLINGSHOT_PRICES"
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


def usage_of(predictions):
    """Token sums over the answers whose usage is known, and how many answers had none."""
    predictions = list(predictions)
    known = [p for p in predictions if p.get("tokens_in") is not None and p.get("tokens_out") is not None]
    n_unknown = len(predictions) - len(known)
    return {"tokens_in": sum(p["tokens_in"] for p in known) if known else None,
            "tokens_out": sum(p["tokens_out"] for p in known) if known else None,
            "n_without_usage": n_unknown}


UNTRUSTED = "usage not trusted"


def has_usage(row):
    return row.get("tokens_in") is not None and row.get("tokens_out") is not None


def usage_trusted(row):
    """A server's token counts can be true: a prompt has tokens, and so has any answer with text in it."""
    text = row.get("raw_output", row.get("answer"))
    return row["tokens_in"] > 0 and (row["tokens_out"] > 0 or not text)


def untrusted_note(n_untrusted, n_answers):
    return (f"{UNTRUSTED}: {n_untrusted} of {n_answers} answers report 0 tokens for a prompt or for a "
            f"non-empty answer, which no server bills truly")


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
        check_sides(entry, where)
        batch = entry.get("batch")
        if batch is not None:
            if not isinstance(batch, dict):
                raise UserError(f"{where}.batch: expected {{input: USD per 1M tokens, output: USD per 1M tokens}}")
            check_sides(batch, f"{where}.batch")
        as_of = entry.get("as_of", doc.get("as_of"))
        if as_of is None:
            raise UserError(f"{where}: no 'as_of' date (give one per model or at the top of the file)")
        if isinstance(as_of, datetime.date):
            as_of = as_of.isoformat()
        table_source = str(entry.get("source", doc.get("source", path)))
        table[str(model)] = {
            "input": float(entry["input"]), "output": float(entry["output"]), "as_of": str(as_of),
            "source": table_source,
            **({"note": str(entry["note"])} if "note" in entry else {}),
            **({"batch": {"input": float(batch["input"]), "output": float(batch["output"]),
                          "source": str(entry.get("batch_source", doc.get("batch_source", table_source)))}}
               if batch is not None else {}),
        }
    return table


def check_sides(entry, where):
    for side in ("input", "output"):
        value = entry.get(side)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UserError(f"{where}.{side}: need a non-negative number (USD per million tokens), got {value!r}")


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


def run_usage(meta, predictions):
    """Answers, tokens and generation wall time of a run, as run_cost takes them.

    Token counts are the sums over the answers whose usage is known and trusted; an answer without
    usage counts as unknown (n_unknown), one whose usage cannot be true as untrusted (n_untrusted),
    never as 0 tokens. Only rows that carry no token fields at all fall back to meta usage. Wall time
    from meta wall_s, else summed latencies."""
    known = [r for r in predictions if has_usage(r)]
    trusted = [r for r in known if usage_trusted(r)]
    tokens_in = sum(r["tokens_in"] for r in trusted) if trusted else None
    tokens_out = sum(r["tokens_out"] for r in trusted) if trusted else None
    n_unknown = len(predictions) - len(known)
    if not any("tokens_in" in r or "tokens_out" in r for r in predictions) and meta.get("usage"):
        usage = meta["usage"]  # rows that hold no usage at all: the sums meta recorded
        tokens_in, tokens_out = usage.get("tokens_in"), usage.get("tokens_out")
        n_unknown = usage.get("n_without_usage", n_unknown)
    wall_s = meta.get("wall_s")
    if wall_s is None and predictions and all(r.get("latency_s") is not None for r in predictions):
        wall_s = sum(r["latency_s"] for r in predictions)
    return {"n_answers": len(predictions), "tokens_in": tokens_in, "tokens_out": tokens_out, "wall_s": wall_s,
            "n_unknown": n_unknown, "n_untrusted": len(known) - len(trusted)}


def requests_of(meta):
    """API requests sent and answers kept, in all and per segment (each start or resume), or None
    for runs that sent none: sent == kept means no question was paid for twice."""
    segments = [s for s in meta.get("segments") or [] if "requests" in s]
    if not segments:
        return None
    return {"sent": sum(s["requests"] for s in segments), "kept": sum(s.get("n") or 0 for s in segments),
            "segments": [{"sent": s["requests"], "kept": s.get("n") or 0} for s in segments]}


def empty_cost(n_answers, tokens_in, tokens_out, wall_s, n_unknown=0, n_untrusted=0):
    rate = (lambda x: x / wall_s if wall_s and x is not None else None)
    return {
        "n_answers": n_answers, "tokens_in": tokens_in, "tokens_out": tokens_out, "wall_s": wall_s,
        "throughput": {"questions_per_s": rate(n_answers), "prompt_tokens_per_s": rate(tokens_in),
                       "generated_tokens_per_s": rate(tokens_out)},
        "usd_total": None, "usd_per_1k_answers": None, "basis": None, "price": None, "note": None,
        "n_unknown": n_unknown + n_untrusted, "n_untrusted": n_untrusted,  # n_unknown: every answer not priced
    }


def token_cost(out, token_price):
    """Price `out`'s tokens at (priced name, price entry); returns the answers the cost is per
    (those with trusted usage), or None when no cost can be computed (out's note says why)."""
    n_answers, n_unknown, n_untrusted = out["n_answers"], out["n_unknown"], out["n_untrusted"]
    tokens_in, tokens_out = out["tokens_in"], out["tokens_out"]
    untrusted = untrusted_note(n_untrusted, n_answers) if n_untrusted else None
    if tokens_in is None or tokens_out is None or (n_answers and n_unknown >= n_answers):
        missing = f"the other {n_answers - n_untrusted}: {NO_USAGE}" if n_answers > n_untrusted else None
        out["note"] = "; ".join(part for part in (untrusted, missing) if part) if untrusted else NO_USAGE
        return None
    if tokens_in < 0 or tokens_out < 0:
        out["note"] = f"the stored usage holds negative token counts ({tokens_in} in, {tokens_out} out)"
        return None
    priced_name, price = token_price
    out["usd_total"] = (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6
    out["basis"] = "api tokens"
    out["price"] = {"model": priced_name, **price}
    missing = n_unknown - n_untrusted
    if n_unknown:
        reasons = ([untrusted] if untrusted else []) + ([f"{missing} of {n_answers} answers came without usage"]
                                                         if missing else [])
        out["note"] = (f"{'; '.join(reasons)} (their cost is unknown); the cost per 1k answers is that of the "
                       f"other {n_answers - n_unknown}")
    return n_answers - n_unknown


def run_cost(*, n_answers, tokens_in, tokens_out, wall_s, usd_per_hour, n_unknown=0, n_untrusted=0,
             token_price=None, unpriced_note=None):
    """Cost of one run and the throughput behind it (all rates per generation wall second).

    token_price: (priced name, price entry) for a backend billed per token; `n_unknown` answers came
    without token usage, so an API cost is per 1k of the others, and says so. unpriced_note: why such a
    backend has no price, when neither a token price nor usd_per_hour is known."""
    out = empty_cost(n_answers, tokens_in, tokens_out, wall_s, n_unknown, n_untrusted)
    n_priced = n_answers
    if token_price is not None:
        n_priced = token_cost(out, token_price)
        if n_priced is None:
            return out
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
    if n_priced:
        out["usd_per_1k_answers"] = out["usd_total"] / n_priced * 1000
    return out


def priced_run(meta, predictions, token_price=None, unpriced_note=None):
    """run_cost of a run from its meta.json and prediction rows, with the API requests it took."""
    out = run_cost(**run_usage(meta, predictions), usd_per_hour=meta.get("usd_per_hour"), token_price=token_price,
                   unpriced_note=unpriced_note)
    out["requests"] = requests_of(meta)
    return out


def batch_answered(meta):
    """The ids of the answers a Batch API run got from a batch (meta batch.answered; none for a live run)."""
    batch = meta.get("batch")
    answered = batch.get("answered") if isinstance(batch, dict) else None
    return set(answered) if isinstance(answered, list) else set()


def tokens_usd(rows, price):
    """USD of the rows whose usage is known and trusted, at price {input, output} per 1M tokens."""
    rows = [r for r in rows if has_usage(r) and usage_trusted(r)]
    return sum(r["tokens_in"] * price["input"] + r["tokens_out"] * price["output"] for r in rows) / 1e6


def priced_by_mode(meta, predictions, token_price, unpriced_note):
    """priced_run at list prices, then the cost the run was charged: its batch answers at the batch price
    (mode "batch", or "mixed" when some were asked live), and beside it what the other mode would cost
    (`other`: all live at list prices for a batch run, all in a batch for a live one; None when the table
    has no batch price). A batch answer of a model without a batch price leaves the cost unknown."""
    out = priced_run(meta, predictions, token_price=token_price, unpriced_note=unpriced_note)
    answered = batch_answered(meta)
    batch_rows = [r for r in predictions if r.get("id") in answered]
    out["mode"] = "live" if not batch_rows else "batch" if len(batch_rows) == len(predictions) else "mixed"
    out["n_batch"], out["other"] = len(batch_rows), None
    if out["usd_total"] is None or token_price is None:
        return out
    list_total, price = out["usd_total"], token_price[1]
    batch_price = price.get("batch")
    per_1k = out["usd_per_1k_answers"] / list_total if list_total and out["usd_per_1k_answers"] else None
    if batch_price is None:
        if batch_rows:
            out.update(usd_total=None, usd_per_1k_answers=None,
                       note=f"no batch price for {token_price[0]!r} in the price table, and {len(batch_rows)} "
                            f"answers came from a batch; add batch: {{input, output}} to its entry")
        return out
    all_batch = tokens_usd(predictions, batch_price)
    charged = list_total - tokens_usd(batch_rows, price) + tokens_usd(batch_rows, batch_price)
    other = list_total if batch_rows else all_batch
    out.update(usd_total=charged, usd_per_1k_answers=charged * per_1k if per_1k is not None else None)
    if batch_rows:
        out["basis"] = ("api tokens, batch" if out["mode"] == "batch" else
                        f"api tokens, {len(batch_rows)} batch + {len(predictions) - len(batch_rows)} live")
    out["other"] = {"mode": "live" if batch_rows else "batch", "usd_total": other,
                    "usd_per_1k_answers": other * per_1k if per_1k is not None else None}
    return out
