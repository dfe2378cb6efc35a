import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_RECIPE = ROOT / "recipes" / "squad" / "smollm2-135m" / "lora-cpu.yml"
MODEL_DIR = ROOT / "models" / "smollm2-135m-instruct"


def run_module(*args, check=False, timeout=1800, env=None):
    """Run `python -m ...` from the repo root, as a user would."""
    result = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def write_recipe(folder, base=DEFAULT_RECIPE, edit=None, name="recipe.yml"):
    """A copy of a recipe whose data and run folders live under `folder`."""
    config = yaml.safe_load(Path(base).read_text())
    config["datasets"][0]["path"] = str(folder / "data" / "train.jsonl")
    config["test_datasets"][0]["path"] = str(folder / "data" / "validation.jsonl")
    config["output_dir"] = str(folder / "run")
    config["dataset_prepared_path"] = str(folder / "run" / "prepared")
    if edit:
        edit(config)
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def squad_test_rows(split):
    """The rows of a named SQuAD test split, as data prep writes them."""
    from data_prep import squad
    return [squad.test_row(q) for q in squad.test_split(squad.load_source("local", "dev")[0], split)]


def write_squad_split(folder, rows, name):
    """A SQuAD test split file under folder/data, where the layout looks for one."""
    from slingshot.io import atomic_write_jsonl
    path = folder / "data" / "squad" / "test" / f"{name}.jsonl"
    atomic_write_jsonl(path, rows)
    return path


@pytest.fixture(scope="session")
def model_dir():
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip("the embedded model is not converted yet: run `make model`")
    return MODEL_DIR
