"""Where every file goes: the one place that decides paths. Imports nothing of the project.

    data/<recipe>/{train,validation}.jsonl, manifest.json   a recipe's prepared data
    data/<task>/test/<split>.jsonl                          held-out test splits, shared by a task's recipes
    runs/<recipe>/                                           a training run: adapter, summary, logs
    runs/<recipe>/export/                                    merged model and GGUF files made from that run
    results/<split>/<model>-<key>/                           one scored model on one split
    reports/<recipe>/                                        a recipe's report
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES_DIR = ROOT / "recipes"
DATA_DIR = ROOT / "data"
RUNS_DIR = ROOT / "runs"
REPORTS_DIR = ROOT / "reports"
MODELS_DIR = ROOT / "models"
RESULTS_DIR = Path(os.environ.get("SLINGSHOT_RESULTS_DIR", ROOT / "results"))

MANIFEST = "manifest.json"
TRAIN_SUMMARY = "train_summary.json"
ADAPTER_FILE = "adapter_model.safetensors"
EXPORT_DIR = "export"
RUN_META = "meta.json"
PREDICTIONS = "predictions.jsonl"


def recipe_name(recipe_path):
    """recipes/squad/smollm2-135m/lora-cpu.yml -> squad-smollm2-135m-lora-cpu;
    runs/derived/<name>/recipe.yml -> <name>; any other file -> its stem."""
    path = Path(recipe_path)
    if path.name == "recipe.yml":
        return path.parent.name
    try:
        rel = path.resolve().relative_to(RECIPES_DIR)
    except ValueError:
        rel = Path(path.name)
    return "-".join(rel.with_suffix("").parts)


def data_dir(name):
    return DATA_DIR / name


def run_dir(name):
    return RUNS_DIR / name


def report_dir(name):
    return REPORTS_DIR / name


def test_split_path(task_name, split):
    return DATA_DIR / task_name / "test" / f"{split}.jsonl"


def split_of(path):
    """data/<task>/test/<split>.jsonl -> (task name, split name)."""
    path = Path(path)
    return path.parent.parent.name, path.stem


def results_split_dir(split, results_dir=None):
    return Path(results_dir or RESULTS_DIR) / split


def display_path(path):
    """A path as a user of the repo writes it: relative to the repo root when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
