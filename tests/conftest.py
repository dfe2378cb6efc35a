import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every output (data/, runs/, results/, reports/, stand-ins) goes to a workspace of this session's own,
# set before slingshot is imported and inherited by every command a test runs: the checkout stays as it was.
# (this file is imported twice, as pytest's conftest and as tests.conftest: both must name one workspace)
_pid, _, _made = os.environ.get("SLINGSHOT_TEST_WORKSPACE_OF", "").partition(":")
WORKSPACE = Path(_made if _pid == str(os.getpid()) else tempfile.mkdtemp(prefix="slingshot-tests-"))
os.environ["SLINGSHOT_TEST_WORKSPACE_OF"] = f"{os.getpid()}:{WORKSPACE}"
os.environ["SLINGSHOT_WORKSPACE"] = str(WORKSPACE)
os.environ.pop("SLINGSHOT_RESULTS_DIR", None)
# set-up outputs that tests read but never write, and caches of tools
SET_UP = {".git", ".venv", "models", "third_party", ".julia-install", "__pycache__", ".pytest_cache", ".ruff_cache"}

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


def checkout_files():
    """{path: (size, mtime)} of every file in the checkout but set-up outputs and caches."""
    files = {}
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SET_UP]
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.lstat(path)
            except FileNotFoundError:
                continue
            files[os.path.relpath(path, ROOT)] = (stat.st_size, stat.st_mtime_ns)
    return files


@pytest.fixture(scope="session", autouse=True)
def checkout_untouched():
    """Fails the session when any test created, changed or deleted a file in the checkout."""
    before = checkout_files()
    yield
    after = checkout_files()
    changed = sorted(p for p in before.keys() & after.keys() if before[p] != after[p])
    added, removed = sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())
    if os.environ.get("SLINGSHOT_KEEP_TEST_WORKSPACE") != "1":
        shutil.rmtree(WORKSPACE, ignore_errors=True)
    assert not (added or changed or removed), (
        "tests wrote into the checkout (they may write only under their temporary folders): "
        f"added {added[:20]}, changed {changed[:20]}, removed {removed[:20]}")


@pytest.fixture(scope="session")
def short_run(model_dir):
    """The default recipe's short setting (3 steps on 24 questions), prepared and trained once per session
    and shared by every test that only reads its adapter (end to end, export, the notebook, the viewer).
    `train_stdout`: what the training printed."""
    from slingshot.recipe import load_recipe, short_recipe
    recipe = short_recipe(load_recipe(DEFAULT_RECIPE))
    run_module("data_prep", recipe.path, check=True)
    recipe.train_stdout = run_module("slingshot.train", recipe.path, check=True).stdout
    return recipe



def _order_seed():
    order = os.environ.get("SLINGSHOT_TEST_ORDER", "")
    if not order.startswith("random"):
        return None
    import random
    return int(order.partition(":")[2] or random.randrange(10_000))


ORDER_SEED = _order_seed()


def pytest_report_header(config):
    if ORDER_SEED is not None:
        return f"tests in random order, seed {ORDER_SEED} (SLINGSHOT_TEST_ORDER=random:{ORDER_SEED} repeats it)"


def pytest_collection_modifyitems(config, items):
    """SLINGSHOT_TEST_ORDER=random[:SEED] shuffles the files and the tests in each file (a file's tests
    stay together, so its module fixtures are built once): order-dependence shows up as failures."""
    if ORDER_SEED is None:
        return
    import random
    rng = random.Random(ORDER_SEED)
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    groups = list(files.values())
    rng.shuffle(groups)
    for group in groups:
        rng.shuffle(group)
    items[:] = [item for group in groups for item in group]
