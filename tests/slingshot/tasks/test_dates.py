"""The date-normalization task: a seeded generator, its splits, its metric, its data prep as users run it,
its plan, and (slow) the whole loop on the CPU recipe cut to a few steps."""
import json
import re
from datetime import date

import pytest

from data_prep import dates as prep
from data_prep.__main__ import main as prepare
from slingshot.commands.train import main as train
from slingshot.contamination import check
from slingshot.io import read_jsonl
from slingshot.layout import resolve
from slingshot.plan import plan
from slingshot.recipe import derive_recipe, load_recipe
from slingshot.tasks import dates as task
from slingshot.tasks import get_task
from tests.helpers import ROOT, run_in_process, run_module, write_recipe

DATES_RECIPE = ROOT / "recipes" / "dates" / "smollm2-135m" / "lora-cpu.yml"
SMALL = {**task.RECIPE_DEFAULTS, "train_size": 40, "validation_size": 8}


def test_the_registered_task_is_this_module():
    assert get_task("dates") is task


def test_the_generator_is_deterministic_by_seed():
    first, again, other = prep.prepare(SMALL), prep.prepare(SMALL), prep.prepare({**SMALL, "seed": 1})
    assert first == again
    assert [r["id"] for r in first[0]["train"]] != [r["id"] for r in other[0]["train"]]
    assert first[0]["test"] == other[0]["test"]  # the test split has a seed of its own, shared by every recipe
    assert first[1]["generator"]["seeds"] == {"train": 0, "test": task.TEST_SPLITS["test-200"]["seed"]}


def test_training_and_test_days_never_meet():
    rows, _, _ = prep.prepare({**SMALL, "train_size": 2000, "validation_size": 200, "test_split": "test-1000"})
    trained = {task.gold(r) for r in rows["train"] + rows["validation"]}
    tested = {r["answer"] for r in rows["test"]}
    assert len(trained) == 2200 and len(tested) == 1000 and not trained & tested
    assert all(task.is_test_day(date.fromisoformat(d)) for d in tested)
    assert not any(task.is_test_day(date.fromisoformat(d)) for d in trained)
    assert set(task.days(test=True)).isdisjoint(task.days(test=False))


def test_every_format_parses_back_to_its_date():
    for ordinal in range(task.FIRST_DAY.toordinal(), task.LAST_DAY.toordinal() + 1, 7):
        day = date.fromordinal(ordinal)
        for form, render in task.FORMATS.items():
            assert task.read_date(render(day)) == day, (form, render(day))
    assert task.read_date("March 3rd, 2021") == date(2021, 3, 3)
    assert task.read_date("03/04/21 (US)") == date(2021, 3, 4) and task.read_date("03/04/21 (EU)") == date(2021, 4, 3)
    assert task.read_date("the fourth of March 2021") == date(2021, 3, 4)
    assert task.read_date("04/03/60 (EU)") == date(1960, 3, 4)  # two-digit years 50-99 are 19xx
    assert task.read_date("February 30th, 2021") is None and task.read_date("soon") is None


def test_splits_cycle_through_the_formats_with_distinct_ids():
    rows, _, stats = prep.prepare(SMALL)
    test = rows["test"]
    assert len(test) == 200 and len({r["id"] for r in test}) == 200
    assert set(stats["test"]) == set(task.FORMATS) and min(stats["test"].values()) >= 200 // len(task.FORMATS)
    row = test[0]
    assert row["messages"][-1] == {"role": "user", "content": row["text"]}
    assert task.read_date(row["text"]).isoformat() == row["answer"] == row["id"].split("/")[0]
    train = rows["train"][0]
    assert train["messages"][-1]["role"] == "assistant" and train["messages"][:1] == row["messages"][:1]


def test_extract_answer_and_score_are_zero_or_a_hundred():
    row = {"answer": "2021-03-04"}
    for output, expected in (("2021-03-04", 100.0), ("Answer: 2021-03-04.\nbecause", 100.0),
                             ("\n\n`2021-03-04`", 100.0), ("2021-04-03", 0.0), ("March 4th, 2021", 0.0), ("", 0.0)):
        assert task.score(row, task.extract_answer(output)) == {"exact_match": expected}, output


def test_few_shot_examples_come_from_training_days_only():
    shots = task.few_shot_examples(3)
    assert shots == task.few_shot_examples(3) and len(shots) == 3
    assert not any(task.is_test_day(date.fromisoformat(s["answer"])) for s in shots)
    rows, _, _ = prep.prepare(SMALL)
    messages = task.with_shots(rows["test"][0]["messages"], shots)
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert not check("dates", shots, rows["test"])["contaminated"]


def test_contamination_finds_a_test_day_trained_in_another_format():
    rows, _, _ = prep.prepare(SMALL)
    day = date.fromisoformat(rows["test"][0]["answer"])
    other = next(f for f in task.FORMATS if f != rows["test"][0]["format"])
    leaked = task.example(day, other)
    result = check("dates", rows["train"] + [prep.training_row(leaked)], rows["test"])
    assert result["contaminated"] and result["overlap"]["dates"] == [rows["test"][0]["id"]]
    assert result["overlap"]["ids"] == [] and result["overlap"]["prompts"] == []


