"""The leaderboard's recorded answers as a backend: points of one stored evaluation, the recorded cost, the
report's section, and reference runs built from the carried leaderboard (values from the carried evaluation
files, idempotent folders, and a Julia report with seen/unseen cases and the contamination statement)."""
import json

import pytest

from data_prep import julia as julia_prep
from eval.backends.leaderboard import LeaderboardRecords, recorded_cost, reference_runs, run_label, stored_points
from eval.report import build_report
from eval.run import EvalError
from eval.store import RunStore
from slingshot.contamination import check, contamination_statement
from slingshot.io import sha256_file
from slingshot.layout import display_path, resolve
from slingshot.metrics.julia.cases import iter_cases, leaderboard_root

EVALUATION = {"parsed": True, "executed": True, "unit_tests_passed": 1, "unit_tests_count": 2,
              "examples_executed": 0, "examples_count": 0}


def test_points_drop_a_part_whose_count_is_zero():
    assert stored_points(EVALUATION, "e.json") == pytest.approx(100 * (1 + 1 + 0.5) / 3)
    assert stored_points({**EVALUATION, "examples_count": 4, "examples_executed": 4}, "e") == pytest.approx(87.5)
    with pytest.raises(EvalError, match="e.json: key 'parsed' must be a number or boolean, got None"):
        stored_points({**EVALUATION, "parsed": None}, "e.json")


def test_the_recorded_cost_and_its_absence():
    meta = {"n_samples": 10, "usage": {"tokens_in": 100, "tokens_out": 50},
            "recorded_cost": {"usd_total": 0.02, "n_answers": 8, "n_unpriced": 2}}
    cost = recorded_cost(meta)
    assert cost["usd_per_1k_answers"] == pytest.approx(2.5) and cost["basis"] == "recorded"
    assert cost["price"] == {"recorded_usd": 0.02, "recorded_answers": 8, "unpriced_answers": 2}
    assert cost["throughput"]["questions_per_s"] is None
    assert recorded_cost({"n_samples": 3})["note"] == "the leaderboard recorded no cost for these answers"
    assert LeaderboardRecords.cost(meta, [], {}) == cost


def test_the_report_section_lists_each_record():
    fields = LeaderboardRecords.report_fields({"n_samples": 5, "recorded": {"first": "2024-01", "last": "2024-09",
                                               "n_same_prompt": 4}, "harness": {"before_20240201": 1,
                                               "before_20240812": 2}, "note": "n"})
    report = {"models": [{"name": run_label("gpt-4"), **fields}, {"name": "base"}]}
    lines = LeaderboardRecords.report_lines(report)
    assert lines[1] == "## Leaderboard records"
    assert lines[-1] == "| gpt-4 (leaderboard record) | 5 | 2024-01 to 2024-09 | 1 | 2 | 4 |"
    assert LeaderboardRecords.report_lines({"models": [{"name": "base"}]}) == []


MODELS = ["gpt-4-1106-preview", "claude-3-opus-20240229"]
PICKED = ["wrap_string/InJulia", "wrap_string/JuliaExpertAsk", "pig_latinify/InJulia"]


@pytest.fixture(scope="module")
def leaderboard(tmp_path_factory):
    """Full-score conversations and the all-cases split rows of two cases, built by data prep from
    the stored runs of those cases only (linked in; scanning all ~30,000 runs takes seconds)."""
    root = leaderboard_root()
    subset = tmp_path_factory.mktemp("leaderboard") / "code_generation"
    real_dirs = {}
    for case in ("wrap_string", "pig_latinify"):
        real = next(root.glob(f"*/{case}"))
        (subset / real.parent.name).mkdir(parents=True, exist_ok=True)
        (subset / real.parent.name / case).symlink_to(real, target_is_directory=True)
        real_dirs[case] = display_path(real)
    full, renderings, _ = julia_prep.load_runs(subset)
    rows, _, _ = julia_prep.test_rows("all-cases", {c["name"]: c for c in iter_cases(subset)}, renderings, None)
    return full, [{**r, "case_dir": real_dirs[r["case"]]} for r in rows if r["id"] in PICKED]


@pytest.fixture
def split(tmp_path, leaderboard):
    """Three rows of the real all-cases split, at the path layout the runner reads (<task>/test/)."""
    path = tmp_path / "data" / "julia" / "test" / "tiny.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in leaderboard[1]))
    return path


def points_from_files(case_dir, template, model):
    """The leaderboard's points of every stored answer, read straight from the JSON files."""
    scores, tokens, cost, early = [], [0, 0], 0.0, 0
    for path in sorted(resolve(case_dir).rglob(f"evaluation__{template}__*.json")):
        e = json.loads(path.read_text())
        if e["model"] != model:
            continue
        scores.append(25 * e["parsed"] + 25 * e["executed"] + 25 * e["unit_tests_passed"] / e["unit_tests_count"]
                      + 25 * e["examples_executed"] / e["examples_count"])
        tokens = [tokens[0] + e["tokens"][0], tokens[1] + e["tokens"][1]]
        cost += e["cost"]
        early += e["timestamp"] < "20240201"
    return scores, tokens, cost, early


