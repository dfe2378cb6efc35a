"""Inputs a fresh reviewer broke things with: each now fails with a clear error, before anything is written."""
import json

import pytest
import yaml

from eval.store import RunStore
from slingshot.sweep import SweepError, make_cells, parse_sweep, sweep_name
from slingshot.errors import UserError
from slingshot.recipe import RecipeError, claim_folders, load_recipe
from slingshot.layout import ROOT
from tests.helpers import DEFAULT_RECIPE


def copy_to(path, edit=None):
    config = yaml.safe_load(DEFAULT_RECIPE.read_text())
    if edit:
        edit(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize("where", ["a/../recipe.yml", "squad.yml", "derived.yml"])
def test_names_that_would_own_shared_folders_are_refused(tmp_path, where):
    (tmp_path / "a").mkdir()
    path = copy_to(tmp_path / "x" / where if where.startswith("a/") else tmp_path / where)
    if where.startswith("a/"):  # x/a/../recipe.yml is x/recipe.yml: named after x, not '..'
        assert load_recipe(tmp_path / "x" / "a" / ".." / "recipe.yml").name == "x"
        return
    with pytest.raises(RecipeError, match="every recipe shares"):
        load_recipe(path)


def test_train_and_validation_on_one_file_or_on_the_recipe_are_refused(tmp_path):
    def same(config):
        config["datasets"] = [{"path": str(tmp_path / "d.jsonl"), "type": "chat_template"}]
        config["test_datasets"] = [{"path": str(tmp_path / "d.jsonl"), "type": "chat_template", "split": "train"}]
    with pytest.raises(RecipeError, match="the same file"):
        claim_folders(load_recipe(copy_to(tmp_path / "same.yml", same)))

    def itself(config):
        config["datasets"] = [{"path": str(tmp_path / "self.yml"), "type": "chat_template"}]
    with pytest.raises(RecipeError, match="recipe file itself"):
        claim_folders(load_recipe(copy_to(tmp_path / "self.yml", itself)))


@pytest.mark.parametrize("spec, message", [
    ("lora_r=8,,32", "empty value"), ("seed=0,0", "repeats a value"), ("lora_r=null", "numbers, words"),
    ("lora_r=[8", "not a plain number"), ("train_size=8 slingshot.train_size=16", "given twice"),
    ("wandb_project=a/b,a_b", "share the folder name"), ("seed=" + ",".join(map(str, range(65))), "at most 64"),
    ("lora_r=8,8.0", "lora_r: repeats a value: 8 and 8.0 are the same, so the same cell would train twice"),
    ("learning_rate=1e-4,0.0001", "repeats a value: 0.0001 and 0.0001"), ("num_epochs=1,1.0", "repeats a value"),
    ("lora_r=16,-8", "lora_r: expected an integer >= 1 and <= 65536, got -8; e.g. lora_r: 16"),
    ("learning_rate=0.001,-1", "learning_rate: expected a number > 0, got -1"),
    ("slingshot.train_size=64,0", "train_size: expected a count >= 1, a percentage"),
    ("test_datasets=foo", "test_datasets: cannot be swept: .*; a sweep varies Axolotl training settings .* and the "
                          "slingshot keys allow_test_contamination, slingshot.seed, source, train_size, validation_size"),
    ("datasets=foo", "datasets: cannot be swept"), ("dataset_prepared_path=x", "cannot be swept"),
    ("task=julia", "task: cannot be swept: a sweep compares cells of one task"),
    ("test_split=dev-1000", "test_split: cannot be swept: every cell is scored on the recipe's test split"),
    ("slingshot.eval=x", "cannot be swept"), ("hardware=x", "cannot be swept"), ("slingshot=x", "cannot be swept"),
    ("adapter=lora,qlora", r"--sweep: the cell \{'adapter': 'qlora'\} is not a valid recipe: Axolotl rejects the "
                           r"config: .*load_in_4bit"),
])
def test_bad_sweeps_fail_before_any_cell_is_written(spec, message):
    recipe = load_recipe(DEFAULT_RECIPE)
    derived = ROOT / "runs" / "derived"
    before = sorted(derived.glob(f"{sweep_name(recipe)}-*"))
    with pytest.raises(SweepError, match=message):
        make_cells(recipe, parse_sweep(spec))
    assert sorted(derived.glob(f"{sweep_name(recipe)}-*")) == before


def test_a_duplicated_answer_makes_the_store_damaged_not_silently_replaced(tmp_path):
    store = RunStore(tmp_path / "run")
    store.folder.mkdir()
    rows = [{"id": "q1", "answer": "a"}, {"id": "q2", "answer": "b"}, {"id": "q1", "answer": "forged"}]
    store.predictions_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done, bad = store.scan()
    assert done["q1"]["answer"] == "a" and bad == [3]
    assert "1 corrupt line(s) (line 3)" in store.problem(expected=2)


def test_a_key_pasted_as_the_variable_name_is_never_echoed(monkeypatch):
    from eval.backends.openai_api import OpenAIBackend

    key = "sk-test-THISISASECRETKEY1234567890"
    with pytest.raises(UserError) as caught:
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=key)
    assert key not in str(caught.value) and "NAME" in str(caught.value)


def test_a_new_label_finds_the_run_its_settings_already_have(tmp_path):
    identity = {"split": "dev-200", "model": "openai:some-model", "generation": {"max_new_tokens": 32}}
    first = RunStore.for_identity(identity, "old label", tmp_path)
    first.folder.mkdir(parents=True)
    first.write_meta({"label": "old label"})
    assert RunStore.for_identity(identity, "new label", tmp_path).folder == first.folder  # never paid twice
    other = RunStore.for_identity({**identity, "model": "openai:other"}, "new label", tmp_path)
    assert other.folder != first.folder
