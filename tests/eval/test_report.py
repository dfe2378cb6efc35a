"""The report on real run folders: table values, paired tests, cost, plots, refusals."""
import json
from math import comb

import matplotlib.image
import pytest

from eval.__main__ import main as eval_main
from eval.report import build_report
from eval.store import RunStore
from tests.helpers import SPLIT_SHA, squad_dev_questions, write_run

@pytest.fixture(scope="module")
def questions():
    return squad_dev_questions()


def mean(values):
    return sum(values) / len(values)


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and matplotlib.image.imread(path).shape[0] > 100


def test_report_values(tmp_path, questions):
    runs = tmp_path / "results"
    base_meta, base_rows = write_run(runs / "base", questions, "base", 0.2, 1)
    lora_meta, lora_rows = write_run(runs / "lora", questions, "lora", 0.7, 2, usd_per_hour=1.8, wall_s=20.0)
    api_meta, api_rows = write_run(runs / "api", questions, "gpt-4o-mini", 0.6, 3, model="openai:gpt-4o-mini-2024-07-18",
                                   backend="openai", usd_per_hour=None, wall_s=16.0, skip=5)
    odd_meta, _ = write_run(runs / "odd", questions, "odd-api", 0.5, 4, model="openai:no-such-model",
                            backend="openai", usd_per_hour=None)

    report = build_report([runs], tmp_path / "report", baseline="base")
    models = {m["name"]: m for m in report["models"]}
    assert report["baseline"] == "base" and report["split_sha256"] == SPLIT_SHA

    for name, rows in [("base", base_rows), ("lora", lora_rows), ("gpt-4o-mini", api_rows)]:
        m = models[name]
        em = 100 * mean([r["metrics"]["exact_match"] == 100 for r in rows])
        assert m["n"] == len(rows)
        assert m["exact_match"] == pytest.approx(em)
        assert m["f1"] == pytest.approx(mean([r["metrics"]["f1"] for r in rows]))
        for metric in ("exact_match", "f1"):
            low, high = m[f"{metric}_ci"]
            assert low <= m[metric] <= high and high - low > 5  # 80 questions: wide, but not absurd
            assert high - low < 40

    # paired test vs baseline on the 75 questions both answered, McNemar by hand
    vs = models["gpt-4o-mini"]["vs_baseline"]
    base_by_id = {r["id"]: r for r in base_rows}
    pairs = [(r["metrics"]["exact_match"] == 100, base_by_id[r["id"]]["metrics"]["exact_match"] == 100) for r in api_rows]
    assert vs["n_paired"] == len(pairs) == len(questions) - 5
    a_only, b_only = sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs)
    tail = sum(comb(a_only + b_only, k) for k in range(min(a_only, b_only) + 1))
    em = vs["metrics"]["exact_match"]
    assert em["p_value"] == pytest.approx(min(1, 2 * tail / 2 ** (a_only + b_only)))
    assert em["diff"] == pytest.approx(100 * mean([a for a, _ in pairs]) - 100 * mean([b for _, b in pairs]))
    assert em["ci"][0] < em["diff"] < em["ci"][1]
    assert models["base"]["vs_baseline"] is None
    assert any("different questions" in note for note in report["notes"])

    # cost: API by tokens at the gpt-4o-mini list price (snapshot name), local by wall time
    usage = api_meta["usage"]
    api_cost = (usage["tokens_in"] * 0.15 + usage["tokens_out"] * 0.60) / 1e6 / len(api_rows) * 1000
    assert models["gpt-4o-mini"]["cost"]["usd_per_1k_answers"] == pytest.approx(api_cost)
    assert models["lora"]["cost"]["usd_per_1k_answers"] == pytest.approx(20.0 * 1.8 / 3600 / len(lora_rows) * 1000)
    assert models["base"]["cost"]["usd_per_1k_answers"] == 0
    assert models["odd-api"]["cost"]["usd_per_1k_answers"] is None and "no-such-model" in models["odd-api"]["cost"]["note"]
    assert models["lora"]["throughput"]["questions_per_s"] == pytest.approx(len(lora_rows) / 20.0)
    assert models["gpt-4o-mini"]["throughput"]["generated_tokens_per_s"] == pytest.approx(usage["tokens_out"] / 16.0)

    # the files: json matches what was returned, markdown carries the same numbers, PNGs are images
    out = tmp_path / "report"
    saved = json.loads((out / "report.json").read_text())
    assert saved["models"] == json.loads(json.dumps(report["models"]))
    markdown = (out / "report.md").read_text()
    lora = models["lora"]
    row = next(line for line in markdown.splitlines() if line.startswith("| lora |"))
    assert f"{lora['exact_match']:.1f} [{lora['exact_match_ci'][0]:.1f}, {lora['exact_match_ci'][1]:.1f}]" in row
    assert f"{lora['vs_baseline']['metrics']['exact_match']['diff']:+.1f}" in row
    assert "| odd-api |" in markdown and "unknown" in markdown
    assert "base" in report["reading"] and "p" in report["reading"]
    for name in ("models.png", "by_input_tokens.png", "cost.png"):
        assert f"]({name})" in markdown
        assert is_png(out / name), name
    assert sum(b["n_questions"] for b in report["by_input_tokens"]["buckets"]) == len(questions)


