import gzip
import json
import shutil

import pytest

from data_prep import squad
from data_prep.__main__ import main as prepare
from data_prep.prepare import prepare_recipe
from slingshot.io import read_jsonl
from slingshot.recipe import load_recipe
from slingshot.tasks import parse_size
from slingshot.tasks import squad as task
from tests.helpers import ROOT, write_recipe


@pytest.fixture(scope="module")
def train_articles():
    return squad.load_source("local", "train")[0]


@pytest.fixture(scope="module")
def dev_articles():
    return squad.load_source("local", "dev")[0]


def test_carried_sources_match_their_hashes(train_articles, dev_articles):
    assert len(train_articles) == 44 and len(dev_articles) == 48
    assert sum(1 for _ in squad.questions(dev_articles)) == 10570


def test_sizes_by_count_and_percentage(train_articles):
    train, validation = squad.split_train_validation(train_articles, 200, 40, seed=0)
    assert len(train) == 200 and len(validation) == 40
    pool = sum(1 for _ in squad.questions(train_articles)) - len(
        [q for a in {v["title"] for v in validation} for q in
         squad.questions([x for x in train_articles if x["title"] == a])])
    train_pct, _ = squad.split_train_validation(train_articles, "4%", 40, seed=0)
    assert len(train_pct) == round(pool * 0.04)


def test_split_is_deterministic_and_seeded(train_articles):
    a, va = squad.split_train_validation(train_articles, 100, 20, seed=3)
    b, vb = squad.split_train_validation(train_articles, 100, 20, seed=3)
    c, _ = squad.split_train_validation(train_articles, 100, 20, seed=4)
    assert [q["id"] for q in a] == [q["id"] for q in b]
    assert [q["id"] for q in va] == [q["id"] for q in vb]
    assert [q["id"] for q in a] != [q["id"] for q in c]


def test_train_and_validation_share_no_article(train_articles):
    train, validation = squad.split_train_validation(train_articles, "all", 300, seed=0)
    assert {q["title"] for q in train}.isdisjoint({q["title"] for q in validation})
    assert {q["paragraph"] for q in train}.isdisjoint({q["paragraph"] for q in validation})
    assert {q["id"] for q in train}.isdisjoint({q["id"] for q in validation})


def test_test_split_one_question_per_paragraph(dev_articles):
    rows = squad.test_split(dev_articles, "dev-200")
    assert len(rows) == 200
    assert len({q["paragraph"] for q in rows}) == 200
    assert [q["id"] for q in rows] == [q["id"] for q in squad.test_split(dev_articles, "dev-200")]
    # every question of the 200-question split is in the 1,000-question one? Not required; but both from dev
    all_ids = {q["id"] for q in squad.questions(dev_articles)}
    assert {q["id"] for q in rows} <= all_ids
    assert len(squad.test_split(dev_articles, "dev-all")) == 10570


def test_prompt_format_is_shared_by_train_and_test_rows(dev_articles):
    q = next(squad.questions(dev_articles))
    train_row, test_row = squad.training_row(q), squad.test_row(q)
    assert train_row["messages"][:2] == test_row["messages"]
    assert train_row["messages"][2] == {"role": "assistant", "content": q["answers"][0]}
    assert test_row["messages"][0]["content"] == task.SYSTEM_PROMPT


def test_size_larger_than_source_is_refused(train_articles):
    with pytest.raises(squad.DataError, match="slingshot.train_size.*only"):
        squad.split_train_validation(train_articles, 10**6, 10, seed=0)
    with pytest.raises(squad.DataError, match="percentage"):
        parse_size("x%", 100, "slingshot.train_size")


def test_extract_answer():
    assert task.extract_answer('  "Denver Broncos"\nbecause...') == "Denver Broncos"
    assert task.extract_answer("\n\nParis") == "Paris"
    assert task.extract_answer("") == ""


def _official(tmp_path, data, name="train-v1.1.json"):
    folder = tmp_path / "squad"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps({"version": "1.1", "data": data}))
    return folder


def test_malformed_source_names_file_and_key(tmp_path):
    folder = _official(tmp_path, [{"title": "T", "paragraphs": [{"context": "c", "qas": [{"id": "1"}]}]}])
    with pytest.raises(squad.DataError, match=r"train-v1.1.json: data\[0\].paragraphs\[0\].qas\[0\]: missing key 'question'"):
        squad.load_source(str(folder), "train")
    (folder / "dev-v1.1.json").write_text('{"version": "1.1",\n "data": [}')
    with pytest.raises(squad.DataError, match=r"dev-v1.1.json: line 2: not valid JSON"):
        squad.load_source(str(folder), "dev")


def test_folder_source_with_gzip(tmp_path):
    folder = tmp_path / "squad"
    folder.mkdir()
    with gzip.open(folder / "dev-v1.1.json.gz", "wt") as f:
        json.dump({"version": "1.1", "data": [{"title": "T", "paragraphs": [
            {"context": "Paris is in France.", "qas": [{"id": "q1", "question": "Where?", "answers": [
                {"text": "France", "answer_start": 12}]}]}]}]}, f)
    articles, source = squad.load_source(str(folder), "dev")
    assert articles[0]["paragraphs"][0]["qas"][0]["id"] == "q1"
    assert source["source"].endswith("dev-v1.1.json.gz")


