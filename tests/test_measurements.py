"""Recipe folders' README tables are generated from published runs, and stay in sync."""
import json
import shutil

from eval.measurements import NOT_MEASURED, render_folder
from slingshot.layout import ROOT
from tests.conftest import run_module

FOLDER = ROOT / "recipes" / "squad" / "smollm2-135m"
NAME = "squad-smollm2-135m-lora-cpu"


def test_committed_tables_are_what_the_published_runs_say():
    result = run_module("eval.measurements", "--check")
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_recipe_without_a_published_run_says_not_measured_and_its_hardware():
    text = (ROOT / "recipes" / "squad" / "llama-3.1-8b" / "README.md").read_text()
    assert f"| `squad/llama-3.1-8b/lora.yml` | 1x A10G 24 GB | {NOT_MEASURED} |" in text


def test_a_published_train_summary_fills_time_memory_and_cost(tmp_path):
    shutil.copytree(ROOT / "docs" / "reports" / NAME, tmp_path / NAME)
    summary = {"wall_s": 600.0, "peak_memory_gb": 15.8, "tokens_per_s": 60.2, "steps": 16,
               "train_tokens_per_epoch": 29816}
    (tmp_path / NAME / "train_summary.json").write_text(json.dumps(summary))
    row = next(line for line in render_folder(FOLDER, root=tmp_path).splitlines() if "lora-cpu.yml" in line)
    assert "| 10.0 min | 15.8 GB | 60 | $0.017 |" in row  # 600 s at $0.10/h
    report = json.loads((tmp_path / NAME / "report.json").read_text())
    tuned = next(m for m in report["models"] if m["name"] == f"{NAME} (tuned)")
    assert f"{tuned['exact_match']:.1f} [{tuned['exact_match_ci'][0]:.1f}, {tuned['exact_match_ci'][1]:.1f}]" in row
