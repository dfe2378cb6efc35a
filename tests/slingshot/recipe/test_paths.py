"""A recipe owns its paths: a copied recipe writes only into its own folders, and a recipe whose
paths point at another recipe's folders fails before anything is written."""
import hashlib
import uuid

import pytest
import yaml

from data_prep.__main__ import main as prepare
from eval.commands.recipe import main as eval_recipe
from slingshot.commands.export import main as export
from slingshot.commands.train import main as train
from slingshot.layout import REPORTS_DIR, ROOT, RUNS_DIR, recipe_home, recipe_name, relative_path
from slingshot.recipe import RecipeError, load_recipe
from slingshot.recipe.paths import claim_folders, distinct_trainings, recipe_file_named, shipped_recipes
from tests.helpers import DEFAULT_RECIPE, run_in_process, run_module, write_recipe

DEFAULT_NAME = "squad-smollm2-135m-lora-cpu"


@pytest.fixture
def recipe_copy(tmp_path):
    """A user's copy of the default recipe, in a folder of the test's own."""
    def make(text=None, stem=None):
        path = tmp_path / f"{stem or 'test-' + uuid.uuid4().hex[:8]}.yml"
        path.write_text(text if text is not None else DEFAULT_RECIPE.read_text())
        return path

    return make


def load_name(path):
    return recipe_name(path)


def test_recipes_carry_no_paths_and_get_their_own():
    for path in sorted((ROOT / "recipes").glob("*/*/*.yml")):
        config = yaml.safe_load(path.read_text())
        assert "output_dir" not in config and "dataset_prepared_path" not in config, path
        assert all("path" not in d for d in config["datasets"] + config["test_datasets"]), path
    recipes = [load_recipe(p) for p in sorted((ROOT / "recipes").glob("*/*/*.yml"))]
    for key in ("train", "run", "prepared"):
        assert len({r.paths[key] for r in recipes}) == len(recipes), key  # no two share a folder
    recipe = load_recipe(DEFAULT_RECIPE)
    assert recipe.config["output_dir"] == f"runs/{DEFAULT_NAME}"
    assert recipe.config["datasets"][0]["path"] == f"data/{DEFAULT_NAME}/train.jsonl"
    assert recipe.config["dataset_prepared_path"] == f"runs/{DEFAULT_NAME}/prepared"


def test_shipped_recipes_by_name_and_by_training():
    assert recipe_file_named(DEFAULT_NAME) == DEFAULT_RECIPE and recipe_file_named("no-such-recipe") is None
    gpu = shipped_recipes(gpu_only=True)
    assert gpu and DEFAULT_RECIPE in shipped_recipes() and DEFAULT_RECIPE not in gpu
    julia = ROOT / "recipes" / "julia" / "dolphin-2.6-mistral-7b"
    twins = [julia / "lora-cheater.yml", julia / "lora-unseen.yml"]  # scored on different cases, trained alike
    assert distinct_trainings(twins) == twins[:1]
    assert distinct_trainings([DEFAULT_RECIPE, *twins]) == [DEFAULT_RECIPE, twins[0]]


def test_a_copy_gets_folders_of_its_own(recipe_copy):
    path = recipe_copy()
    copy, original = load_recipe(path), load_recipe(DEFAULT_RECIPE)
    assert copy.name == load_name(path) != original.name
    for key in ("train", "validation", "manifest", "run", "summary", "adapter", "prepared"):
        assert copy.paths[key] != original.paths[key]
        assert copy.name in str(relative_path(copy.paths[key]))
    assert copy.paths["test"] == original.paths["test"]  # the held-out split is shared on purpose


def test_a_path_into_another_recipes_folder_fails_with_line_and_fix(recipe_copy):
    text = DEFAULT_RECIPE.read_text().replace("\nsequence_len:", f"\noutput_dir: runs/{DEFAULT_NAME}\nsequence_len:")
    path = recipe_copy(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("output_dir"))
    name = load_name(path)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    message = str(error.value)
    assert f"{path.name}:{line}: output_dir: runs/{DEFAULT_NAME} is a folder of recipe {DEFAULT_NAME} " \
           f"(recipes/squad/smollm2-135m/lora-cpu.yml)" in message
    assert "delete the key" in message and f"set output_dir: runs/{name}" in message

    text = DEFAULT_RECIPE.read_text().replace(
        "  - ds_type: json\n    type", f"  - path: data/{DEFAULT_NAME}/train.jsonl\n    ds_type: json\n    type", 1)
    path = recipe_copy(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "path: data/" in l)
    with pytest.raises(RecipeError, match=rf"{path.name}:{line}: datasets\[0\].path: .* is a folder of recipe {DEFAULT_NAME}"):
        load_recipe(path)


def test_own_paths_written_out_are_accepted(recipe_copy, tmp_path):
    stem = "test-" + uuid.uuid4().hex[:8]
    home = recipe_home(tmp_path / f"{stem}.yml")
    path = recipe_copy(DEFAULT_RECIPE.read_text() + f"output_dir: {home['output_dir']}\n", stem=stem)
    assert load_recipe(path).config["output_dir"] == f"runs/{load_name(path)}"


def test_a_missing_prepared_path_is_filled_in_inside_the_run(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, edit=lambda c: c.pop("dataset_prepared_path")))
    assert recipe.paths["prepared"].resolve().is_relative_to(recipe.paths["run"].resolve())


