"""Checkpoints in odd layouts: nothing already saved is deleted, nothing foreign is resumed, and a
layout that cannot be sorted out is a clear error naming the path (fast: no training)."""
import json

import pytest

from slingshot.errors import UserError
from slingshot.recipe import load_recipe
from slingshot.run_folder import settle_checkpoints
from slingshot.smoke import smoke_overrides
from slingshot.train import run_fingerprint
from tests.helpers import write_recipe


@pytest.fixture
def recipe(tmp_path):
    r = load_recipe(write_recipe(tmp_path))
    r.output_dir.mkdir(parents=True)
    return r


def checkpoint(run, step, complete=True, marker=""):
    folder = run / f"checkpoint-{step}"
    folder.mkdir()
    if complete:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (folder / "marker.txt").write_text(marker)
    return folder


def test_moving_aside_never_deletes_an_earlier_checkpoint(recipe):
    run = recipe.output_dir
    checkpoint(run, 5, marker="first")
    settle_checkpoints(recipe, "aaa")          # no mark: nothing is resumed, moved to superseded/unknown
    checkpoint(run, 5, marker="second")
    settle_checkpoints(recipe, "aaa", fresh=True)
    checkpoint(run, 5, marker="third")
    settle_checkpoints(recipe, "aaa", fresh=True)
    markers = sorted(p.read_text() for p in (run / "superseded").rglob("marker.txt"))
    assert markers == ["first", "second", "third"]


def test_only_complete_numbered_checkpoints_of_this_training_resume(recipe):
    run = recipe.output_dir
    settle_checkpoints(recipe, "fp1")
    checkpoint(run, 3)
    checkpoint(run, 10, complete=False)         # half-written by a kill
    (run / "checkpoint-12").write_text("not a folder")  # Axolotl would take this for the latest
    (run / "checkpoint-abc").mkdir()           # Axolotl ignores non-numeric names, and so do we
    left = settle_checkpoints(recipe, "fp1")
    assert [p.name for p in left] == ["checkpoint-3"]
    assert not (run / "checkpoint-10").exists() and not (run / "checkpoint-12").exists()
    assert (run / "checkpoint-abc").exists()
    assert settle_checkpoints(recipe, "fp2") == [] and not (run / "checkpoint-3").exists()


@pytest.mark.parametrize("mark", ["{oops", "[1, 2]", json.dumps({"fingerprint": "../../x"}),
                                  json.dumps({"fingerprint": "a" * 300})])
def test_a_forged_or_broken_mark_resumes_nothing_and_escapes_nowhere(recipe, mark):
    run = recipe.output_dir
    checkpoint(run, 4)
    (run / "training.json").write_text(mark)
    assert settle_checkpoints(recipe, "fp") == []
    assert [p.parent.name for p in run.glob("superseded/*/checkpoint-4")] == ["unknown"]


def test_layouts_that_cannot_be_sorted_out_are_clear_errors(recipe):
    run = recipe.output_dir
    checkpoint(run, 4)
    (run / "superseded").write_text("a file where the folder goes")
    with pytest.raises(UserError, match="superseded"):
        settle_checkpoints(recipe, "fp")
    (run / "superseded").unlink()
    (run / "training.json").mkdir()
    with pytest.raises(UserError, match="training.json"):
        settle_checkpoints(recipe, "fp")


def test_resume_and_scoring_keys_do_not_strand_a_run(tmp_path):
    """Adding auto-resume after a kill, or editing the eval or price settings, keeps the fingerprint;
    a change to what is trained does not."""
    from tests.helpers import run_module
    path = write_recipe(tmp_path)
    run_module("data_prep", path, check=True)
    before = run_fingerprint(load_recipe(path))

    def fingerprint_after(edit):
        import yaml
        config = yaml.safe_load(path.read_text())
        edit(config)
        other = tmp_path / "other.yml"
        other.write_text(yaml.safe_dump(config, sort_keys=False))
        return run_fingerprint(load_recipe(other))
    assert fingerprint_after(lambda c: c.update(auto_resume_from_checkpoints=True, save_strategy="steps", save_steps=5)) == before
    assert fingerprint_after(lambda c: c["slingshot"].update(eval={"max_new_tokens": 8},
                                                             hardware={"name": "x", "usd_per_hour": 9})) == before
    assert fingerprint_after(lambda c: c.update(learning_rate=0.001)) != before


def test_smoke_keeps_a_full_fine_tune_and_catches_every_bitsandbytes_optimizer():
    changed = dict((k, v) for k, v, _ in smoke_overrides({"base_model": "models/x", "optimizer": "lion_8bit"}))
    assert "adapter" not in changed and changed["optimizer"] == "adamw_torch"
    for name in ("adamw_8bit", "paged_ademamix_8bit", "rmsprop_bnb_8bit", "paged_adamw_32bit"):
        assert ("optimizer", "adamw_torch") in {(k, v) for k, v, _ in smoke_overrides({"base_model": "m", "optimizer": name})}
    assert "optimizer" not in dict((k, v) for k, v, _ in smoke_overrides({"base_model": "m", "optimizer": "adamw_torch_fused"}))
