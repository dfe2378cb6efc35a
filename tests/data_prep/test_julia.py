import json
from collections import Counter
from pathlib import Path

import pytest

from data_prep import julia as prep
from data_prep.prepare import prepare_recipe
from slingshot.layout import resolve
from slingshot.metrics.julia.cases import iter_stored_runs, leaderboard_root
from slingshot.layout import ROOT
from slingshot.io import read_jsonl
from slingshot.recipe import load_recipe
from slingshot.tasks import julia as task
from tests.helpers import write_recipe

CPU_RECIPE = ROOT / "recipes" / "julia" / "smollm2-135m" / "lora-cpu.yml"
SMALL = {**task.RECIPE_DEFAULTS, "train_cases": ["keep_only_names", "wrap_string", "timezone_bumper"],
         "top_n_per_case": 5, "validation_size": 6, "test_split": "cpu-small"}


@pytest.fixture(scope="module")
def root():
    return leaderboard_root()


@pytest.fixture(scope="module")
def runs(root):
    return prep.load_runs(root)


@pytest.fixture(scope="module")
def small(runs):
    return prep.prepare(SMALL)


def answer(row):
    return row["messages"][-1]["content"]


def test_message_types_convert_to_chat_roles(root):
    path = next(root.glob("utility_functions/wrap_string/gpt-4-1106-preview/conversation__InJulia__*.json"))
    conversation = json.loads(path.read_text())
    messages = task.to_chat(conversation)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert [m["content"] for m in messages] == [m["content"] for m in conversation]
    assert task.prompt_of(messages) == messages[:2]
    with pytest.raises(ValueError, match="message 1: unknown PromptingTools message type 'toolmessage'"):
        task.to_chat([conversation[0], {"_type": "toolmessage", "content": "x"}])


def test_one_prompt_rendering_per_template_except_the_recap_update(runs):
    _, renderings, _ = runs
    for (case, template), variants in renderings.items():
        if template not in task.PROMPT_TEMPLATES:
            continue
        # The Recap templates' system message was reworded once in 2024; the others never changed.
        assert len(variants) == (2 if template.startswith("JuliaRecap") else 1), (case, template)
        chosen = task.pick_rendering(variants)
        assert variants[task.prompt_text(chosen)]["runs"] == max(v["runs"] for v in variants.values())


def test_pick_rendering_breaks_ties_by_latest_then_text():
    variants = {
        "a": {"messages": ["older"], "runs": 3, "latest": "20240101_000000"},
        "b": {"messages": ["newer"], "runs": 3, "latest": "20240301_000000"},
        "c": {"messages": ["rare"], "runs": 1, "latest": "20240901_000000"},
    }
    assert task.pick_rendering(variants) == ["newer"]


def test_sizes_top_n_per_case_and_validation(small):
    rows, _, stats = small
    assert len(rows["train"]) == 3 * 5 and len(rows["validation"]) == 6
    assert Counter(r["case"] for r in rows["train"]) == {c: 5 for c in SMALL["train_cases"]}
    assert {r["case"] for r in rows["validation"]} == set(SMALL["train_cases"])
    assert stats["per_case"]["wrap_string"]["train"] == 5


def test_training_rows_are_stored_full_score_conversations(small, root):
    rows, _, _ = small
    wanted = {r["id"]: r for r in rows["train"] + rows["validation"]}
    found = 0
    for run in iter_stored_runs(root, case=None):
        row_id = f"{run['case']}/{run['model']}/{run['prompt_label']}/{run['timestamp']}"
        if row_id in wanted:
            e = run["evaluation"]
            assert e["parsed"] and e["executed"], row_id
            assert e["unit_tests_passed"] == e["unit_tests_count"], row_id
            assert e["examples_executed"] == e["examples_count"], row_id
            assert [m["content"] for m in wanted[row_id]["messages"]] == [m["content"] for m in run["conversation"]]
            found += 1
    assert found == len(wanted)
    for row in rows["train"]:
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["prompt_label"] in task.PROMPT_TEMPLATES


def test_top_n_are_the_shortest_distinct_full_score_answers(small, runs):
    rows, _, _ = small
    full, _, _ = runs
    for case in SMALL["train_cases"]:
        chosen = [answer(r) for r in rows["train"] if r["case"] == case]
        pool = {}  # distinct answer -> its shortest stored form
        for c in full:
            if c["case"] == case and c["prompt_label"] in task.PROMPT_TEMPLATES:
                text = c["messages"][-1]["content"]
                pool[text.strip()] = min(pool.get(text.strip(), len(text)), len(text))
        shortest = sorted(pool.values())[:5]
        assert sorted(len(a) for a in chosen) == shortest, case