def test_default_baseline_is_top_scorer(tmp_path, questions):
    write_run(tmp_path / "r" / "weak", questions, "weak", 0.1, 5)
    write_run(tmp_path / "r" / "strong", questions, "strong", 0.9, 6)
    report = build_report([tmp_path / "r"], tmp_path / "out")
    assert report["baseline"] == "strong"
    weak = report["models"][1]
    assert weak["name"] == "weak" and weak["vs_baseline"]["metrics"]["exact_match"]["p_value"] < 0.001
    assert "worse" in report["reading"]


def test_labels_with_line_breaks_pipes_and_escape_sequences_stay_inside_their_cells(tmp_path, questions, capsys):
    evil = "tuned\n| fake | row |\n# Heading\x1b[2J\x07 <!-- <img src=x>"
    write_run(tmp_path / "r" / "a", questions, "base", 0.3, 7)
    write_run(tmp_path / "r" / "b", questions, evil, 0.6, 8)
    assert eval_main(["report", str(tmp_path / "r"), "--baseline", "base", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    markdown = (tmp_path / "out" / "report.md").read_text()
    for text in (printed, markdown):
        assert "\x1b" not in text and "\x07" not in text
        assert not any(line.startswith(("# Heading", "| fake")) for line in text.splitlines())
    assert "tuned \\| fake \\| row \\| # Heading\\x1b[2J\\x07 &lt;!-- &lt;img src=x>" in markdown
    assert "<!--" not in markdown and "<img" not in markdown  # would hide the rest of the report, or load a pixel
    tables = [line for line in markdown.splitlines() if line.startswith("|")]
    header = next(line for line in tables if line.startswith("| Model"))
    for line in tables[tables.index(header):tables.index(header) + 4]:
        assert line.replace("\\|", "").count("|") == header.count("|"), line


def test_an_out_that_is_a_file_or_cannot_be_written_is_named(tmp_path, questions, capsys):
    write_run(tmp_path / "r" / "a", questions, "a", 0.5, 7)
    (tmp_path / "taken").write_text("a file")
    assert eval_main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "taken")]) == 2
    assert "the report folder is a file, not a folder" in capsys.readouterr().err
    # a folder no one can make, root included (the suite may run as root, who writes anywhere on a disk)
    assert eval_main(["report", str(tmp_path / "r"), "--out", "/proc/self/report-out"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the report folder there" in err and "Traceback" not in err


def test_mixed_splits_are_refused(tmp_path, questions, capsys):
    write_run(tmp_path / "r" / "a", questions, "a", 0.5, 7)
    write_run(tmp_path / "r" / "b", questions, "b", 0.5, 8, split_sha="2" * 64)
    with pytest.raises(ValueError, match="different splits"):
        build_report([tmp_path / "r"], tmp_path / "out")
    assert eval_main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "out")]) == 2
    assert "different splits" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_inputs_name_the_file(tmp_path, questions, capsys):
    write_run(tmp_path / "r" / "a", questions, "a", 0.5, 9)
    assert eval_main(["report", str(tmp_path / "r"), "--baseline", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "'nope' not found" in capsys.readouterr().err
    broken = tmp_path / "r" / "a" / "predictions.jsonl"
    rows = broken.read_text().splitlines()
    row = json.loads(rows[0])
    del row["metrics"]["f1"]
    broken.write_text("\n".join([json.dumps(row)] + rows[1:]) + "\n")
    assert eval_main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "predictions.jsonl" in err and "metrics.f1" in err and row["id"] in err


def test_cli_writes_report(tmp_path, questions, capsys):
    write_run(tmp_path / "r" / "a", questions, "a", 0.3, 10)
    write_run(tmp_path / "r" / "b", questions, "b", 0.6, 11)
    assert eval_main(["report", str(tmp_path / "r" / "a"), str(tmp_path / "r" / "b"), "--baseline", "a",
                        "--out", str(tmp_path / "o"), "--n-boot", "500"]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["n_boot"] == 500 and [m["name"] for m in report["models"]] == ["b", "a"]


def test_second_task_plugs_in(tmp_path):
    """A code-generation task: one `score` per example and a `case` per example, seen or unseen."""
    folder = tmp_path / "r" / "julia"
    folder.mkdir(parents=True)
    rows = [{"id": f"{case}-{k}", "case": case, "seen": case != "fizzbuzz", "tokens_in": 100, "tokens_out": 50,
             "metrics": {"score": score}}
            for case, scores in {"fizzbuzz": [0, 50, 100], "wrap_string": [100, 100, 75]}.items()
            for k, score in enumerate(scores)]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "meta.json").write_text(json.dumps({"label": "julia-lora", "task": "julia", "split": "cases",
                                                  "split_sha256": "3" * 64, "status": "done", "backend": "hf",
                                                  "model": "hf:x", "usd_per_hour": None, "wall_s": 12.0}))
    report = build_report([folder], tmp_path / "out")
    model = report["models"][0]
    assert report["metrics"] == ["score"] and model["score"] == pytest.approx(425 / 6)
    cases = report["by_case"]
    assert [c["case"] for c in cases["cases"]] == ["wrap_string", "fizzbuzz"]  # seen first
    assert [c["mean"] for c in cases["models"]["julia-lora"]] == pytest.approx([275 / 3, 50])
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "wrap_string (seen)" in markdown and "fizzbuzz (unseen)" in markdown
    assert model["cost"]["usd_per_1k_answers"] is None
    assert all(is_png(tmp_path / "out" / p) for p in ("models.png", "by_input_tokens.png", "cost.png"))


def test_price_table_is_extendable(tmp_path, monkeypatch):
    from eval.backends import cost_for_run
    from eval.cost import find_price, load_prices
    prices = load_prices()
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4-turbo", "gpt-4", "gpt-3.5-turbo"):
        assert prices[model]["input"] > 0 and prices[model]["output"] > prices[model]["input"] and prices[model]["as_of"]
    assert find_price("openai:gpt-3.5-turbo-0125", prices)[0] == "gpt-3.5-turbo"
    assert find_price("gpt-4o-2024-05-13", prices)[0] == "gpt-4o-2024-05-13"  # its own, older price
    assert find_price("gpt-4.1-mini-preview", prices) == (None, None)     # no guessing

    extra = tmp_path / "prices.yaml"
    extra.write_text("as_of: 2030-01-01\nsource: my contract\nmodels:\n  my-model: {input: 1, output: 2}\n"
                     "  gpt-4o: {input: 0.5, output: 1}\n")
    monkeypatch.setenv("SLINGSHOT_PRICES", str(extra))
    prices = load_prices()
    assert prices["gpt-4o"]["input"] == 0.5 and prices["gpt-4o"]["as_of"] == "2030-01-01"
    meta = {"backend": "openai", "model": "my-model", "wall_s": 50.0,
            "usage": {"tokens_in": 2_000_000, "tokens_out": 100_000, "n_without_usage": 0}}
    cost = cost_for_run(meta, [{}] * 500, prices)  # priced by the backend that wrote the meta
    assert cost["usd_total"] == pytest.approx(2 * 1 + 0.1 * 2)
    assert cost["usd_per_1k_answers"] == pytest.approx(4.4)
    assert cost["throughput"] == pytest.approx({"questions_per_s": 10, "prompt_tokens_per_s": 40_000,
                                                "generated_tokens_per_s": 2_000})

    extra.write_text("models:\n  my-model: {input: cheap, output: 2}\n")
    with pytest.raises(ValueError, match=r"prices.yaml: key models.my-model.input"):
        load_prices()


def test_three_rows_headline_against_strongest_baseline(tmp_path, questions):
    base0, _ = write_run(tmp_path / "r" / "b0", questions, "m (base, 0-shot)", 0.05, 20)
    meta3, _ = write_run(tmp_path / "r" / "b3", questions, "m (base, 3-shot)", 0.3, 21)
    meta3.update(shots=3, shot_contamination="Few-shot examples: No contamination found.")
    (tmp_path / "r" / "b3" / "meta.json").write_text(json.dumps(meta3))
    tuned, _ = write_run(tmp_path / "r" / "t", questions, "m (tuned)", 0.6, 22)
    tuned["adapter"] = "runs/no-such-run"  # scored with `eval run --adapter`: no statement stored
    (tmp_path / "r" / "t" / "meta.json").write_text(json.dumps(tuned))
    prices = tmp_path / "prices.yaml"
    prices.write_text("as_of: 2026-01-01\nmodels:\n  my-api: {input: 1.0, output: 2.0}\n")
    assert eval_main(["report", str(tmp_path / "r"), "--baseline", "m (base, 0-shot)", "--baseline",
                      "m (base, 3-shot)", "--out", str(tmp_path / "o"), "--n-boot", "300",
                      "--prices", str(prices)]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["baseline"] == "m (base, 3-shot)"  # the stronger baseline row is the headline
    by_name = {m["name"]: m for m in report["models"]}
    assert {m["shots"] for m in report["models"]} == {0, 3} and by_name["m (base, 3-shot)"]["shots"] == 3
    tested = [e["baseline"] for e in [by_name["m (tuned)"]["vs_baseline"]] + by_name["m (tuned)"]["vs_baseline_rows"]]
    assert sorted(tested) == ["m (base, 0-shot)", "m (base, 3-shot)"]
    statements = {c["model"]: c["statement"] for c in report["contamination"]}
    assert statements["m (tuned)"].startswith("Not checked") and "Few-shot" in statements["m (base, 3-shot)"]
    text = (tmp_path / "o" / "report.md").read_text()
    assert "Paired tests against every baseline row" in text and "strongest baseline row" in text


@pytest.fixture
def scored(tmp_path):
    """A store that `python -m eval run` wrote for 12 dev questions, through a real OpenAI-compatible
    server on 127.0.0.1 (tests.helpers.servers) that answers with words of each prompt."""
    from tests.helpers import run_module, squad_test_rows
    from tests.helpers.servers import WordBackend, start_server, stop_server

    split = data_prep_split(tmp_path.name, squad_test_rows("dev-200")[:12])
    server = start_server(WordBackend())
    try:
        run_module("eval", "run", "--model", "openai:word-model", "--base-url", server.url, "--split", split,
                   "--results-dir", tmp_path / "results", "--max-new-tokens", 2, check=True)
    finally:
        stop_server(server)
    return next((tmp_path / "results").glob("*/*"))


def data_prep_split(name, rows, task="squad"):
    """A shared split data/<task>/test/<name>.jsonl and its manifest, written by data prep's own writer."""
    from data_prep.prepare import write_test_split
    from slingshot.layout import test_split_path
    from slingshot.tasks import get_task
    from tests.helpers import DEFAULT_RECIPE
    path = test_split_path(task, name)
    write_test_split(path, rows, {"dev": {"source": "test rows", "sha256": "0" * 64}}, get_task(task).PROMPT_VERSION,
                     DEFAULT_RECIPE)
    return path


def cli_report(*args):
    from tests.helpers import run_module
    result = run_module("eval", "report", *args)
    assert "Traceback" not in result.stderr
    return result


def test_a_store_changed_after_scoring_is_refused_naming_the_file(scored, tmp_path):
    predictions, meta_path = scored / "predictions.jsonl", scored / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert len(meta["predictions_sha256"]) == 64
    result = cli_report(scored, "--out", tmp_path / "ok")
    assert result.returncode == 0, result.stderr
    assert "answers match their recorded sha256 and were re-scored against the split" in result.stdout

    honest = predictions.read_text()
    rows = [json.loads(line) for line in honest.splitlines()]
    assert any(r["metrics"]["exact_match"] == 0 for r in rows)
    for row in rows:  # every answer made "right"
        row.update(answer="anything", metrics={"exact_match": 100.0, "f1": 100.0})
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli_report(scored, "--out", tmp_path / "forged")
    assert result.returncode == 2 and not (tmp_path / "forged").exists()
    assert f"{predictions}: sha256" in result.stderr and "changed after scoring" in result.stderr

    # a store from before hashes: every answer is scored again, and the first forged line is named
    del meta["predictions_sha256"], meta["figures_sha256"]
    meta_path.write_text(json.dumps(meta))
    result = cli_report(scored, "--out", tmp_path / "old")
    assert result.returncode == 2
    assert f"{predictions}:1: id {rows[0]['id']!r}: stored metrics.exact_match is 100.0, but its answer " \
           f"'anything' scores 0.0 against" in result.stderr
    predictions.write_text(honest)
    result = cli_report(scored, "--out", tmp_path / "old")
    assert result.returncode == 0, result.stderr
    assert "no recorded sha256 (stored before hashes); every answer was re-scored" in result.stdout


def test_a_store_naming_its_own_copy_of_the_split_is_never_scored_against_it(scored, tmp_path):
    """Gold answers replaced by the store's own, split_path pointing at that copy, every hash recomputed:
    the report scores against data prep's split only, so the row is unverified, and says why."""
    from eval.store import figures_sha256
    from slingshot.io import sha256_file
    predictions, meta_path = scored / "predictions.jsonl", scored / "meta.json"
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    answers = {r["id"]: r["answer"] for r in rows}
    meta = json.loads(meta_path.read_text())
    from slingshot.layout import test_split_path
    split = test_split_path("squad", meta["split"])
    copy = scored / "split.jsonl"
    copy.write_text("".join(json.dumps({**json.loads(line), "answers": [answers[json.loads(line)["id"]]]}) + "\n"
                            for line in split.read_text().splitlines()))
    for row in rows:
        row["metrics"] = {"exact_match": 100.0, "f1": 100.0}
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta.update(split_path=str(copy), split_sha256=sha256_file(copy), predictions_sha256=sha256_file(predictions))
    meta["figures_sha256"] = figures_sha256(meta)
    meta_path.write_text(json.dumps(meta))
    result = cli_report(scored, "--out", tmp_path / "forged")
    assert result.returncode == 0, result.stderr
    assert "re-scored against the split" not in result.stdout
    assert "unverified: its answers match their recorded sha256 but were not re-scored: its split, sha256 " \
        f"{meta['split_sha256'][:12]}, is not a data-prep split" in result.stdout
    assert "is not a data-prep split" in (tmp_path / "forged" / "report.md").read_text()

    split.unlink()  # data prep's split is not here either: the store's copy is still not read
    result = cli_report(scored, "--out", tmp_path / "gone")
    assert result.returncode == 0 and "is not a data-prep split here" in result.stdout


def test_a_hand_edited_shared_split_is_refused_with_the_command_that_rebuilds_it(scored, tmp_path):
    from slingshot.layout import test_split_path
    split = test_split_path("squad", json.loads((scored / "meta.json").read_text())["split"])
    split.write_text(split.read_text().replace('"answers": [', '"answers": ["anything", '))
    result = cli_report(scored, "--out", tmp_path / "o")
    assert result.returncode == 2 and not (tmp_path / "o").exists()
    assert "the split's bytes are not the ones data prep wrote" in result.stderr
    assert "make prepare RECIPE=recipes/squad/smollm2-135m/lora-cpu.yml" in result.stderr


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["usage"].update(tokens_in=1), "key usage.tokens_in is 1, but the answers in predictions.jsonl add up to"),
    (lambda m: m.update(generation_s=0.0001), "key generation_s is 0.0001, but the answers' latency_s add up to"),
    (lambda m: m["segments"][0].update(requests=1), "kept 12 answers from 1 requests, which cannot be"),
], ids=["tokens", "generation time", "requests"])
def test_cost_figures_edited_in_meta_alone_are_refused(scored, tmp_path, edit, message):
    meta_path = scored / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["segments"][0]["requests"] == 12 and meta["usage"]["tokens_in"] > 1
    edit(meta)
    meta_path.write_text(json.dumps(meta))
    result = cli_report(scored, "--out", tmp_path / "report")
    assert result.returncode == 2 and f"{meta_path}: " in result.stderr and message in result.stderr