def test_reference_values_match_the_evaluation_files(split, tmp_path):
    stores = reference_runs(split, MODELS, results_dir=tmp_path / "results")
    assert [s.read_meta()["model"] for s in stores] == MODELS
    rows = {json.loads(line)["id"]: json.loads(line) for line in split.read_text().splitlines()}
    for store in stores:
        meta, predictions = store.read_meta(), store.load_predictions()
        model = meta["model"]
        assert store.folder.parent == tmp_path / "results" / "tiny"
        assert (meta["task"], meta["split"], meta["status"]) == ("julia", "tiny", "done")
        assert meta["backend"] == "leaderboard" and meta["wall_s"] is None
        assert meta["split_sha256"] == sha256_file(split) and meta["label"] == f"{model} (leaderboard record)"
        assert meta["n_expected"] == 3 and sorted(predictions) == sorted(PICKED)
        all_tokens, all_cost, all_early, n = [0, 0], 0.0, 0, 0
        for row_id, prediction in predictions.items():
            row = rows[row_id]
            scores, tokens, cost, early = points_from_files(row["case_dir"], row["prompt_label"], model)
            assert len(scores) >= 3  # several stored samples per prompt, none of the `--optim` variant
            assert prediction["metrics"]["n_samples"] == len(scores)
            assert prediction["metrics"]["score"] == pytest.approx(sum(scores) / len(scores))
            assert (prediction["case"], prediction["prompt_label"]) == (row["case"], row["prompt_label"])
            all_tokens = [all_tokens[0] + tokens[0], all_tokens[1] + tokens[1]]
            all_cost, all_early, n = all_cost + cost, all_early + early, n + len(scores)
        assert meta["usage"] == {"tokens_in": all_tokens[0], "tokens_out": all_tokens[1]}
        assert meta["recorded_cost"]["usd_total"] == pytest.approx(all_cost) and all_cost > 0
        assert meta["n_samples"] == n and meta["harness"]["before_20240201"] == all_early
        assert f"{all_early} of the answers were recorded before 2024-02-01" in meta["note"]
    # GPT-4 of the Cheater-7B write-up: all of its stored runs predate the harness fixes
    gpt4 = stores[0].read_meta()
    assert gpt4["harness"]["before_20240812"] == gpt4["n_samples"]


def test_reference_runs_are_idempotent(split, tmp_path):
    results = tmp_path / "results"
    first = reference_runs(split, MODELS, results_dir=results)
    files = {p: p.read_bytes() for s in first for p in (s.meta_path, s.predictions_path)}
    again = reference_runs(split, MODELS, results_dir=results)
    assert [s.folder for s in again] == [s.folder for s in first]
    assert {p: p.read_bytes() for p in files} == files
    assert sorted(p.name for p in (results / "tiny").iterdir()) == sorted(s.folder.name for s in first)

    torn = first[0]  # a folder left unfinished is rewritten whole
    meta = torn.read_meta()
    torn.write_meta({**meta, "status": "running"})
    torn.predictions_path.write_text('{"id": "wrap_string/InJulia", "metr')
    reference_runs(split, MODELS, results_dir=results)
    assert torn.read_meta()["status"] == "done" and torn.predictions_path.read_bytes() == files[torn.predictions_path]

    split.write_text(split.read_text().splitlines()[0] + "\n")  # another split file: another folder
    (one,) = reference_runs(split, MODELS[:1], results_dir=results)
    assert one.folder not in [s.folder for s in first] and len(one.load_predictions()) == 1


def test_unknown_model_and_wrong_task_are_refused(split, tmp_path):
    with pytest.raises(EvalError, match=r"no-such-model.*tiny\.jsonl"):
        reference_runs(split, ["no-such-model"], results_dir=tmp_path / "results")
    squad = tmp_path / "data" / "squad" / "test" / "dev.jsonl"
    squad.parent.mkdir(parents=True)
    squad.write_text(split.read_text())
    with pytest.raises(EvalError, match="only for Julia"):
        reference_runs(squad, results_dir=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def write_local_run(folder, split, label, scores, extra_meta=None, seen_ids=None):
    """A run folder as eval.run writes it for a local model; scores by id are given, not generated
    (None: an answer the scorer skipped)."""
    rows = [json.loads(line) for line in split.read_text().splitlines()]
    predictions = []
    for row in rows:
        score = scores[row["id"]]
        metrics = ({"skipped": True, "reason": "packages missing in the local Julia: DataFrames"}
                   if score is None else {"score": score, "parsed": True, "executed": score > 50})
        predictions.append({"id": row["id"], "prompt_hash": "h", "raw_output": "```julia\n```", "answer": "",
                            "tokens_in": 80, "tokens_out": 120, "latency_s": 2.0, "case": row["case"],
                            "prompt_label": row["prompt_label"],
                            **({"seen": row["id"] in seen_ids} if seen_ids is not None else {}),
                            "metrics": metrics})
    folder.mkdir(parents=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions))
    meta = {"key": folder.name, "label": label, "task": "julia", "split": "tiny", "split_sha256": sha256_file(split),
            "n_expected": len(rows), "model": "hf:models/smollm2-135m-instruct", "backend": "hf",
            "prompt_version": "julia-leaderboard-v1", "status": "done", "finished": "", "wall_s": 6.0,
            "usd_per_hour": 0.5, "hardware": "2-core CPU", "device": "cpu", **(extra_meta or {})}
    (folder / "meta.json").write_text(json.dumps(meta))
    return RunStore(folder)


