"""Sweep figures: numeric sizes on a log2 axis, anything else categorical; both written as PNGs."""
import matplotlib.image

from eval.sweep_plots import _positions, plot_against


def test_numbers_keep_their_value_and_anything_else_is_categorical():
    assert _positions([32, 64]) == ({32: 32, 64: 64}, True)
    assert _positions(["4%", 32]) == ({32: 0, "4%": 1}, False)


def cell(train_size, lora_r, seed, score):
    return {"effective": {"train_size": train_size, "lora_r": lora_r, "seed": seed},
            "exact_match": score, "exact_match_ci": (score - 5, score + 5)}


def test_both_sweep_figures_are_pngs(tmp_path):
    report = {"metrics": ["exact_match"], "metric_labels": {"exact_match": "EM"}, "recipe": "r.yml", "split": "s",
              "baseline": {"exact_match": 20.0, "exact_match_ci": (15.0, 25.0)},
              "cells": [cell(32, 8, 0, 30), cell(32, 8, 1, 34), cell(64, 8, 0, 40), cell("4%", 16, 0, 50)]}
    for x, line in (("train_size", "lora_r"), ("lora_r", "train_size")):
        path = tmp_path / f"{x}.png"
        plot_against(report, x, line, path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and matplotlib.image.imread(path).shape[0] > 100
