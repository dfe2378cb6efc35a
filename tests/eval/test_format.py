"""How every table writes a number, and Columns that keep headers and cells in step."""
from eval.format import (MISSING, NO_USAGE, Column, fmt_cell, fmt_ci, fmt_cost, fmt_diff, fmt_p, fmt_params,
                         fmt_price, fmt_rate, fmt_requests, fmt_usd, markdown_table, score_columns, table_lines,
                         text_column)


def test_numbers():
    assert fmt_ci(61.54, (57.0, 66.04)) == "61.5 [57.0, 66.0]"
    assert fmt_ci(3.5, (-1.0, 6.0), signed=True) == "+3.5 [-1.0, +6.0]"
    assert (fmt_p(0.0004), fmt_p(0.0123), fmt_p(0.5, named=False)) == ("p<0.001", "p=0.012", "0.500")
    assert fmt_diff({"diff": 2.0, "ci": (1.0, 3.0), "p_value": 0.02}) == "+2.0 [+1.0, +3.0], p=0.020"
    assert (fmt_rate(None), fmt_rate(1234.5), fmt_rate(0.01234)) == (MISSING, "1,234", "0.0123")
    assert (fmt_usd(None), fmt_usd(0), fmt_usd(0.012345), fmt_usd(1234.5), fmt_usd(1, places=3)) == (
        "unknown", "$0", "$0.0123", "$1,234.50", "$1.000")
    assert fmt_cell(None) == MISSING and fmt_cell({"mean": 5.0, "ci": None}) == "5.0"
    assert fmt_params({}) == "(the recipe as is)" and fmt_params({"lora_r": 8, "seed": 1}) == "lora_r=8, seed=1"


def test_costs_say_when_usage_was_missing():
    assert fmt_cost({"usd_per_1k_answers": None, "n_unknown": 3, "n_answers": 3}) == f"unknown ({NO_USAGE})"
    assert fmt_cost({"usd_per_1k_answers": 0.5, "n_unknown": 1, "n_answers": 4}) == (
        f"$0.5 (1 of 4 answers: unknown, {NO_USAGE})")
    assert fmt_cost({"usd_per_1k_answers": 2.0}) == "$2.00"
    requests = {"sent": 20, "kept": 20, "segments": [{"sent": 12, "kept": 12}, {"sent": 8, "kept": 8}]}
    assert fmt_requests({"requests": requests}) == "20 for 20 answers (2 segments: 12/12, 8/8)"
    assert fmt_requests({"requests": None}) == MISSING


def test_prices_name_what_a_cost_was_computed_from():
    api = {"cost": {"price": {"input": 0.15, "output": 0.6, "model": "gpt-4o-mini", "as_of": "2025-01-01"}}}
    assert fmt_price(api) == "$0.15 / $0.6 per 1M in/out (gpt-4o-mini, 2025-01-01)"
    local = {"cost": {"price": {"usd_per_hour": 0.5}}, "hardware": None, "device": "cpu"}
    assert fmt_price(local) == "$0.5/h (cpu)"
    recorded = {"cost": {"price": {"recorded_usd": 0.01234, "recorded_answers": 5, "unpriced_answers": 2}}}
    assert fmt_price(recorded) == "recorded: $0.01234 for 5 answers (2 more recorded at $0, left out)"
    assert fmt_price({"cost": {"price": None, "note": "why"}}) == "why"


def test_tables_from_columns_escape_pipes():
    rows = [{"name": "a|b", "f1": 50.0, "f1_ci": (40.0, 60.0)}]
    columns = [text_column("Model", "name"), *score_columns(["f1"], {"f1": "F1"})]
    assert markdown_table(columns, rows) == ["| Model | F1 [95% CI] |", "|---|---|",
                                             "| a\\|b | 50.0 [40.0, 60.0] |"]
    assert table_lines(["x"], [["a|b"]], escape=False)[-1] == "| a|b |"
    assert Column("n", len, lambda v: f"<{v}>").cell("abc") == "<3>"
