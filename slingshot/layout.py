"""Where every file goes: the one place that decides paths. It imports nothing of the project but io.

    data_prep/sources/                                       carried source data (SQuAD, the Julia leaderboard)
    data/<recipe>/{train,validation}.jsonl, manifest.json   a recipe's prepared data (its name decides the folder)
    data/<task>/test/<split>.jsonl                          held-out test splits, shared by a task's recipes
                                                             (built only from the carried, hash-checked source)
    data/<task>/test/<split>@<source>.jsonl                  the same split drawn from another source
    data/<task>/test/<split>.manifest.json                   what data prep built a split from, and its sha256
    runs/<recipe>/                                           a training run: adapter, summary, logs, axolotl.yml
    runs/derived/<name>/recipe.yml, data/derived/<name>/     recipes derived from another (smoke runs, sweep cells)
    <dir>/<stem>-<hash>-sweep/{runs,data}/<cell>/, report/   the sweep of a recipe outside the repo, beside it
    runs/<recipe>/export/                                    merged model and GGUF files made from that run
    results/<split>/<model>-<key>/                           one scored model on one split
    reports/<recipe>/                                        a recipe's report
    reports/<recipe>-sweep/                                  a sweep's report (sweep.md, sweep.json, plots)
    models/stand-ins/<model>-<shape>/                        random-initialized stand-ins of hub models

data/, runs/, results/, reports/ and models/stand-ins/ are outputs: they live in the workspace, the
repository itself unless SLINGSHOT_WORKSPACE names another folder (the tests use a temporary one).
Paths in recipes and stores are written relative to it (`data/...`, `runs/...`), everything else
relative to the repository (`models/...`, `recipes/...`): `resolve` and `display_path` map both ways.
"""
import hashlib
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = Path(os.environ.get("SLINGSHOT_WORKSPACE") or ROOT).resolve()
OUTPUT_FOLDERS = ("data", "runs", "results", "reports", "models/stand-ins")
RECIPES_DIR = ROOT / "recipes"
DATA_DIR = WORKSPACE / "data"
RUNS_DIR = WORKSPACE / "runs"
REPORTS_DIR = WORKSPACE / "reports"
MODELS_DIR = ROOT / "models"
STAND_INS_DIR = WORKSPACE / "models" / "stand-ins"
SOURCES_DIR = ROOT / "data_prep" / "sources"     # carried source data, hash-checked on read
LEADERBOARD_DIR = DATA_DIR / "julia-llm-leaderboard"  # the leaderboard tarball, unpacked on first use
RESULTS_DIR = Path(os.environ.get("SLINGSHOT_RESULTS_DIR") or WORKSPACE / "results")

MANIFEST = "manifest.json"
TRAIN_SUMMARY = "train_summary.json"
ADAPTER_FILE = "adapter_model.safetensors"
EXPORT_DIR = "export"
RUN_META = "meta.json"
PREDICTIONS = "predictions.jsonl"
OWNER_FILE = ".owner"          # in a recipe's data and run folders: the recipe that writes there
AXOLOTL_CONFIG = "axolotl.yml"  # in a run folder: the recipe with its paths filled in, for `axolotl train`
DERIVED = "derived"


def recipe_name(recipe_path):
    """recipes/squad/smollm2-135m/lora-cpu.yml -> squad-smollm2-135m-lora-cpu;
    runs/derived/<name>/recipe.yml -> <name>; any other file -> its stem."""
    path = Path(recipe_path)
    if path.name == "recipe.yml":
        return path.resolve().parent.name
    try:
        rel = path.resolve().relative_to(RECIPES_DIR)
    except ValueError:
        rel = Path(path.name)
    return "-".join(rel.with_suffix("").parts)


# names that would make a recipe's data/<name>/ or runs/<name>/ a folder shared by everything (task names
# too, since data/<task>/ holds a task's test splits: the recipe check adds slingshot.tasks.TASKS)
RESERVED_NAMES = {"", ".", "..", DERIVED, "test", LEADERBOARD_DIR.name, "prepared"}


def data_dir(name):
    return DATA_DIR / name


def run_dir(name):
    return RUNS_DIR / name


def report_dir(name):
    return REPORTS_DIR / name


VERIFIED_SOURCE = "local"  # the carried sources, hash-checked on every read


def test_split_name(split, source):
    """The held-out split a recipe scores on. Only the carried, hash-checked source builds the split
    every recipe of a task shares (dev-200); another source gets a split of its own, named after it
    (dev-200@hub-rajpurkar-squad, dev-200@my-squad-1a2b3c4d), so it can never rewrite the shared file."""
    if source == VERIFIED_SOURCE:
        return split
    return f"{split}@{source_tag(source)}"


def source_tag(source):
    """A file-name-safe name for a recipe's `source:`: hub:<dataset> by the dataset's name, a folder by
    its name and a short hash of where it is (two folders named alike stay apart)."""
    if source.startswith("hub:"):
        return "hub-" + _safe(source[4:])
    where = display_path(resolve(source))
    return f"{_safe(Path(where).name) or 'source'}-{hashlib.sha256(where.encode()).hexdigest()[:8]}"


