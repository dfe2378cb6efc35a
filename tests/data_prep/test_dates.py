"""Date rows from seeds: parameters checked by key, training and validation days distinct, test splits drawn by
their own seed, and the rows' fields. (The task's parsing and scoring: tests/slingshot/tasks/test_dates.py.)"""
import pytest

from data_prep import dates
from slingshot.errors import DataError
from slingshot.tasks import dates as task

PARAMS = {"source": "local", "train_size": 12, "validation_size": 4, "seed": 0, "test_split": "test-200"}


@pytest.mark.parametrize("change,words", [
    ({"source": "hub:x"}, "slingshot.source: 'hub:x': this task's only source is 'local'"),
    ({"seed": True}, "slingshot.seed: expected an integer, got True"),
    ({"test_split": "test-5"}, "slingshot.test_split: unknown split 'test-5'; known: test-200, test-1000")])
def test_bad_parameters_name_their_key(change, words):
    with pytest.raises(DataError, match=words):
        dates.check_params({**PARAMS, **change})


def test_training_and_validation_days_are_distinct_and_seeded():
    train, validation = dates.split_train_validation(12, 4, seed=0)
    assert (len(train), len(validation)) == (12, 4)
    assert not {e["id"] for e in train} & {e["id"] for e in validation}
    assert dates.split_train_validation(12, 4, seed=0) == (train, validation)
    assert dates.split_train_validation(12, 4, seed=1)[0] != train
    with pytest.raises(DataError, match="slingshot.train_size: .*the training days left after the validation ones"):
        dates.split_train_validation(10 ** 7, 4, seed=0)


def test_rows_and_the_sources_record():
    rows, sources, stats = dates.prepare(PARAMS)
    assert [len(rows[s]) for s in ("train", "validation", "test")] == [12, 4, 200]
    assert rows["test"] == [dates.test_row(e) for e in dates.test_split("test-200")]
    assert rows["train"][0]["messages"][-1]["role"] == "assistant" and rows["test"][0]["messages"][-1]["role"] == "user"
    assert sources["generator"]["seeds"] == {"train": 0, "test": task.TEST_SPLITS["test-200"]["seed"]}
    assert sources["generator"]["sha256"] == dates.source_fingerprint(PARAMS)["generator"]
    assert sum(stats["test"].values()) == 200 and set(stats["test"]) == set(task.FORMATS)
