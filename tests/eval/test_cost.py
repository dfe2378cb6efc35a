"""What a run cost: by tokens at list prices, by wall time at an hourly price, or unknown with the reason;
answers without usage, or with usage that cannot be true, are counted, never priced as 0 tokens."""
import pytest

from eval.cost import (UNTRUSTED, api_model_name, find_price, load_prices, priced_run, requests_of, run_cost,
                       run_usage, usage_of)
from eval.format import NO_USAGE
from slingshot.errors import UserError

PRICE = {"input": 1.0, "output": 2.0, "as_of": "2025-01-01", "source": "test"}


def test_usage_and_names():
    rows = [{"tokens_in": 10, "tokens_out": 2}, {"tokens_in": None, "tokens_out": 1}]
    assert usage_of(rows) == {"tokens_in": 10, "tokens_out": 2, "n_without_usage": 1}
    assert usage_of([]) == {"tokens_in": None, "tokens_out": None, "n_without_usage": 0}
    assert api_model_name("openai:gpt-4o-mini") == "gpt-4o-mini" and api_model_name("x") == "x"
    prices = {"gpt-4o": PRICE}
    assert find_price("openai:gpt-4o-2024-08-06", prices) == ("gpt-4o", PRICE)
    assert find_price("gpt-4o", prices)[0] == "gpt-4o" and find_price("gpt-5", prices) == (None, None)


def test_token_cost_per_1k_answers_of_those_with_usage():
    out = run_cost(n_answers=4, tokens_in=3_000_000, tokens_out=1_000_000, wall_s=10, usd_per_hour=None,
                   n_unknown=1, token_price=("m", PRICE))
    assert out["usd_total"] == 5.0 and out["usd_per_1k_answers"] == pytest.approx(5.0 / 3 * 1000)
    assert out["basis"] == "api tokens" and "1 of 4 answers came without usage" in out["note"]
    assert out["throughput"]["questions_per_s"] == 0.4
    none = run_cost(n_answers=2, tokens_in=None, tokens_out=None, wall_s=1, usd_per_hour=None, n_unknown=2,
                    token_price=("m", PRICE))
    assert none["usd_total"] is None and none["note"] == NO_USAGE


def test_wall_time_cost_and_the_unknowns():
    out = run_cost(n_answers=200, tokens_in=1, tokens_out=1, wall_s=3600, usd_per_hour=0.5)
    assert (out["usd_total"], out["usd_per_1k_answers"], out["basis"]) == (0.5, 2.5, "wall time")
    assert run_cost(n_answers=1, tokens_in=1, tokens_out=1, wall_s=0, usd_per_hour=1)["note"] == (
        "no generation wall time recorded")
    assert "no usd_per_hour" in run_cost(n_answers=1, tokens_in=1, tokens_out=1, wall_s=1, usd_per_hour=None)["note"]


def test_a_run_from_its_meta_and_rows():
    rows = [{"tokens_in": 5, "tokens_out": 1, "latency_s": 0.5}, {"tokens_in": 7, "tokens_out": 2, "latency_s": 1.5}]
    assert run_usage({}, rows) == {"n_answers": 2, "tokens_in": 12, "tokens_out": 3, "wall_s": 2.0, "n_unknown": 0,
                                 "n_untrusted": 0}
    meta = {"usd_per_hour": 3.6, "wall_s": 10, "segments": [{"requests": 3, "n": 2}, {"requests": 1, "n": 1}]}
    out = priced_run(meta, rows)
    assert out["usd_total"] == pytest.approx(0.01)
    assert out["requests"] == requests_of(meta) == {"sent": 4, "kept": 3, "segments": [{"sent": 3, "kept": 2},
                                                                                        {"sent": 1, "kept": 1}]}
    assert requests_of({}) is None


def test_zero_tokens_for_a_non_empty_answer_is_usage_not_trusted_never_a_zero_bill():
    zero = [{"raw_output": "Paris", "answer": "Paris", "tokens_in": 0, "tokens_out": 0, "latency_s": 0.1}] * 3
    out = priced_run({"wall_s": 1.0}, zero, token_price=("m", PRICE))
    assert out["usd_total"] is None and out["usd_per_1k_answers"] is None
    assert out["note"].startswith(f"{UNTRUSTED}: 3 of 3 answers report 0 tokens") and out["n_untrusted"] == 3
    honest = {"raw_output": "Rome", "answer": "Rome", "tokens_in": 1_000_000, "tokens_out": 500_000, "latency_s": 0.1}
    out = priced_run({"wall_s": 1.0}, zero[:1] + [honest], token_price=("m", PRICE))
    assert out["usd_total"] == 2.0 and out["usd_per_1k_answers"] == 2000.0  # per the one answer priced
    assert out["note"].startswith(f"{UNTRUSTED}: 1 of 2 answers") and "cost per 1k answers is that of the other 1" \
        in out["note"]
    prompt_only = {**honest, "tokens_in": 0}  # no prompt is 0 tokens either
    assert priced_run({}, [prompt_only], token_price=("m", PRICE))["note"].startswith(UNTRUSTED)
    empty = {"raw_output": "", "answer": "", "tokens_in": 10, "tokens_out": 0}  # nothing said, nothing billed
    assert priced_run({}, [empty], token_price=("m", PRICE))["usd_total"] == pytest.approx(1e-5)
    missing = {"raw_output": "x", "tokens_in": None, "tokens_out": None}
    note = priced_run({}, zero[:1] + [missing], token_price=("m", PRICE))["note"]
    assert UNTRUSTED in note and "the other 1: no usage reported" in note


def test_price_files_extend_the_table_and_bad_ones_name_the_key(tmp_path):
    extra = tmp_path / "prices.yaml"
    extra.write_text("as_of: 2025-02-01\nmodels:\n  my-model: {input: 1, output: 3}\n")
    table = load_prices(str(extra))
    assert table["my-model"]["as_of"] == "2025-02-01" and len(table) > 1
    extra.write_text("as_of: 2025-02-01\nmodels:\n  my-model: {input: -1, output: 3}\n")
    with pytest.raises(UserError, match="key models.my-model.input: need a non-negative number"):
        load_prices(str(extra))
    extra.write_text("models:\n  m: {input: 1, output: 1}\n")
    with pytest.raises(UserError, match="key models.m: no 'as_of' date"):
        load_prices(str(extra))
    with pytest.raises(UserError, match="cannot read price file"):
        load_prices(str(tmp_path / "none.yaml"))
