import copy

import pytest
import yaml

from data_prep import julia as julia_prep
from data_prep import squad as squad_prep
from slingshot.layout import ROOT
from slingshot.contamination import ContaminationError, check, contamination_statement, enforce
from slingshot.recipe import Recipe
from slingshot.tasks import julia as task

RECIPES = ROOT / "recipes" / "julia" / "dolphin-2.6-mistral-7b"


def recipe_rows(name):
    """The rows data prep builds for a recipe (its parameters read without the Axolotl check)."""
    path = RECIPES / name
    recipe = Recipe(path, yaml.safe_load(path.read_text()), {})
    rows, _, _ = julia_prep.prepare(recipe.params())
    return recipe, rows


@pytest.fixture(scope="module")
def cheater():
    return recipe_rows("lora-cheater.yml")


@pytest.fixture(scope="module")
def unseen():
    return recipe_rows("lora-unseen.yml")


def test_cheater_recipe_trains_on_its_test_cases(cheater):
    recipe, rows = cheater
    result = check("julia", rows["train"] + rows["validation"], rows["test"])
    test_cases = {r["case"] for r in rows["test"]}
    assert result["contaminated"]
    assert result["seen_cases"] == sorted(test_cases & set(recipe.block["train_cases"]))
    assert result["unseen_cases"] == sorted(test_cases & set(task.HELD_OUT_CASES))
    assert result["n_test_affected"] == sum(r["case"] in result["seen_cases"] for r in rows["test"])
    assert result["overlap"]["prompts"], "the leaderboard's own prompts are in the training data"
    statement = contamination_statement(result)
    assert statement.startswith("Contaminated") and "wrap_string" in statement and "pig_latinify" in statement
    with pytest.raises(ContaminationError, match="allow_test_contamination: true"):
        enforce(result, allowed=False, where="lora-cheater.yml:66")
    assert recipe.block["allow_test_contamination"] is True
    enforce(result, allowed=recipe.block["allow_test_contamination"], where="lora-cheater.yml")


def test_unseen_recipe_is_clean(unseen):
    recipe, rows = unseen
    result = check("julia", rows["train"] + rows["validation"], rows["test"])
    assert not result["contaminated"] and result["n_test_affected"] == 0
    assert result["seen_cases"] == [] and set(result["unseen_cases"]) == set(task.HELD_OUT_CASES)
    assert all(not v for v in result["overlap"].values())
    assert recipe.block.get("allow_test_contamination", False) is False
    enforce(result, allowed=False, where="lora-unseen.yml")
    assert contamination_statement(result).startswith("No contamination found: none of the 15 test examples")


def test_julia_prompt_found_without_a_case_label(unseen):
    _, rows = unseen
    leaked = copy.deepcopy(rows["test"][0])  # a training row built by hand from a test prompt
    leaked.pop("case")
    leaked["messages"].append({"role": "assistant", "content": "```julia\nx = 1\n```"})
    result = check("julia", rows["train"] + [leaked], rows["test"])
    assert result["overlap"]["prompts"] == [rows["test"][0]["id"]]
    assert result["seen_cases"] == [rows["test"][0]["case"]]
    same_case = [r["id"] for r in rows["test"] if r["case"] == rows["test"][0]["case"]]
    assert result["affected_ids"] == sorted(same_case)


def test_julia_task_statement_found_under_another_system_message(unseen):
    _, rows = unseen
    reworded = copy.deepcopy(rows["test"][0])
    reworded.pop("case")
    reworded["messages"][0]["content"] = "You write Julia."
    result = check("julia", [reworded], rows["test"])
    assert result["overlap"]["prompts"] == []
    assert rows["test"][0]["id"] in result["overlap"]["task_statements"]
    assert result["seen_cases"] == [rows["test"][0]["case"]]


@pytest.fixture(scope="module")
def dev_questions():
    return list(squad_prep.questions(squad_prep.load_source("local", "dev")[0]))


@pytest.fixture(scope="module")
def train_questions():
    return list(squad_prep.questions(squad_prep.load_source("local", "train")[0]))


def test_squad_shared_question_ids_and_passages(dev_questions):
    by_paragraph = {}
    for q in dev_questions:
        by_paragraph.setdefault(q["paragraph"], []).append(q)
    first, second = [qs for qs in by_paragraph.values() if len(qs) >= 2][0][:2]
    third = [qs for qs in by_paragraph.values() if len(qs) >= 2][1][0]
    test = [squad_prep.test_row(q) for q in (first, third)]
    # a training question on the same passage as the first test question, and a copy of the third
    train = [squad_prep.training_row(second), squad_prep.training_row(third)]
    result = check("squad", train, test)
    assert result["contaminated"] and result["n_test_affected"] == 2
    assert result["overlap"]["passages"] == sorted([first["id"], third["id"]])
    assert result["overlap"]["ids"] == [third["id"]] and result["overlap"]["prompts"] == [third["id"]]
    assert "2 of the 2 test examples" in contamination_statement(result)
    with pytest.raises(ContaminationError):
        enforce(result, allowed=False, where="recipe.yml")


def test_squad_train_split_shares_nothing_with_dev(train_questions, dev_questions):
    train = [squad_prep.training_row(q) for q in train_questions[:500]]
    test = [squad_prep.test_row(q) for q in dev_questions[:500]]
    result = check("squad", train, test)
    assert not result["contaminated"] and result["affected_ids"] == []


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task 'chess'"):
        check("chess", [], [])
