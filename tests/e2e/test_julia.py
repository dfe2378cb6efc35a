"""The Julia CPU recipe end to end: prepare, real Axolotl steps, generation, sandboxed scoring
in real Julia, and a report with seen and unseen cases, the leaderboard's records and the
contamination statement."""
import json

import pytest

from slingshot.metrics.julia.sandbox import find_julia
from slingshot.layout import ROOT
from slingshot.recipe import derive_recipe, load_recipe
from tests.helpers import run_module

JULIA_RECIPE = ROOT / "recipes" / "julia" / "smollm2-135m" / "lora-cpu.yml"


@pytest.mark.slow
def test_julia_cpu_recipe_end_to_end(model_dir, tmp_path):
    try:
        find_julia()
    except Exception as e:  # the suite's `make test` installs Julia first
        pytest.skip(f"no Julia: {e}")
    recipe = derive_recipe(load_recipe(JULIA_RECIPE), "e2e-julia-cpu",
                           {"max_steps": 2, "evals_per_epoch": None, "num_epochs": 1},
                           {"top_n_per_case": 1, "validation_size": 2, "eval": {"max_new_tokens": 160}})
    prepared = run_module("data_prep", recipe.path, check=True)
    assert "test cases" in prepared.stdout or "contamina" in prepared.stdout.lower()
    run_module("slingshot", "train", "--force", recipe.path, check=True)
    summary = json.loads((recipe.output_dir / "train_summary.json").read_text())
    assert summary["steps"] == 2 and "seen" in summary["contamination"]

    report_dir = tmp_path / "report"
    run_module("eval", "recipe", recipe.path, "--out", report_dir,
               env={"SLINGSHOT_RESULTS_DIR": str(tmp_path / "results")}, check=True)
    report = json.loads((report_dir / "report.json").read_text())
    names = [m["name"] for m in report["models"]]
    assert any("(tuned)" in n for n in names) and any("(base, 0-shot)" in n for n in names)
    assert any("leaderboard record" in n for n in names)
    for model in report["models"]:
        assert 0 <= model["score"] <= 100
    cases = report["by_case"]["cases"]
    assert {c["case"] for c in cases} and any(c.get("seen_by") or c.get("seen") for c in cases)
    markdown = (report_dir / "report.md").read_text()
    assert "## Contamination" in markdown and "seen" in markdown
    assert "## Scoring modes" in markdown  # corrected and leaderboard-mode scores side by side, with CIs
    assert "corrected [95% CI]" in markdown and "leaderboard mode [95% CI]" in markdown
    tuned = next(m for m in report["models"] if "(tuned)" in m["name"])
    assert tuned["scoring_modes"]["n"] == tuned["n"]