def test_two_recipes_claiming_one_output_dir_fail_before_anything_is_written(tmp_path, capsys):
    """Both outside the repo, so both may name their own folders, but not the same one (data prep and train
    run in this process, through their commands' main)."""
    shared = tmp_path / "shared-run"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    claim = dict(output_dir=str(shared), dataset_prepared_path=str(shared / "prepared"))  # prepared lies in the run
    first = write_recipe(tmp_path / "a", edit=lambda c: c.update(claim))
    second = write_recipe(tmp_path / "b", edit=lambda c: c.update(claim))
    assert prepare([str(first)]) == 0
    assert (shared / ".owner").read_text().strip() == str(first)

    assert prepare([str(second)]) == 2
    stderr = capsys.readouterr().err
    assert f"output_dir points at {shared}, which belongs to {first}" in stderr
    assert "two recipes cannot share a folder" in stderr and "Fix:" in stderr
    assert not (tmp_path / "b" / "data").exists()  # nothing of the second recipe was written
    assert train([str(second)]) == 2 and "belongs to" in capsys.readouterr().err


def tree_hashes(*folders):
    hashes = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():  # streamed: the shared run's folder may hold its exported GGUFs (gigabytes)
                with open(path, "rb") as f:
                    hashes[str(path)] = hashlib.file_digest(f, "sha256").hexdigest()  # results may live outside the repo
    return hashes


TINY = {"max_steps": 2, "evals_per_epoch": None, "micro_batch_size": 1, "gradient_accumulation_steps": 1,
        "warmup_steps": 0}


@pytest.mark.slow
def test_copy_edit_prepare_train_leaves_the_original_byte_identical(short_run, recipe_copy, tmp_path):
    original = short_run  # the default recipe, prepared and trained (the session's shared short training)
    results = {"SLINGSHOT_RESULTS_DIR": str(tmp_path / "results")}
    run_module("eval", "recipe", original.path, "--limit", "3", env=results, check=True)
    folders = [original.paths["train"].parent, original.output_dir, REPORTS_DIR / original.name, tmp_path / "results"]
    before = tree_hashes(*folders)
    assert any(k.endswith("adapter_model.safetensors") for k in before)
    assert any(k.endswith("train.jsonl") for k in before) and any("predictions.jsonl" in k for k in before)

    # what a user does: cp the default recipe, edit the rank and the data size (and the steps, to stay
    # short), run the same targets
    config = yaml.safe_load(DEFAULT_RECIPE.read_text())
    config.update({k: v for k, v in TINY.items() if v is not None}, lora_r=8)
    config.pop("evals_per_epoch")
    config["slingshot"].update(train_size=6, validation_size=4)
    copy = recipe_copy(yaml.safe_dump(config, sort_keys=False))
    assert prepare([str(copy)]) == 0
    code, out, err = run_in_process(train, copy)
    assert code == 0, out[-3000:] + err[-3000:]

    assert tree_hashes(*folders) == before
    copied = load_recipe(copy)
    assert copied.paths["adapter"].exists() and copied.paths["adapter"].parent == RUNS_DIR / copied.name
    manifest = yaml.safe_load(copied.paths["manifest"].read_text())
    assert manifest["outputs"]["train"]["rows"] == 6
    runnable = yaml.safe_load((copied.output_dir / "axolotl.yml").read_text())
    assert runnable["output_dir"] == f"runs/{copied.name}" and runnable["lora_r"] == 8
    assert "slingshot" not in runnable


def test_export_and_eval_recipe_claim_the_folders_they_write(tmp_path, capsys):
    """A recipe pointing at another recipe's run folder (both outside the repo) cannot export into it or
    score its adapter as its own; two recipes cannot write one report folder (the commands run in this
    process, through their main)."""
    shared = tmp_path / "shared-run"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    claim = dict(output_dir=str(shared), dataset_prepared_path=str(shared / "prepared"))
    first = write_recipe(tmp_path / "a", edit=lambda c: c.update(claim))
    second = write_recipe(tmp_path / "b", edit=lambda c: c.update(claim))
    assert prepare([str(first)]) == 0
    (shared / "adapter_model.safetensors").write_bytes(b"an adapter of the first recipe")
    before = tree_hashes(shared)

    assert export([str(second), "--types", "Q8_0"]) == 2
    assert f"output_dir points at {shared}, which belongs to {first}" in capsys.readouterr().err
    assert not (shared / "export").exists()
    assert eval_recipe([str(second), "--out", str(tmp_path / "report-b")]) == 2
    assert f"output_dir (the adapter scored) points at {shared}, which belongs to {first}" in capsys.readouterr().err
    assert not (tmp_path / "report-b").exists() and tree_hashes(shared) == before

    report = tmp_path / "report"
    claim_folders(load_recipe(first), {report: "--out"})  # what the first recipe's `eval recipe --out` does
    third = write_recipe(_folder(tmp_path / "c"))
    _folder(tmp_path / "c" / "run").joinpath("adapter_model.safetensors").write_bytes(b"its own adapter")
    assert eval_recipe([str(third), "--out", str(report)]) == 2
    assert f"--out points at {report}, which belongs to {first}" in capsys.readouterr().err


def _folder(path):
    path.mkdir()
    return path