def test_no_duplicate_answers_and_validation_disjoint_from_training(small):
    rows, _, _ = small
    answers = [answer(r).strip() for r in rows["train"] + rows["validation"]]
    assert len(answers) == len(set(answers))
    assert {r["id"] for r in rows["train"]}.isdisjoint({r["id"] for r in rows["validation"]})


def test_deterministic_and_seeded(small):
    again = prep.prepare(dict(SMALL))
    assert again[0] == small[0]
    other = prep.prepare({**SMALL, "seed": 1})[0]
    assert other["train"] == small[0]["train"]  # ranking does not depend on the seed
    assert [r["id"] for r in other["validation"]] != [r["id"] for r in small[0]["validation"]]


def test_train_size_caps_round_robin_over_cases():
    rows, _, _ = prep.prepare({**SMALL, "train_size": 4})
    cases = [r["case"] for r in rows["train"]]
    assert len(cases) == 4 and set(cases) == set(SMALL["train_cases"])


def test_test_rows_one_per_case_and_template(small):
    rows, _, stats = small
    spec = task.TEST_SPLITS["cpu-small"]
    runnable = [c for c in spec["cases"] if c not in stats["test_cases_excluded"]]
    assert [r["id"] for r in rows["test"]] == [f"{c}/{t}" for c in runnable for t in spec["templates"]]
    for row in rows["test"]:
        assert [m["role"] for m in row["messages"]] == ["system", "user"]
        assert (resolve(row["case_dir"]) / "definition.toml").exists()
        assert not Path(row["case_dir"]).is_absolute()  # the split stays valid on another machine
        assert row["prompt_label"] in spec["templates"] and row["case"] in row["id"]


@pytest.mark.parametrize("change, message", [
    ({"train_cases": ["wrap_strings"]}, "slingshot.train_cases: unknown case"),
    ({"prompt_templates": ["JuliaExpert"]}, "slingshot.prompt_templates: unknown template"),
    ({"test_split": "dev-200"}, "slingshot.test_split: unknown split 'dev-200'"),
    ({"top_n_per_case": 0}, "slingshot.top_n_per_case"),
    ({"validation_size": 100000}, "slingshot.validation_size: 100000 asks for 100000 rows, but the full-score"),
    ({"train_size": 1000}, "slingshot.train_size: 1000 asks for 1000 rows, but the top 5 per case holds only"),
    ({"train_size": "4%"}, r"slingshot.train_size: expected a count >= 1 or 'all', got '4%'"),
    ({"source": "no/such/folder"}, "slingshot.source"),
])
def test_bad_parameters_name_the_key(change, message):
    with pytest.raises(prep.DataError, match=message):
        prep.prepare({**SMALL, **change})


def test_prepare_recipe_writes_rows_and_manifest(tmp_path, capsys):
    recipe = load_recipe(write_recipe(tmp_path, base=CPU_RECIPE))
    manifest = prepare_recipe(recipe)
    assert json.loads((tmp_path / "data" / "manifest.json").read_text()) == manifest
    block = recipe.block
    assert manifest["task"] == "julia" and manifest["prompt_version"] == task.PROMPT_VERSION
    assert manifest["outputs"]["train"]["rows"] == len(block["train_cases"]) * block["top_n_per_case"]
    assert manifest["stats"]["train_cases"] == sorted(block["train_cases"])
    train = read_jsonl(tmp_path / "data" / "train.jsonl")
    assert {r["prompt_label"] for r in train} <= set(block["prompt_templates"])
    assert read_jsonl(resolve(manifest["outputs"]["test"]["path"]))[0]["id"] == "clean_column/InJulia"
    capsys.readouterr()
    prepare_recipe(recipe)
    assert "up to date" in capsys.readouterr().out


def test_the_task_names_the_carried_leaderboards_cases():
    """The planner counts and checks `train_cases` against task.CASES: the cases data prep reads."""
    from slingshot.metrics.julia.cases import iter_cases
    assert sorted(c["name"] for c in iter_cases(prep.source_root("local"))) == sorted(task.CASES)
    with pytest.raises(prep.DataError, match="unknown case"):
        task.case_list(["wrap_string", "no_such_case"], task.CASES, "slingshot.train_cases")