def test_hub_loader_regroups_flat_rows(tmp_path, dev_articles):
    """The hub code path, fed a local dataset folder in the hub's flat schema."""
    flat = tmp_path / "squad_hub"
    flat.mkdir()
    with open(flat / "validation.jsonl", "w") as f:
        for q in list(squad.questions(dev_articles[:2])):
            f.write(json.dumps({"id": q["id"], "title": q["title"], "context": q["context"],
                                "question": q["question"],
                                "answers": {"text": q["answers"], "answer_start": [0] * len(q["answers"])}}) + "\n")
    articles, source = squad.load_source(f"hub:{flat}", "dev")
    assert source["source"].startswith("hub:")
    assert [q["id"] for q in squad.questions(articles)] == [q["id"] for q in squad.questions(dev_articles[:2])]


def test_prepare_writes_manifest_and_is_a_noop_when_unchanged(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(train_size=24, validation_size=8)))
    manifest = prepare_recipe(recipe)
    train = read_jsonl(tmp_path / "data" / "train.jsonl")
    assert len(train) == 24 and manifest["outputs"]["train"]["rows"] == 24
    assert manifest["sources"]["train"]["sha256"] == squad.LOCAL_FILES["train"][1]
    assert manifest["prompt_version"] == task.PROMPT_VERSION
    mtime = (tmp_path / "data" / "train.jsonl").stat().st_mtime_ns
    prepare_recipe(recipe)
    assert (tmp_path / "data" / "train.jsonl").stat().st_mtime_ns == mtime
    # a changed input rebuilds, never reuses the stale file
    recipe2 = load_recipe(write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(train_size=16, validation_size=8)))
    prepare_recipe(recipe2)
    assert len(read_jsonl(tmp_path / "data" / "train.jsonl")) == 16


def test_cli_rejects_oversized_request_and_writes_nothing(tmp_path, capsys):
    path = write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(train_size=10**6))
    assert prepare([str(path)]) == 2
    stderr = capsys.readouterr().err
    assert "slingshot.train_size" in stderr and "only" in stderr
    assert not (tmp_path / "data").exists()


def test_cli_wrong_recipe_path(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert prepare(["recipes/squad/nope.yml"]) == 2
    assert "recipes/squad/nope.yml: recipe not found" in capsys.readouterr().err


def test_a_source_of_its_own_gets_its_own_split_and_never_rewrites_the_shared_one(tmp_path, capsys):
    """A folder source whose dev answers were rewritten: the shared dev-200 stays what the carried,
    hash-checked source makes; the recipe scores on dev-200@<source> instead, and a report refuses to
    pair rows scored on the two."""
    from eval.commands.report import main as report
    from eval.commands.run import main as run
    from slingshot.io import sha256_file
    from slingshot.layout import test_split_path
    from tests.helpers.servers import WordBackend, start_server, stop_server

    folder = tmp_path / "my-squad"
    folder.mkdir()
    shutil.copy(squad.SQUAD_SOURCES / squad.LOCAL_FILES["train"][0], folder / "train-v1.1.json.gz")
    with gzip.open(squad.SQUAD_SOURCES / squad.LOCAL_FILES["dev"][0], "rt", encoding="utf-8") as f:
        dev = json.load(f)
    for article in dev["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"] = [{"text": "poisoned", "answer_start": 0}]
    (folder / "dev-v1.1.json").write_text(json.dumps(dev))
    small = {"train_size": 16, "validation_size": 8}
    local = write_recipe(_mkdir(tmp_path / "local"), edit=lambda c: c["slingshot"].update(small))
    own = write_recipe(_mkdir(tmp_path / "own"), edit=lambda c: c["slingshot"].update(small, source=str(folder)))
    shared = test_split_path("squad", "dev-200")
    own_split = load_recipe(own).paths["test"]
    assert own_split.parent == shared.parent and own_split.name.startswith("dev-200@my-squad-")
    try:
        assert prepare([str(local)]) == 0
        before = sha256_file(shared)
        assert prepare([str(own)]) == 0
        assert sha256_file(shared) == before  # the shared split is untouched
        assert {a for r in read_jsonl(own_split) for a in r["answers"]} == {"poisoned"}
        assert "poisoned" not in shared.read_text()
        manifest = json.loads((tmp_path / "own" / "data" / "manifest.json").read_text())
        assert manifest["outputs"]["test"]["path"] == f"data/squad/test/{own_split.name}"

        results = tmp_path / "results"
        server = start_server(WordBackend())
        try:
            for split in (shared, own_split.stem):  # a path, and a split name as users type it
                assert run(["--model", "openai:word-model", "--base-url", server.url, "--split", str(split),
                            "--results-dir", str(results), "--limit", "5", "--max-new-tokens", "4"]) == 0
        finally:
            stop_server(server)
        stores = sorted(p.parent for p in results.rglob("meta.json"))
        assert len({s.parent for s in stores}) == 2  # one results folder per split
        capsys.readouterr()
        assert report([*map(str, stores), "--out", str(tmp_path / "report")]) == 2
        assert "refusing to compare runs scored on different splits" in capsys.readouterr().err
    finally:
        own_split.unlink(missing_ok=True)


def _mkdir(folder):
    folder.mkdir()
    return folder
