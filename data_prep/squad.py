"""SQuAD v1.1 -> chat `messages` JSONL: a training subset, a validation slice and a held-out test split.

Training and validation questions come from the official train set, split by article, so no
paragraph is in two splits. Test splits come from the official dev set (see
slingshot.tasks.squad.TEST_SPLITS), shared by every recipe of the task.
"""
import gzip
import json
import os
import random
from collections import defaultdict
from pathlib import Path

from slingshot.errors import DataError
from slingshot.layout import SOURCES_DIR
from slingshot.io import sha256_file, sha256_text
from slingshot.tasks import parse_size
from slingshot.tasks import squad as task

SQUAD_SOURCES = SOURCES_DIR / "squad"
LOCAL_FILES = {
    "train": ("train-v1.1.part.json.gz", "e7853905d95f255090f58a2af5221c7f2b296934f8a6c1d77b36df4686f0d828"),
    "dev": ("dev-v1.1.json.gz", "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"),
}
HUB_SPLITS = {"train": "train", "dev": "validation"}


def load_source(source, which):
    """Articles in the official schema, and a description of where they came from.

    source: "local" (the carried copies), "hub:<dataset>" (e.g. hub:rajpurkar/squad) or
    a folder holding the official train-v1.1.json and dev-v1.1.json (optionally .gz).
    """
    if source == "local":
        name, expected = LOCAL_FILES[which]
        path = SQUAD_SOURCES / name
        text = _read_text(path)
        digest = sha256_text(text)
        if digest != expected:
            raise DataError(f"{path}: sha256 {digest} does not match the expected {expected}")
        return _parse_official(text, path), {"source": f"data_prep/sources/squad/{name}", "sha256": digest}
    if source.startswith("hub:"):
        return _load_hub(source[4:], which)
    path = _official_file(Path(source), which)
    text = _read_text(path)
    return _parse_official(text, path), {"source": str(path), "sha256": sha256_text(text)}


OFFICIAL_NAMES = {"train": "train-v1.1.json", "dev": "dev-v1.1.json"}


