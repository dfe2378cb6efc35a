"""What a run folder holds besides the adapter: which entries are checkpoints, and which tokenized-data
folders training may clear (the hostile suite attacks the rest: tests/hostile/test_checkpoints.py)."""
from pathlib import Path

import pytest

from slingshot.errors import UserError
from slingshot.recipe import load_recipe
from slingshot.run_folder import PREPARED_MARK, _only_axolotl_output, checkpoint_step, fresh_prepared_folder
from tests.helpers import write_recipe


def test_only_checkpoint_dash_digits_is_a_checkpoint():
    assert checkpoint_step(Path("runs/x/checkpoint-12")) == 12
    for name in ("checkpoint-12.2", "checkpoint-", "checkpoint-x", "my-checkpoint-3", "checkpoint-1-2"):
        assert checkpoint_step(Path("runs/x") / name) is None, name


def test_a_folder_of_axolotls_own_files_may_be_cleared_and_one_holding_anything_else_not(tmp_path):
    (tmp_path / "datasets_ready.flag").write_text("")
    (tmp_path / "abc" / "train").mkdir(parents=True)
    (tmp_path / "abc" / "train" / "state.json").write_text("{}")
    assert _only_axolotl_output(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    assert not _only_axolotl_output(tmp_path)


def test_training_clears_only_the_prepared_folder_it_made(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    prepared = recipe.paths["prepared"]
    prepared.mkdir(parents=True)
    (prepared / "precious.txt").write_text("not made by training")
    with pytest.raises(UserError, match=r"recipe.yml:\d+: dataset_prepared_path .* exists but was not made by training"):
        fresh_prepared_folder(recipe)
    assert (prepared / "precious.txt").exists()

    (prepared / "precious.txt").unlink()
    prepared.rmdir()
    fresh_prepared_folder(recipe)  # made here: marked
    (prepared / "tokenized.arrow").write_text("old tokenized data")
    fresh_prepared_folder(recipe)  # ours: cleared and marked again
    assert sorted(p.name for p in prepared.iterdir()) == [PREPARED_MARK]

    (prepared / PREPARED_MARK).unlink()  # left by an older training: only Axolotl's own output
    (prepared / "0a1b2c").mkdir()
    (prepared / "0a1b2c" / "state.json").write_text("{}")
    (prepared / "datasets_ready.flag").write_text("")
    fresh_prepared_folder(recipe)
    assert sorted(p.name for p in prepared.iterdir()) == [PREPARED_MARK]


def test_training_refuses_a_prepared_folder_outside_the_run(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    recipe.config["dataset_prepared_path"] = str(tmp_path / "data")  # bypassing the recipe check
    (tmp_path / "data").mkdir()
    with pytest.raises(UserError, match="outside the run folder"):
        fresh_prepared_folder(recipe)
    assert (tmp_path / "data").exists()