def test_viewer_hooks():
    rows, _, _ = prep.prepare(SMALL)
    shown = task.view_example(rows["test"][0])
    assert shown["question"] == rows["test"][0]["text"] and shown["gold"] == [rows["test"][0]["answer"]]
    assert shown["group"] in task.FORMATS and shown["context"] is None
    answer = task.view_answer({"answer": "2021-03-04", "metrics": {"exact_match": 0.0}}, {})
    assert answer["verdicts"] == [0.0] and len(answer["verdicts"]) == len(task.VIEW_VERDICTS)


def test_data_prep_writes_rows_and_a_manifest_with_seeds_and_hashes(tmp_path, capsys):
    path = write_recipe(tmp_path, base=DATES_RECIPE, edit=lambda c: c["slingshot"].update(train_size=24,
                                                                                          validation_size=8))
    assert prepare([str(path)]) == 0
    assert "No contamination found" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["task"] == "dates" and manifest["prompt_version"] == task.PROMPT_VERSION
    assert manifest["sources"]["generator"]["source"] == "slingshot/tasks/dates.py"
    assert len(manifest["sources"]["generator"]["sha256"]) == 64 and manifest["params"]["seed"] == 0
    assert {k: v["rows"] for k, v in manifest["outputs"].items()} == {"train": 24, "validation": 8, "test": 200}
    assert read_jsonl(resolve(manifest["outputs"]["test"]["path"]))[0]["format"] == "long"
    assert prepare([str(path)]) == 0 and "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    ({"train_size": "10%"}, r"slingshot.train_size: expected a count >= 1 or 'all', got '10%'"),
    ({"train_size": 10**6}, r"slingshot.train_size: 1000000 asks for 1000000 rows, but the training days left"),
    ({"source": "hub:someone/dates"}, r"slingshot.source: 'hub:someone/dates': this task has no hub source"),
    ({"test_split": "dev-200"}, r"slingshot.test_split: unknown split 'dev-200'; known: test-200, test-1000"),
])
def test_bad_values_name_the_recipe_line(tmp_path, capsys, change, message):
    path = write_recipe(tmp_path, base=DATES_RECIPE, edit=lambda c: c["slingshot"].update(change))
    assert prepare([str(path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {path}:"), error
    assert re.search(message, error), error
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("size, rows", [(192, 192), ("all", task.SOURCE_ROWS - 32)])
def test_plan_counts_rows_as_data_prep_draws_them(tmp_path, size, rows):
    path = write_recipe(tmp_path, base=DATES_RECIPE, edit=lambda c: c["slingshot"].update(train_size=size))
    result = plan(load_recipe(path), gpu="T4-16GB")
    assert result["train_rows"] == rows and result["train_tokens"] == rows * task.TOKENS_PER_ROW


def test_all_draws_every_training_day_the_plan_counts():
    train, validation = prep.split_train_validation("all", 32, seed=0)
    assert len(train) == task.planned_train_rows({**SMALL, "train_size": "all", "validation_size": 32})
    assert len(train) + len(validation) == task.SOURCE_ROWS


@pytest.mark.slow
def test_dates_cpu_recipe_end_to_end(model_dir, tmp_path):
    """Prepare, three real Axolotl steps on the CPU, `eval recipe --limit 20`: a report with the task's rows,
    each with its EM and confidence interval, and paired tests against the base rows."""
    recipe = derive_recipe(load_recipe(DATES_RECIPE), "e2e-dates-cpu",
                           {"max_steps": 3, "micro_batch_size": 2, "evals_per_epoch": None},
                           {"train_size": 24, "validation_size": 8})
    assert prepare([str(recipe.path)]) == 0
    code, out, err = run_in_process(train, "--force", recipe.path)
    assert code == 0, out[-3000:] + err[-3000:]
    summary = json.loads((recipe.output_dir / "train_summary.json").read_text())
    assert summary["steps"] == 3 and "No contamination found" in summary["contamination"]

    report_dir = tmp_path / "report"
    run_module("eval", "recipe", recipe.path, "--limit", 20, "--out", report_dir,
               env={"SLINGSHOT_RESULTS_DIR": str(tmp_path / "results")}, check=True)
    report = json.loads((report_dir / "report.json").read_text())
    assert report["task"] == "dates" and report["metrics"] == ["exact_match"]
    names = [m["name"] for m in report["models"]]
    assert any("(tuned)" in n for n in names) and any("(base, 0-shot)" in n for n in names)
    assert any("(base, 3-shot)" in n for n in names)
    for model in report["models"]:
        assert model["n"] == 20 and 0 <= model["exact_match"] <= 100
        low, high = model["exact_match_ci"]
        assert low <= model["exact_match"] <= high
    tuned = next(m for m in report["models"] if "(tuned)" in m["name"])
    assert tuned["vs_baseline"]["metrics"]["exact_match"]["test"] == "exact McNemar"
    markdown = (report_dir / "report.md").read_text()
    assert "EM [95% CI]" in markdown and (report_dir / "index.html").exists()