def test_a_server_that_answers_as_another_model_is_named(scored, tmp_path):
    meta_path = scored / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["served_models"] = ["word-model-2024-08-06", "gpt-4o-mini"]  # a dated snapshot is the model asked for
    meta_path.write_text(json.dumps(meta))
    result = cli_report(scored, "--out", tmp_path / "report")
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "report" / "report.md").read_text()
    assert "asked for word-model, but the server answered as gpt-4o-mini" in report


@pytest.mark.parametrize("where, key, value, message", [
    ("meta", "wall_s", -100, "meta.json: key wall_s must be a finite number >= 0, got -100"),
    ("meta", "wall_s", "fast", "meta.json: key wall_s must be a finite number >= 0, got 'fast'"),
    ("meta", "usage", {"tokens_in": float("inf"), "tokens_out": 3},
     "meta.json: key usage.tokens_in must be a finite number >= 0, got inf"),
    ("meta", "usd_per_hour", -1.5, "meta.json: key usd_per_hour must be a finite number >= 0, got -1.5"),
    ("row", "tokens_out", -2, "predictions.jsonl:1: key tokens_out must be a finite number >= 0, got -2"),
    ("row", "latency_s", "slow", "predictions.jsonl:1: key latency_s must be a finite number >= 0, got 'slow'"),
    ("row", "metrics", {"exact_match": float("nan"), "f1": 0.0}, "key metrics.exact_match must be a score from 0 to 100, got nan"),
    ("row", "metrics", {"exact_match": 0.0, "f1": 101.0}, "key metrics.f1 must be a score from 0 to 100, got 101.0"),
])
def test_numbers_read_back_are_range_checked(scored, tmp_path, where, key, value, message):
    file = scored / ("meta.json" if where == "meta" else "predictions.jsonl")
    if where == "meta":
        meta = json.loads(file.read_text())
        meta[key] = value
        file.write_text(json.dumps(meta))
    else:
        lines = file.read_text().splitlines(keepends=True)
        row = json.loads(lines[0])
        row[key] = value
        file.write_text(json.dumps(row) + "\n" + "".join(lines[1:]))
    result = cli_report(scored, "--out", tmp_path / "o")
    assert result.returncode == 2 and message in result.stderr and str(file) in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_n_boot_must_be_a_positive_whole_number(tmp_path, questions, value):
    write_run(tmp_path / "r" / "a", questions, "a", 0.5, 30)
    result = cli_report(tmp_path / "r", "--out", tmp_path / "o", "--n-boot", value)
    assert result.returncode == 2 and f"argument --n-boot: {value!r}: expected a whole number >= 1" in result.stderr