def _safe(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")


def test_split_path(task_name, split):
    return DATA_DIR / task_name / "test" / f"{split}.jsonl"


def test_split_manifest_path(task_name, split):
    """Data prep's record of a shared test split: its sha256, size, sources and prompt version."""
    return DATA_DIR / task_name / "test" / f"{split}.manifest.json"


def split_of(path):
    """data/<task>/test/<split>.jsonl -> (task name, split name)."""
    path = Path(path)
    return path.parent.parent.name, path.stem


def results_split_dir(split, results_dir=None):
    return Path(results_dir or RESULTS_DIR) / split


def _is_output(relative):
    text = Path(relative).as_posix()
    return any(text == folder or text.startswith(folder + "/") for folder in OUTPUT_FOLDERS)


def resolve(path):
    """The file a recipe's or store's path names: `data/...`, `runs/...` (outputs) in the workspace,
    anything else relative in the repository; absolute paths as they are."""
    path = Path(path)
    if path.is_absolute():
        return path
    return (WORKSPACE if _is_output(path) else ROOT) / path


def relative_path(path):
    """`path` as `resolve` reads it back (relative to the workspace or the repository), or None."""
    path = Path(path).resolve()
    for base, output in ((WORKSPACE, True), (ROOT, False)):
        try:
            relative = path.relative_to(base)
        except ValueError:
            continue
        if _is_output(relative) == output or WORKSPACE == ROOT:
            return relative
    return None


def display_path(path):
    """A path as a user of the repo writes it: relative to the workspace or repository when inside."""
    relative = relative_path(path)
    return str(relative) if relative is not None else str(path)


def is_derived(recipe_path):
    path = Path(recipe_path).resolve()
    return path.name == "recipe.yml" and path.parent.parent == RUNS_DIR / DERIVED


def recipe_home(recipe_path):
    """The folders a recipe owns, from its name alone: data/<name>/ and runs/<name>/ (for a
    derived recipe, runs/derived/<name>/recipe.yml: data/derived/<name>/ and runs/derived/<name>/).
    Returned relative to the repo, as the recipe's own keys would spell them."""
    name = recipe_name(recipe_path)
    data = Path("data") / (f"{DERIVED}/{name}" if is_derived(recipe_path) else name)
    run = Path("runs") / (f"{DERIVED}/{name}" if is_derived(recipe_path) else name)
    return {"train": f"{data}/train.jsonl", "validation": f"{data}/validation.jsonl",
            "output_dir": str(run), "dataset_prepared_path": f"{run}/prepared"}


def derived_home(name, beside=None):
    """The file and folders of a recipe derived from another (a smoke run, a sweep cell): in the repo
    runs/derived/<name>/recipe.yml and data/derived/<name>/ (as recipe_home spells them); with
    beside=<folder> (the sweep of a recipe outside the repo), <folder>/runs/<name>/ and <folder>/data/<name>/."""
    if beside is None:
        path = RUNS_DIR / DERIVED / name / "recipe.yml"
        return path, recipe_home(path)
    run, data = Path(beside) / "runs" / name, Path(beside) / "data" / name
    return run / "recipe.yml", {"train": str(data / "train.jsonl"), "validation": str(data / "validation.jsonl"),
                                "output_dir": str(run), "dataset_prepared_path": str(run / "prepared")}


def sweep_home(recipe_path):
    """(name, beside, report) of a recipe's sweep: every cell is named <name>-<cell>, lives in
    derived_home(cell name, beside) and is reported in `report`.

    A recipe under recipes/ (or a derived one) is named by its path: <name>-sweep, in the repo, with
    reports/<name>-sweep/ (as published). Any other file is named by its stem alone, so its sweep's name
    carries a hash of the file's path, and two lora.yml in different folders never share a cell; a
    recipe outside the repo keeps its sweep beside it, in <dir>/<stem>-<hash>-sweep/ with report/."""
    path = Path(recipe_path).resolve()
    name = recipe_name(path)
    if not (path.is_relative_to(RECIPES_DIR) or is_derived(path)):
        name += "-" + hashlib.sha256(display_path(path).encode("utf-8")).hexdigest()[:8]
    name += "-sweep"
    if relative_path(path) is not None:  # in the repository or the workspace
        return name, None, report_dir(name)
    beside = path.parent / name
    return name, beside, beside / "report"


def owner_of(folder):
    """The recipe a data or run folder belongs to, relative to the repo for folders inside it.
    data/<name> and runs/<name> belong to the recipe named <name>; other folders have no owner."""
    rel = relative_path(folder)
    if rel is None:
        return None
    parts = rel.parts
    if len(parts) < 2 or parts[0] not in ("data", "runs"):
        return None
    if parts[1] == DERIVED:
        return parts[2] if len(parts) > 2 else None
    return parts[1]


def recipe_paths(config, task_name, test_split):
    """Every file a recipe reads or writes, from its Axolotl config (datasets[0].path,
    test_datasets[0].path, output_dir, dataset_prepared_path; slingshot.recipe fills them in
    from recipe_home when the file leaves them out) and its task's test split."""
    def first_path(key):
        entries = config.get(key) or []
        return resolve(entries[0]["path"]) if entries and isinstance(entries[0], dict) and entries[0].get("path") \
            else None

    train = first_path("datasets")
    run = resolve(config["output_dir"])
    return {
        "train": train,
        "validation": first_path("test_datasets"),
        "test": test_split_path(task_name, test_split),
        "manifest": train.parent / MANIFEST if train else None,
        "run": run,
        "summary": run / TRAIN_SUMMARY,
        "adapter": run / ADAPTER_FILE,
        "export": run / EXPORT_DIR,
        "prepared": resolve(config.get("dataset_prepared_path", "last_run_prepared")),
    }
