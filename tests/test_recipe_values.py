"""Bad recipe values end in `error: <file>:<line>: ...` from `python -m data_prep`, never a traceback."""
import re

import pytest

from slingshot.errors import UserError
from slingshot.recipe import load_recipe
from slingshot.train import PREPARED_MARK, fresh_prepared_folder
from tests.conftest import run_module, write_recipe

BOMB = "".join(f"bomb{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9 if i else ['x'] * 9)}]\n" for i in range(9))


def line_of(text, pattern):
    return next(i for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line))


def edit_text(path, old, new):
    text = path.read_text()
    assert re.search(old, text, flags=re.M), old
    path.write_text(re.sub(old, new, text, count=1, flags=re.M))
    return path.read_text()


# (name, text replaced (regex), replacement, the line the error names (regex), what the message says)
CASES = [
    ("validation_size as a percentage", r"validation_size: .*", "validation_size: 10%", r"validation_size",
     r"slingshot.validation_size: expected a count >= 1.*'10%'"),
    ("validation_size zero", r"validation_size: .*", "validation_size: 0", r"validation_size",
     r"slingshot.validation_size: expected a count >= 1.*got 0"),
    ("infinite percentage", r"train_size: .*", "train_size: inf%", r"train_size",
     r"slingshot.train_size: 'inf%': a percentage must be a number above 0 and at most 100"),
    ("percentage above 100", r"train_size: .*", "train_size: 150%", r"train_size", r"at most 100"),
    ("seed not a number", r"^  seed: .*", "  seed: abc", r"^  seed", r"slingshot.seed: expected an integer, got 'abc'"),
    ("Axolotl's seed not a number", r"^seed: .*", "seed: abc", r"^seed", r"Axolotl rejects the config: seed: "),
    ("numeric top-level key", r"^lora_r: .*", "lora_r: 32\n123: x", r"^123", r"key 123 is not a name"),
    ("duplicated key", r"^lora_r: .*", "lora_r: 32\nlora_r: 8", r"^lora_r: 8",
     r"key 'lora_r' is given twice \(first at line \d+\)"),
    ("duplicated slingshot key", r"^  seed: .*", "  seed: 0\n  seed: 1", r"^  seed: 1", r"key 'seed' is given twice"),
    ("alias bomb", r"^lora_r: .*", "lora_r: 32\n" + BOMB.rstrip(), r"^bomb5:",  # the first anchor past the bound
     r"YAML aliases here expand to more than 100,000 values"),
    ("prepared path is the repository", r"^dataset_prepared_path: .*", "dataset_prepared_path: .",
     r"^dataset_prepared_path", r"dataset_prepared_path: \. is not this recipe's folder.*Fix: delete the key"),
    ("prepared path is the data folder", r"^dataset_prepared_path: .*", "dataset_prepared_path: data",
     r"^dataset_prepared_path", r"dataset_prepared_path: data is not this recipe's folder.*Fix: delete the key"),
    ("hub source while offline", r"source: .*", "source: hub:rajpurkar/squad", r"source:",
     r"slingshot.source: hub:rajpurkar/squad needs the Hugging Face hub.*offline.*source: local"),
]


@pytest.mark.parametrize("name, old, new, line, message", CASES, ids=[c[0] for c in CASES])
def test_bad_value_is_an_error_naming_file_and_line(tmp_path, name, old, new, line, message):
    path = write_recipe(tmp_path)
    text = edit_text(path, old, new)
    result = run_module("data_prep", path, timeout=120, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: {path}:{line_of(text, line)}: "), error
    assert re.search(message, error), error
    assert len(result.stderr) < 2000  # a short message, not the expanded document
    assert not (tmp_path / "data").exists()  # nothing written


def test_a_folder_given_as_recipe(tmp_path):
    result = run_module("data_prep", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {tmp_path}: is a folder, not a recipe; give the recipe's .yml file"


def test_a_prepared_path_outside_the_repo_must_lie_in_the_run(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c.update(dataset_prepared_path=str(tmp_path / "elsewhere")))
    with pytest.raises(UserError, match=r"recipe.yml:\d+: dataset_prepared_path: .* is outside the run folder"):
        load_recipe(path)


def test_a_missing_prepared_path_is_filled_in_inside_the_run(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, edit=lambda c: c.pop("dataset_prepared_path")))
    assert recipe.paths["prepared"].resolve().is_relative_to(recipe.paths["run"].resolve())


def test_good_values_pass(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(train_size="4%", seed=7))
    recipe = load_recipe(path)
    assert recipe.block["train_size"] == "4%" and recipe.lines["slingshot.seed"] > recipe.lines["slingshot"]


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
