"""Exports against the merged model: a paired test per GGUF row on the questions both answered, a message that
says which way it went, and a failure when a drop passes --max-drop. (Serving real GGUF files: tests/e2e/.)"""
import pytest

from eval.exports import ExportDropError, check_drops, compare_to_merged, drop_message
from eval.store import RunStore
from tests.helpers import squad_dev_questions, write_run


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    questions = squad_dev_questions()
    write_run(folder / "merged", questions, "merged", 0.7, 1)
    write_run(folder / "fewer", questions, "Q8_0", 0.7, 3, skip=10)  # 10 questions fewer
    write_run(folder / "worse", questions, "Q4_K_M", 0.1, 2)
    return RunStore(folder / "merged"), {"Q8_0": RunStore(folder / "fewer"), "Q4_K_M": RunStore(folder / "worse")}


def test_each_export_is_tested_on_the_questions_both_answered(stores):
    merged, exports = stores
    tests = compare_to_merged(merged, exports)
    base, fewer = merged.load_predictions(), exports["Q8_0"].load_predictions()
    assert tests["Q8_0"]["n"] == 70
    assert tests["Q8_0"]["answers_differ"] == sum(fewer[i]["answer"] != base[i]["answer"] for i in fewer)
    assert tests["Q4_K_M"]["n"] == 80 and tests["Q4_K_M"]["diff"] < -30
    assert tests["Q4_K_M"]["ci"][1] < 0 and tests["Q4_K_M"]["answers_differ"] > 30


def test_the_message_says_which_way_and_the_drop_check_fails_past_the_limit():
    loses = {"diff": -4.0, "ci": (-6.0, -2.0), "p_value": 0.01, "answers_differ": 9, "n": 80}
    assert drop_message("Q4_K_M", loses) == (
        "Q4_K_M loses 4.0 EM [-6.0, -2.0], p=0.01 vs the merged model (9 of 80 answers differ)")
    assert drop_message("Q8_0", {**loses, "diff": 0.0}).startswith("Q8_0 neither gains nor loses: 0.0 EM")
    assert drop_message("F16", {**loses, "diff": 1.0}).startswith("F16 gains 1.0 EM")
    check_drops({"Q4_K_M": loses}, max_drop=4.0)
    with pytest.raises(ExportDropError, match="exports drop more than --max-drop 3.0 EM: Q4_K_M loses 4.0"):
        check_drops({"Q4_K_M": loses, "Q8_0": {**loses, "diff": 0.0}}, max_drop=3.0)