def _official_file(folder, which):
    """A folder holding the official files (optionally gzipped): train-v1.1.json, dev-v1.1.json."""
    if not folder.is_dir():
        raise DataError(f"{folder}: SQuAD source must be 'local', 'hub:<dataset>' or a folder "
                        f"holding train-v1.1.json and dev-v1.1.json")
    for name in (OFFICIAL_NAMES[which], OFFICIAL_NAMES[which] + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise DataError(f"{folder}: no {OFFICIAL_NAMES[which]} (or .gz) in the SQuAD source folder")


def source_fingerprint(params):
    """What identifies the source files' content, for deciding whether outputs are stale."""
    source = params["source"]
    if source == "local":
        return {which: expected for which, (_, expected) in LOCAL_FILES.items()}
    if source.startswith("hub:"):
        return {"hub": source}
    return {which: sha256_file(_official_file(Path(source), which)) for which in OFFICIAL_NAMES}


def _read_text(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read()


def _parse_official(text, path):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    check_schema(data, path)
    return data["data"]


def check_schema(data, path):
    """Raise DataError naming the first key path that breaks the official v1.1 schema."""
    def need(obj, key, kind, where):
        if not isinstance(obj, dict) or key not in obj:
            raise DataError(f"{path}: {where}: missing key '{key}'")
        if not isinstance(obj[key], kind):
            raise DataError(f"{path}: {where}.{key}: expected {kind.__name__}, got {type(obj[key]).__name__}")
        return obj[key]

    for a, article in enumerate(need(data, "data", list, "top level")):
        for p, paragraph in enumerate(need(article, "paragraphs", list, f"data[{a}]")):
            where = f"data[{a}].paragraphs[{p}]"
            need(paragraph, "context", str, where)
            for q, qa in enumerate(need(paragraph, "qas", list, where)):
                need(qa, "id", str, f"{where}.qas[{q}]")
                need(qa, "question", str, f"{where}.qas[{q}]")
                answers = need(qa, "answers", list, f"{where}.qas[{q}]")
                if not answers:
                    raise DataError(f"{path}: {where}.qas[{q}].answers: no gold answer")
                for n, answer in enumerate(answers):
                    need(answer, "text", str, f"{where}.qas[{q}].answers[{n}]")


def _load_hub(name, which):
    """The hub dataset (flat rows), regrouped into the official article/paragraph schema."""
    import datasets

    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
                  for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    if offline and not Path(name).exists():
        raise DataError(f"slingshot.source: hub:{name} needs the Hugging Face hub, but this process is "
                        f"offline (HF_HUB_OFFLINE); use `source: local` or a folder holding the official files")
    try:
        rows = datasets.load_dataset(name, split=HUB_SPLITS[which])
    except (OSError, ConnectionError, ValueError) as e:  # no network, unknown dataset, wrong split
        raise DataError(f"slingshot.source: hub:{name} could not be loaded ({type(e).__name__}: "
                        f"{str(e)[:200]}); use `source: local` or a folder holding the official files") from None
    articles = {}
    for row in rows:
        article = articles.setdefault(row["title"], {"title": row["title"], "paragraphs": {}})
        paragraph = article["paragraphs"].setdefault(row["context"], {"context": row["context"], "qas": []})
        answers = [{"text": t, "answer_start": s}
                    for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"])]
        paragraph["qas"].append({"id": row["id"], "question": row["question"], "answers": answers})
    data = [{"title": a["title"], "paragraphs": list(a["paragraphs"].values())} for a in articles.values()]
    fingerprint = getattr(rows, "_fingerprint", None) or sha256_text(json.dumps(data, sort_keys=True))
    return data, {"source": f"hub:{name} ({HUB_SPLITS[which]})", "fingerprint": fingerprint}


def questions(articles):
    """Flat question records, in file order."""
    for article in articles:
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                yield {
                    "id": qa["id"], "title": article["title"], "paragraph": f"{article['title']}#{p}",
                    "context": paragraph["context"], "question": qa["question"],
                    "answers": [a["text"] for a in qa["answers"]],
                }


def split_train_validation(articles, train_size, validation_size, seed):
    """Seeded article-level split: validation articles first, training questions from the rest."""
    validation_size = parse_size(validation_size, None, "slingshot.validation_size", task.SIZE_FORMS["validation_size"])
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    validation, held = [], []
    for i in order:
        if len(validation) >= validation_size:
            break
        held.append(i)
        validation.extend(questions([articles[i]]))
    validation = validation[:validation_size]
    held = set(held)
    pool = [q for i in order if i not in held for q in questions([articles[i]])]
    count = parse_size(train_size, len(pool), "slingshot.train_size", task.SIZE_FORMS["train_size"],
                       "the training articles left after the validation ones")
    random.Random(seed + 1).shuffle(pool)
    return pool[:count], validation


def test_split(dev_articles, split_name):
    """A named held-out split of the official dev set: at most one question per paragraph."""
    if split_name not in task.TEST_SPLITS:
        raise DataError(f"slingshot.test_split: unknown split {split_name!r}; "
                        f"known: {', '.join(task.TEST_SPLITS)}")
    spec = task.TEST_SPLITS[split_name]
    all_questions = list(questions(dev_articles))
    if spec["size"] == "all":
        return all_questions
    by_paragraph = defaultdict(list)
    for q in all_questions:
        by_paragraph[q["paragraph"]].append(q)
    rng = random.Random(spec["seed"])
    paragraphs = sorted(by_paragraph)
    rng.shuffle(paragraphs)
    if spec["size"] > len(paragraphs):
        raise DataError(f"split {split_name}: {spec['size']} questions asked, "
                        f"but the dev set has only {len(paragraphs)} paragraphs")
    return [rng.choice(by_paragraph[p]) for p in paragraphs[:spec["size"]]]


def training_row(q):
    return {"id": q["id"], "messages": task.build_messages(q["context"], q["question"], q["answers"][0])}


def test_row(q):
    return {"id": q["id"], "messages": task.build_messages(q["context"], q["question"]),
            "answers": q["answers"], "paragraph": q["paragraph"]}


def prepare(params):
    """All rows for one recipe: {"train": [...], "validation": [...], "test": [...]}, plus sources."""
    train_articles, train_source = load_source(params["source"], "train")
    dev_articles, dev_source = load_source(params["source"], "dev")
    train, validation = split_train_validation(
        train_articles, params["train_size"], params["validation_size"], params["seed"])
    test = test_split(dev_articles, params["test_split"])
    rows = {
        "train": [training_row(q) for q in train],
        "validation": [training_row(q) for q in validation],
        "test": [test_row(q) for q in test],
    }
    stats = {
        "train_articles": len({q["title"] for q in train}),
        "validation_articles": len({q["title"] for q in validation}),
        "test_paragraphs": len({q["paragraph"] for q in test}),
    }
    return rows, {"train": train_source, "dev": dev_source}, stats

