"""Recipe folders' README tables and the figures README.md and docs/ quote are generated from
published runs and committed results, and stay in sync."""
import json
import re
import shutil

import pytest

import eval.figures as figures
from eval.measurements import NOT_MEASURED, render_folder
from slingshot.errors import UserError
from slingshot.layout import ROOT
from tests.helpers import run_module

FOLDER = ROOT / "recipes" / "squad" / "smollm2-135m"
NAME = "squad-smollm2-135m-lora-cpu"


def test_committed_tables_are_what_the_published_runs_say():
    result = run_module("eval", "measurements", "--check")
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


def test_a_hand_edited_figure_fails_the_check(tmp_path):
    page = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    assert figures.stale_pages(write=False, pages=[ROOT / "README.md"]) == []
    published = json.loads((ROOT / "docs" / "reports" / NAME / "train_summary.json").read_text())["tokens_per_s"]
    figure = f"**{published:.1f} tokens/s**"
    assert figure in text
    page.write_text(text.replace(figure, f"**{published + 1:.1f} tokens/s**", 1))
    assert figures.stale_pages(write=False, pages=[page]) == [str(page)]
    assert figures.stale_pages(write=True, pages=[page]) == [str(page)]
    assert page.read_text() == text


def test_a_new_published_result_changes_the_readme_headline(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "docs" / "reports", tmp_path / "reports")
    path = tmp_path / "reports" / NAME / "report.json"
    report = json.loads(path.read_text())
    tuned = next(m for m in report["models"] if m["name"] == f"{NAME} (tuned)")
    tuned["exact_match"], tuned["exact_match_ci"] = 41.5, [35.0, 48.0]
    path.write_text(json.dumps(report))
    monkeypatch.setattr(figures, "REPORTS", tmp_path / "reports")
    text = figures.fill((ROOT / "README.md").read_text(), "README.md")
    assert "**41.5 [35.0, 48.0] EM**" in text and "| 41.5 [35.0, 48.0] |" in text


def test_an_unknown_figure_or_a_missing_end_marker_names_the_page_and_line():
    with pytest.raises(UserError, match=r"docs/x\.md:2: unknown figure 'nope'; known: headline"):
        figures.fill("intro\n<!-- figures: nope -->\n<!-- /figures -->\n", "docs/x.md")
    with pytest.raises(UserError, match=r"docs/x\.md:3: figure 'loop' has no closing <!-- /figures --> line"):
        figures.fill("intro\n\n<!-- figures: loop -->\nold text\n", "docs/x.md")


def test_a_missing_results_file_names_it_and_how_to_restore_it(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "BENCH", tmp_path)
    with pytest.raises(UserError, match=r"loop\.json: missing"):
        figures.fill("<!-- figures: loop -->\n<!-- /figures -->", "README.md")


def test_the_readme_is_a_front_door_and_its_links_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_make_help_lists_every_target_and_variable():
    import subprocess
    makefile = (ROOT / "Makefile").read_text()
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    targets = re.search(r"^\.PHONY: (.+)$", makefile, re.M).group(1).split()
    listed = set(re.findall(r"^  ([a-z-]+) ", shown, re.M))
    assert set(targets) - listed == set()
    variables = set(re.findall(r"^([A-Z_]+) \?=", makefile, re.M)) | set(re.findall(r"\$\(if \$\(([A-Z_]+)\)", makefile))
    variables |= set(re.findall(r"ifeq \(\$\(([A-Z_]+)\)", makefile))
    variables |= {"NODES", "NODE_RANK", "HEAD"}  # read from the environment by slingshot.commands.train
    assert {v for v in variables if not re.search(rf"\b{v}\b", shown)} == set()
