"""Date normalization examples -> chat `messages` JSONL, generated from seeds (nothing to download).

Training and validation rows are distinct days of the training pool drawn by the recipe's seed;
test splits are days of the test pool drawn by the split's own seed (slingshot.tasks.dates.TEST_SPLITS),
shared by every recipe of the task. The manifest records the seeds and the generator's sha256.
"""
from pathlib import Path

from slingshot.errors import DataError
from slingshot.io import sha256_file
from slingshot.layout import display_path
from slingshot.tasks import dates as task
from slingshot.tasks import parse_size

GENERATOR = Path(task.__file__)


def source_fingerprint(params):
    """The generator's code decides every row: a change of it rebuilds the data."""
    return {"generator": sha256_file(GENERATOR)}


def check_params(params):
    if params["source"] != "local":
        raise DataError(f"slingshot.source: {params['source']!r}: this task's only source is 'local' "
                        f"(the seeded generator)")
    if isinstance(params["seed"], bool) or not isinstance(params["seed"], int):
        raise DataError(f"slingshot.seed: expected an integer, got {params['seed']!r}")
    if params["test_split"] not in task.TEST_SPLITS:
        raise DataError(f"slingshot.test_split: unknown split {params['test_split']!r}; "
                        f"known: {', '.join(task.TEST_SPLITS)}")


def split_train_validation(train_size, validation_size, seed):
    """Distinct training-pool days: the validation ones first, then the training ones."""
    pool = task.days(test=False)
    validation_count = parse_size(validation_size, len(pool), "slingshot.validation_size",
                                  task.SIZE_FORMS["validation_size"], "the training days")
    train_count = parse_size(train_size, len(pool) - validation_count, "slingshot.train_size",
                             task.SIZE_FORMS["train_size"], "the training days left after the validation ones")
    drawn = task.sample(pool, validation_count + train_count, f"dates-train/{seed}")
    return drawn[validation_count:], drawn[:validation_count]


def test_split(split_name):
    spec = task.TEST_SPLITS[split_name]
    return task.sample(task.days(test=True), spec["size"], f"dates-test/{spec['seed']}")


def training_row(example):
    return {"id": example["id"], "messages": task.build_messages(example["text"], example["answer"]),
            "format": example["format"]}


def test_row(example):
    return {"id": example["id"], "messages": task.build_messages(example["text"]), "answer": example["answer"],
            "text": example["text"], "format": example["format"]}


def prepare(params):
    """All rows for one recipe: {"train": [...], "validation": [...], "test": [...]}, sources, stats."""
    check_params(params)
    train, validation = split_train_validation(params["train_size"], params["validation_size"], params["seed"])
    test = test_split(params["test_split"])
    rows = {"train": [training_row(e) for e in train], "validation": [training_row(e) for e in validation],
            "test": [test_row(e) for e in test]}
    sources = {"generator": {"source": display_path(GENERATOR), "sha256": sha256_file(GENERATOR),
                             "seeds": {"train": params["seed"],
                                       "test": task.TEST_SPLITS[params["test_split"]]["seed"]}}}
    stats = {split: {form: sum(r["format"] == form for r in rows[split]) for form in task.FORMATS}
             for split in rows}
    return rows, sources, stats