def julia_store(folder, rows, hashed, split_name):
    """A finished Julia run folder as `eval run` writes it (its answers were scored in the sandbox)."""
    from slingshot.io import sha256_file
    folder.mkdir(parents=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    split = data_prep_split(split_name, [{"id": r["id"], "case": r["case"], "messages": [
        {"role": "user", "content": "Write a function `wrap_string`."}]} for r in rows], task="julia")
    meta = {"label": folder.name, "task": "julia", "split": split.stem, "split_sha256": sha256_file(split),
            "status": "done", "backend": "hf", "model": "hf:x", "usd_per_hour": None, "wall_s": 12.0,
            "segments": [{"started": "", "wall_s": 12.0, "n": len(rows), "concurrency": 1}]}
    (folder / "meta.json").write_text(json.dumps(meta))
    if hashed:
        RunStore(folder).finish(meta)


def test_julia_stores_are_checked_by_hash_and_older_ones_called_unverified(tmp_path):
    rows = [{"id": f"wrap_string-{k}", "case": "wrap_string", "answer": "f(x) = x", "tokens_in": 9, "tokens_out": 5,
             "metrics": {"score": score, "leaderboard_mode_score": score}} for k, score in enumerate([0, 25, 50])]
    julia_store(tmp_path / "r" / "old", rows, hashed=False, split_name=tmp_path.name)
    julia_store(tmp_path / "r" / "new", rows, hashed=True, split_name=tmp_path.name)
    result = cli_report(tmp_path / "r", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert "old: unverified: no recorded sha256 (stored before hashes); its scores are read as stored" in result.stdout
    assert "new: answers match their recorded sha256" in result.stdout
    notes = json.loads((tmp_path / "o" / "report.json").read_text())["notes"]
    assert any(n.startswith("old: unverified") for n in notes) and not any("unverified" in n for n in notes if n.startswith("new"))

    predictions = tmp_path / "r" / "new" / "predictions.jsonl"
    predictions.write_text(predictions.read_text().replace('"score": 0,', '"score": 100,'))
    result = cli_report(tmp_path / "r", "--out", tmp_path / "o2")
    assert result.returncode == 2 and f"{predictions}: sha256" in result.stderr
    rows[0]["metrics"]["leaderboard_mode_score"] = -1
    julia_store(tmp_path / "bad", rows, hashed=True, split_name=tmp_path.name + "-bad")
    result = cli_report(tmp_path / "bad", "--out", tmp_path / "o3")
    assert result.returncode == 2 and "key metrics.leaderboard_mode_score must be a score from 0 to 100, got -1" \
        in result.stderr


def test_an_export_row_is_reported_only_while_its_file_is_unchanged(tmp_path):
    """A GGUF row scored through the real backend and server: its file is re-hashed at every report; a
    header zeroed in place (same size) is refused, a file since deleted is reported as not re-checked."""
    from eval.exports import GGUFBackend
    from eval.run import evaluate
    from slingshot.io import sha256_file
    from tests.helpers import squad_test_rows, write_squad_split
    from tests.helpers.servers import WordBackend, start_server, stop_server

    gguf = tmp_path / "export" / "r-Q8_0.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 16)  # the check is on hashes: the bytes need not load
    split = write_squad_split(tmp_path, squad_test_rows("dev-200")[:6], "dev-6")
    server = start_server(WordBackend(), served_name=gguf.name)
    try:
        store = evaluate(GGUFBackend(gguf, sha256_file(gguf), server.url), split, 4, results_dir=tmp_path / "results",
                         quiet=True, extra_meta={"gguf_bytes": gguf.stat().st_size, "quantization": "Q8_0"})
    finally:
        stop_server(server)
    assert store.read_meta()["gguf_files"] == [str(gguf)]
    result = cli_report(store.folder, "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert "export files match the sha256 they were scored with" in result.stdout

    size = gguf.stat().st_size
    gguf.write_bytes(bytes(4) + gguf.read_bytes()[4:])
    assert gguf.stat().st_size == size
    result = cli_report(store.folder, "--out", tmp_path / "o2")
    assert result.returncode == 2 and f"{gguf}: sha256 differs from the one this row was scored with" in result.stderr
    assert "make export" in result.stderr and not (tmp_path / "o2").exists()

    gguf.unlink()
    result = cli_report(store.folder, "--out", tmp_path / "o3")
    assert result.returncode == 0 and f"export file not re-checked ({gguf} no longer exists)" in result.stdout


def trained_run_folder(folder, summary):
    """A run folder as training leaves it: the recipe it trained from and its train_summary.json."""
    from tests.helpers import write_recipe
    folder.mkdir(parents=True)

    def edit(config):
        config.update(lora_r=4, lora_alpha=8, num_epochs=3, base_model="org/base-model")
    write_recipe(folder, edit=edit)
    (folder / "train_summary.json").write_text(json.dumps(summary))
    return folder


def test_every_tuned_row_names_what_it_was_trained_with(tmp_path, questions):
    """Rank, alpha, training rows, epochs and base model of each tuned row, read from its run folder (the
    recipe.yml it trained from, Axolotl's default where that is silent, and train_summary.json)."""
    write_run(tmp_path / "r" / "base", questions, "m (base)", 0.2, 30)
    tuned, _ = write_run(tmp_path / "r" / "tuned", questions, "m (tuned)", 0.6, 31)
    tuned["adapter"] = str(trained_run_folder(tmp_path / "runs" / "m", {"train_rows": 96}))
    (tmp_path / "r" / "tuned" / "meta.json").write_text(json.dumps(tuned))
    lost, _ = write_run(tmp_path / "r" / "lost", questions, "m (tuned elsewhere)", 0.5, 32)
    lost["adapter"] = str(tmp_path / "runs" / "gone")  # a run folder that is no longer there
    (tmp_path / "r" / "lost" / "meta.json").write_text(json.dumps(lost))
    report = build_report([tmp_path / "r"], tmp_path / "o", baseline="m (base)", n_boot=200)
    by_name = {m["name"]: m for m in report["models"]}
    assert by_name["m (base)"]["training"] is None
    assert by_name["m (tuned)"]["training"] == {
        "base_model": "org/base-model", "lora_r": 4, "lora_alpha": 8, "num_epochs": 3, "max_steps": None,
        "train_rows": 96, "recipe": str(tmp_path / "runs" / "m" / "recipe.yml"), "problem": None}
    assert "holds no recipe.yml" in by_name["m (tuned elsewhere)"]["training"]["problem"]
    assert json.loads((tmp_path / "o" / "report.json").read_text())["models"] == json.loads(json.dumps(report["models"]))
    text = (tmp_path / "o" / "report.md").read_text()
    assert ("- **m (tuned)**: LoRA rank 4, alpha 8; 96 training rows, 3 epochs; base org/base-model "
            f"({tmp_path / 'runs' / 'm' / 'recipe.yml'})") in text
    assert "- **m (tuned elsewhere)**: training settings unknown (" in text
    assert text.index("Tuned rows, as trained") < text.index(report["reading"])  # under the headline table
