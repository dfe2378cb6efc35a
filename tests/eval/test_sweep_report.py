"""The sweep report's parts: a cell row against the base model, settings grouped over seeds, the conclusion
that names the smallest data size whose gain holds, and sweep.md."""
from eval.sweep_report import conclusion, render, row, setting_of, settings_table, spread_text

METRICS = ["exact_match", "f1"]


def summary(score):
    return {"n": 80, **{m: score for m in METRICS}, **{f"{m}_ci": (score - 5, score + 5) for m in METRICS}}


def cell(train_size, seed, score, p):
    vs = {"metrics": {m: {"diff": score - 20, "ci": (score - 25, score - 15), "p_value": p, "test": "McNemar"}
                      for m in METRICS}}
    out = row(f"cell-{train_size}-{seed}", {"train_size": train_size, "seed": seed}, summary(score), METRICS, vs)
    out.update(effective={"train_size": train_size, "lora_r": 8, "seed": seed}, p_value_holm=p, holds=p < 0.05)
    for m in METRICS:
        out["vs_baseline"][m]["p_holm"] = p
    return out


def report():
    cells = [cell(32, 0, 22, 0.5), cell(32, 1, 30, 0.01), cell(64, 0, 40, 0.001), cell(64, 1, 42, 0.001)]
    settings = settings_table(cells, METRICS)
    baseline = row("base", {}, summary(20), METRICS)
    return {"recipe": "recipes/r.yml", "task": "squad", "split": "dev-80", "grid": {"train_size": [32, 64],
            "seed": [0, 1]}, "metrics": METRICS, "metric_labels": {"exact_match": "EM", "f1": "F1"}, "alpha": 0.05,
            "baseline": baseline, "cells": cells, "settings": settings, "plots": {"learning_curve": "lc.png",
            "rank": "rank.png"}, "unfinished": ["cell-128-0"], "compute_s": 600,
            "conclusion": conclusion(settings, baseline, "exact_match", "EM", len(cells))}


def test_a_cell_row_carries_its_test_against_the_base():
    out = cell(32, 0, 22, 0.5)
    assert out["p_value"] == 0.5 and out["test"] == "McNemar" and out["vs_baseline"]["f1"]["diff"] == 2
    assert row("base", {}, summary(20), METRICS)["p_value"] is None
    assert setting_of({"train_size": 32, "seed": 1}) == {"train_size": 32}


def test_settings_group_seeds_and_a_gain_holds_only_when_every_seed_holds():
    settings = report()["settings"]
    assert [(s["params"], s["seeds"], s["holds"]) for s in settings] == [
        ({"train_size": 32}, [0, 1], False), ({"train_size": 64}, [0, 1], True)]
    assert settings[0]["exact_match"] == 26 and settings[0]["exact_match_spread"] == 8
    assert spread_text(settings[0], "exact_match") == "8.0 (more than the CI)"
    assert spread_text(settings[1], "exact_match") == "2.0"
    assert spread_text({"exact_match_spread": None}, "exact_match") == "one seed"


def test_the_conclusion_names_the_smallest_size_that_holds_or_none():
    data = report()
    assert "is train_size=64 (lora_r=8): EM 41.0 (mean of 2 seeds) against 20.0" in data["conclusion"]
    none = conclusion([dict(s, holds=False) for s in data["settings"]], data["baseline"], "exact_match", "EM", 4)
    assert none.startswith("No setting's EM gain over the base model (20.0) holds after Holm correction over 4 cells")


def test_sweep_md_has_the_conclusion_both_tables_and_the_unfinished_cells():
    text = render(report())
    assert text.startswith("# Sweep of recipes/r.yml") and "swept: train_size = 32, 64; seed = 0, 1." in text
    assert "Partial report: 1 cell(s) not finished yet (cell-128-0)" in text
    assert "| base (baseline) |" in text and "| cell-64-1 | 64 | 8 | 1 | 80 |" in text
    assert "| train_size=32 | 0, 1 |" in text and "Compute: 10.0 min" in text
