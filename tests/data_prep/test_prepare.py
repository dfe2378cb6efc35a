"""A recipe's data, written once: outputs where the recipe's paths say, a manifest with hashes, a no-op when
nothing changed, and a rebuild when an output was changed. (The dates task: it needs no source download.)"""
import json

import pytest

from data_prep.prepare import data_builder, is_up_to_date, prepare_recipe
from slingshot.errors import UserError
from slingshot.recipe import load_recipe
from tests.helpers import ROOT, write_recipe

DATES = ROOT / "recipes" / "dates" / "smollm2-135m" / "lora-cpu.yml"


def small(config):
    config["slingshot"].update(train_size=8, validation_size=2)


@pytest.fixture
def recipe(tmp_path):
    return load_recipe(write_recipe(tmp_path, base=DATES, edit=small))


def test_the_rows_and_the_manifest(recipe, capsys):
    manifest = prepare_recipe(recipe)
    assert {k: v["rows"] for k, v in manifest["outputs"].items()} == {"train": 8, "validation": 2, "test": 200}
    assert json.loads(recipe.paths["manifest"].read_text()) == manifest
    assert "wrote train 8, validation 2, test 200" in capsys.readouterr().out


def test_a_second_run_is_a_no_op_until_an_output_changes(recipe, capsys):
    first = prepare_recipe(recipe)
    assert is_up_to_date(recipe.paths["manifest"], first["fingerprint"])
    assert not is_up_to_date(recipe.paths["manifest"], "another fingerprint")
    assert prepare_recipe(recipe) == first and ": up to date" in capsys.readouterr().out
    recipe.paths["train"].write_text("{}\n")
    assert not is_up_to_date(recipe.paths["manifest"], first["fingerprint"])
    prepare_recipe(recipe)
    assert "wrote train 8" in capsys.readouterr().out


def test_the_shared_test_split_has_a_manifest_eval_checks_it_against(recipe, capsys):
    from eval.splits import check_split_file
    from slingshot.io import sha256_file
    from slingshot.layout import display_path, test_split_manifest_path
    manifest = prepare_recipe(recipe)
    split = recipe.paths["test"]
    record = json.loads(test_split_manifest_path("dates", split.stem).read_text())
    assert record["sha256"] == sha256_file(split) == manifest["outputs"]["test"]["sha256"]
    assert record["bytes"] == split.stat().st_size and record["rows"] == 200 and record["task"] == "dates"
    assert record["prompt_version"] == recipe.task.PROMPT_VERSION and record["sources"] == manifest["sources"]
    assert record["rebuild"] == f"make prepare RECIPE={display_path(recipe.path)}"
    assert check_split_file(split) == record
    test_split_manifest_path("dates", split.stem).unlink()  # a split from before manifests: prepared again
    assert not is_up_to_date(recipe.paths["manifest"], manifest["fingerprint"])
    prepare_recipe(recipe)
    assert "wrote train 8" in capsys.readouterr().out and check_split_file(split)["sha256"] == record["sha256"]


def test_a_task_data_builder_must_define_its_functions():
    assert data_builder("dates").__name__ == "data_prep.dates"
    with pytest.raises(UserError, match="data_prep/prepare.py: missing prepare, source_fingerprint"):
        data_builder("prepare")
