"""Fixtures and hooks for pytest; helper functions live in tests/helpers."""
import os
import shutil

import pytest

from tests.helpers import DEFAULT_RECIPE, MODEL_DIR, WORKSPACE, checkout_files, run_in_process


@pytest.fixture(scope="session")
def model_dir():
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip("the embedded model is not converted yet: run `make model`")
    return MODEL_DIR


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
    from data_prep.__main__ import main as prepare
    from slingshot.commands.train import main as train
    from slingshot.recipe import load_recipe, short_recipe
    recipe = short_recipe(load_recipe(DEFAULT_RECIPE))
    for command in (prepare, train):
        code, out, err = run_in_process(command, recipe.path)
        assert code == 0, out[-3000:] + err[-3000:]
    recipe.train_stdout = out
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