def test_report_marks_seen_cases_and_states_contamination(split, tmp_path, leaderboard):
    full, picked = leaderboard
    train = [julia_prep.training_row(c) for c in full if c["case"] == "wrap_string"][:5]
    overlap = check("julia", train, picked)
    assert overlap["seen_cases"] == ["wrap_string"] and overlap["unseen_cases"] == ["pig_latinify"]
    statement = contamination_statement(overlap)
    results = tmp_path / "results" / "tiny"
    base = write_local_run(results / "base", split, "smollm2 (base)", dict(zip(PICKED, [50.0, 25.0, None])))
    tuned = write_local_run(results / "tuned", split, "smollm2-lora (tuned)", dict(zip(PICKED, [100.0, 75.0, 0.0])),
                            extra_meta={"contamination": statement}, seen_ids=set(overlap["affected_ids"]))
    references = reference_runs(split, MODELS, results_dir=tmp_path / "results")
    report = build_report([base, tuned, *references], tmp_path / "report", baseline="smollm2 (base)", n_boot=500)

    table = report["by_case"]
    assert [(c["case"], c["seen"], c["seen_by"]) for c in table["cases"]] == [
        ("wrap_string", True, ["smollm2-lora (tuned)"]), ("pig_latinify", False, [])]
    assert table["groups"]["smollm2-lora (tuned)"]["seen"]["mean"] == pytest.approx(87.5)
    assert table["groups"]["smollm2-lora (tuned)"]["unseen"]["mean"] == pytest.approx(0.0)
    gpt4_name = "gpt-4-1106-preview (leaderboard record)"
    gpt4 = {k: r["metrics"]["score"] for k, r in references[0].load_predictions().items()}
    seen_cell = table["models"][gpt4_name][0]
    assert seen_cell["mean"] == pytest.approx((gpt4[PICKED[0]] + gpt4[PICKED[1]]) / 2)
    assert table["groups"][gpt4_name]["seen"]["mean"] == pytest.approx(seen_cell["mean"])
    assert seen_cell["ci"][0] <= seen_cell["mean"] <= seen_cell["ci"][1]
    assert table["models"][gpt4_name][1] == {"n": 1, "mean": pytest.approx(gpt4[PICKED[2]]), "ci": None}

    models = {m["name"]: m for m in report["models"]}
    assert models["smollm2 (base)"]["n"] == 2  # the skipped answer is left out, not scored 0
    assert any("smollm2 (base): 1 answers could not be scored" in n and "not counted as 0" in n
               for n in report["notes"])
    assert table["models"]["smollm2 (base)"][1] == {"n": 0, "mean": None, "ci": None}
    cost = models[gpt4_name]["cost"]
    meta = references[0].read_meta()
    assert cost["usd_per_1k_answers"] == pytest.approx(meta["recorded_cost"]["usd_total"] / meta["n_samples"] * 1000)
    assert models[gpt4_name]["throughput"]["questions_per_s"] is None
    assert report["contamination"] == [{"model": "smollm2-lora (tuned)", "statement": statement}]

    markdown = (tmp_path / "report" / "report.md").read_text()
    assert markdown.index("## Contamination") < markdown.index("## Cost and throughput")
    assert f"- **smollm2-lora (tuned)**: {statement}" in markdown
    assert "wrap_string (seen)" in markdown and "pig_latinify (unseen)" in markdown
    assert "Score, unseen cases [95% CI]" in markdown and "Score, seen cases [95% CI]" in markdown
    per_case = markdown.split("## Score per test case")[1].split("\n## ")[0]
    gpt4_line = next(line for line in per_case.splitlines() if line.startswith(f"| {gpt4_name} |"))
    assert f"{seen_cell['mean']:.1f} [{seen_cell['ci'][0]:.1f}, {seen_cell['ci'][1]:.1f}]" in gpt4_line
    assert "## Leaderboard records" in markdown and "recorded: $" in markdown
