"""The Julia task's own parts that need no Julia: message conversion, rendering choice, case lists, planned
rows, contamination wording and what the viewer shows. (Scoring in the sandbox: tests/slingshot/metrics/julia.)"""
import pytest

from slingshot.errors import DataError, UserError
from slingshot.tasks import julia as task
from slingshot.tasks.julia import (CASES, HELD_OUT_CASES, case_list, contamination_overlap, contamination_statement,
                                   few_shot_examples, pick_rendering, planned_train_rows, to_chat, view_answer,
                                   view_example)


def test_promptingtools_messages_become_chat_roles():
    conversation = [{"_type": "systemmessage", "content": "s"}, {"_type": "usermessage", "content": "u"},
                    {"_type": "aimessage", "content": "a"}]
    assert [m["role"] for m in to_chat(conversation)] == ["system", "user", "assistant"]
    with pytest.raises(ValueError, match="message 1: unknown PromptingTools message type 'datamessage'"):
        to_chat([conversation[0], {"_type": "datamessage", "content": "x"}])
    with pytest.raises(ValueError, match="message 0: 'content' must be a string"):
        to_chat([{"_type": "usermessage", "content": None}])


def test_the_most_common_rendering_wins_then_the_latest_then_the_text():
    seen = {"b": {"messages": "B", "runs": 3, "latest": 1}, "a": {"messages": "A", "runs": 3, "latest": 2},
            "c": {"messages": "C", "runs": 1, "latest": 9}}
    assert pick_rendering(seen) == "A"
    seen["a"]["latest"] = 1
    assert pick_rendering(seen) == "B"


def test_case_lists_are_checked_against_the_known_cases():
    assert case_list("all", CASES, "k") == sorted(CASES)
    assert case_list(["wrap_string", "wrap_string", "ispersonal"], CASES, "k") == ["ispersonal", "wrap_string"]
    with pytest.raises(DataError, match="k: unknown case\\(s\\) nope; known: "):
        case_list(["nope"], CASES, "k")
    with pytest.raises(DataError, match="known only once it is read"):
        case_list("all", None, "k")
    for wrong in ([], "wrap_string", [1]):
        with pytest.raises(DataError, match="expected a list of case names or 'all'"):
            case_list(wrong, CASES, "k")


def test_planned_rows_are_top_n_per_case_capped_by_train_size():
    params = {"train_cases": ["wrap_string", "ispersonal"], "top_n_per_case": 5, "train_size": "all"}
    assert planned_train_rows(params) == 10
    assert planned_train_rows({**params, "train_size": 4}) == 4
    with pytest.raises(DataError, match="holds only 10"):
        planned_train_rows({**params, "train_size": 11})
    with pytest.raises(DataError, match="top_n_per_case: expected a positive count, got True"):
        planned_train_rows({**params, "top_n_per_case": True})


def test_no_few_shot_prompts_and_the_whole_reply_is_the_answer():
    assert few_shot_examples(0) == [] and task.extract_answer(" code ") == " code "
    with pytest.raises(UserError, match="--shots 2: few-shot prompts are defined for the squad task only"):
        few_shot_examples(2)


def rows(case, user, ident):
    return {"id": ident, "case": case, "messages": [{"role": "user", "content": user}]}


def test_a_seen_case_affects_every_prompt_of_it_and_the_statement_says_so():
    train = [rows("wrap_string", "wrap it", "t1")]
    test = [rows("wrap_string", "other words", "w1"), rows("pig_latinify", "wrap it", "p1"),
            rows("ispersonal", "is it?", "i1")]
    overlap, affected, extra = contamination_overlap(train, test, set())
    assert overlap == {"task_statements": ["p1"], "cases": ["pig_latinify", "wrap_string"]}
    assert affected == {"w1", "p1"} and extra["unseen_cases"] == ["ispersonal"]
    result = {**extra, "overlap": {"prompts": []}, "n_test_affected": 2, "n_test": 3}
    text = contamination_statement(result, ", ".join)
    assert "covers 2 of the 3 test cases (pig_latinify, wrap_string)" in text
    assert text.endswith("only the unseen cases (ispersonal) measure that.")


def test_the_viewer_shows_the_statement_and_both_scores():
    row = {**rows("wrap_string", "the task", "x"), "prompt_label": "InJulia"}
    assert view_example(row) == {"question": "the task", "context": None, "gold": None, "group": "wrap_string",
                                 "variant": "InJulia"}
    metrics = {"score": 75, "leaderboard_mode_score": 50, "parsed": True, "executed": False,
               "unit_tests_passed": 1, "unit_tests_count": 2, "errors": ["boom"]}
    shown = view_answer({"answer": "code", "metrics": metrics}, {"backend": "hf"})
    assert shown["verdicts"] == [75, 50]
    assert shown["detail"] == "parsed yes · executed no · unit tests 1/2 · errors: boom"
    recorded = view_answer({"metrics": {"score": 40, "n_samples": 3}}, {"backend": "leaderboard"})
    assert recorded == {"answer": None, "verdicts": [None, 40], "detail": "mean of 3 recorded samples; no code stored"}
    assert set(HELD_OUT_CASES) <= set(CASES)
