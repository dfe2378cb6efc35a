"""The default recipe end to end: prepare, a few real Axolotl steps, eval of base and adapter, report."""
import json
import re

import pytest

from tests.helpers import ROOT, WORKSPACE, run_module


@pytest.mark.slow
def test_default_recipe_end_to_end(short_run, tmp_path):
    recipe = short_run
    run = recipe.output_dir
    for name in ("adapter_model.safetensors", "adapter_config.json", "resolved_config.yml",
                 "train.log", "loss.png", "loss.csv", "train_summary.json"):
        assert (run / name).exists(), name
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 3 and summary["trainable_parameters"] > 1_000_000
    said = recipe.train_stdout
    assert str(ROOT) not in said and str(WORKSPACE) not in said  # no machine path: the run folder as a user writes it
    steps = [line for line in said.splitlines() if line.startswith("step ")]
    assert [re.match(r"step (\d+)/3  loss [\d.]+  lr ", line) is not None for line in steps] == [True] * 3, said
    assert "{'loss'" not in said and "memory/max_allocated" not in said  # Axolotl's dicts stay in train.log
    assert "{'loss'" in (run / "train.log").read_text()
    summary_line = said.strip().splitlines()[-1]
    assert re.fullmatch(r"trained \S+: 3 steps in \d+ (s|min \d\d s), \d+ tokens/s, final loss [\d.]+"
                        r"( \(validation [\d.]+\))?, peak memory [\d.]+ GB RAM; adapter in runs/derived/\S+/",
                        summary_line), said

    results, report = tmp_path / "results", tmp_path / "report"
    evaluated = run_module("eval", "recipe", recipe.path, "--limit", "6", "--out", report,
                           env={"SLINGSHOT_RESULTS_DIR": str(results)}, check=True)
    assert evaluated.stdout.strip().splitlines()[-2:] == [  # it ends naming the report and the viewer
        f"report: {report / 'report.md'}",
        f"every answer beside its question: {report / 'index.html'} (open it in a browser)"]
    assert str(ROOT) not in evaluated.stdout + evaluated.stderr
    data = json.loads((report / "report.json").read_text())
    names = [m["name"] for m in data["models"]]
    assert any("(base, 0-shot)" in n for n in names) and any("(tuned)" in n for n in names)
    assert any("(base, 3-shot)" in n for n in names)  # the fair few-shot baseline row
    for model in data["models"]:
        assert model["n"] == 6 and 0 <= model["exact_match"] <= 100 and 0 <= model["f1"] <= 100
    for png in ("models.png", "by_input_tokens.png", "cost.png"):
        assert (report / png).stat().st_size > 1000
    assert "| " in (report / "report.md").read_text()
