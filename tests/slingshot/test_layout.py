"""Where every file goes: names from recipe paths, outputs in the workspace and the rest in the repository,
read back the way they were written."""
from pathlib import Path

from slingshot import layout
from slingshot.layout import (DATA_DIR, ROOT, RUNS_DIR, WORKSPACE, derived_home, display_path, owner_of, recipe_home,
                              recipe_name, recipe_paths, relative_path, resolve, source_tag, split_of)

CPU = ROOT / "recipes" / "squad" / "smollm2-135m" / "lora-cpu.yml"


def test_recipe_names_from_their_paths(tmp_path):
    assert recipe_name(CPU) == "squad-smollm2-135m-lora-cpu"
    assert recipe_name(RUNS_DIR / "derived" / "tiny" / "recipe.yml") == "tiny"
    assert recipe_name(tmp_path / "mine.yml") == "mine"


def test_outputs_resolve_in_the_workspace_and_the_rest_in_the_repository(tmp_path):
    assert WORKSPACE != ROOT  # the tests' own workspace
    assert resolve("data/x/train.jsonl") == WORKSPACE / "data" / "x" / "train.jsonl"
    assert resolve("models/stand-ins/m") == WORKSPACE / "models" / "stand-ins" / "m"
    assert resolve("models/smollm2") == ROOT / "models" / "smollm2"
    assert resolve(tmp_path / "abs") == tmp_path / "abs"
    for written in ("data/x/train.jsonl", "runs/r", "recipes/squad", "models/stand-ins/m"):
        assert display_path(resolve(written)) == written
    assert relative_path(tmp_path) is None and display_path(tmp_path) == str(tmp_path)
    assert relative_path(ROOT / "data" / "x") is None  # an output folder name, but in the repository


def test_only_the_verified_source_builds_the_shared_split(tmp_path):
    assert layout.test_split_name("dev-200", "local") == "dev-200"
    assert layout.test_split_name("dev-200", "hub:rajpurkar/squad") == "dev-200@hub-rajpurkar-squad"
    a, b = source_tag(str(tmp_path / "a" / "my squad")), source_tag(str(tmp_path / "b" / "my squad"))
    assert a.startswith("my-squad-") and b.startswith("my-squad-") and a != b
    path = layout.test_split_path("squad", "dev-200")
    assert path == DATA_DIR / "squad" / "test" / "dev-200.jsonl" and split_of(path) == ("squad", "dev-200")


def test_a_recipe_owns_its_data_and_run_folders():
    assert recipe_home(CPU) == {"train": "data/squad-smollm2-135m-lora-cpu/train.jsonl",
                                "validation": "data/squad-smollm2-135m-lora-cpu/validation.jsonl",
                                "output_dir": "runs/squad-smollm2-135m-lora-cpu",
                                "dataset_prepared_path": "runs/squad-smollm2-135m-lora-cpu/prepared"}
    path, home = derived_home("tiny")
    assert path == RUNS_DIR / "derived" / "tiny" / "recipe.yml" and home["train"] == "data/derived/tiny/train.jsonl"
    assert owner_of(RUNS_DIR / "derived" / "tiny") == "tiny" and owner_of(DATA_DIR / "mine" / "x") == "mine"
    assert owner_of(RUNS_DIR / "derived") is None and owner_of(WORKSPACE / "results" / "a") is None


def test_a_recipe_outside_the_repository_derives_beside_itself(tmp_path):
    path, home = derived_home("cell", beside=tmp_path / "sweep")
    assert path == tmp_path / "sweep" / "runs" / "cell" / "recipe.yml"
    assert home["validation"] == str(tmp_path / "sweep" / "data" / "cell" / "validation.jsonl")
    assert owner_of(tmp_path / "sweep" / "runs" / "cell") is None


def test_recipe_paths_from_the_config():
    config = {"datasets": [{"path": "data/r/train.jsonl"}], "test_datasets": [], "output_dir": "runs/r"}
    paths = recipe_paths(config, "squad", "dev-200")
    assert paths["train"] == WORKSPACE / "data" / "r" / "train.jsonl" and paths["validation"] is None
    assert paths["manifest"] == WORKSPACE / "data" / "r" / layout.MANIFEST
    assert paths["adapter"] == WORKSPACE / "runs" / "r" / layout.ADAPTER_FILE
    assert paths["test"] == layout.test_split_path("squad", "dev-200")
    assert paths["prepared"] == ROOT / "last_run_prepared" and isinstance(paths["summary"], Path)
