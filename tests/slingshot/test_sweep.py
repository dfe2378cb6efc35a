"""Sweeps: the grid, the Holm correction, the report, and a real two-cell sweep killed and resumed."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from eval.commands.sweep import main as sweep_command
from eval.stats import holm
from slingshot.layout import DATA_DIR, REPORTS_DIR, ROOT, RUNS_DIR, sweep_home
from slingshot.sweep import SweepError, cell_slug, make_cells, parse_sweep
from slingshot.recipe import derive_recipe, load_recipe
from tests.helpers import DEFAULT_RECIPE, run_module


def test_parse_sweep_reads_values_as_yaml():
    assert parse_sweep("train_size=32,64,4% lora_r=8 learning_rate=1e-4,0.001,5E-5") == {
        "train_size": [32, 64, "4%"], "lora_r": [8], "learning_rate": [0.0001, 0.001, 0.00005]}  # 1e-4: a number
    for bad in ("", "train_size", "train_size=", "lora_r=8 lora_r=16"):
        with pytest.raises(SweepError):
            parse_sweep(bad)


def test_cells_are_real_recipes_with_their_own_folders():
    base = load_recipe(DEFAULT_RECIPE)
    cells = make_cells(base, {"train_size": [16, 32], "lora_r": [8], "seed": [0, 1]})
    try:
        assert [c["params"] for c in cells] == [
            {"train_size": 16, "lora_r": 8, "seed": 0}, {"train_size": 16, "lora_r": 8, "seed": 1},
            {"train_size": 32, "lora_r": 8, "seed": 0}, {"train_size": 32, "lora_r": 8, "seed": 1}]
        outputs = {c["recipe"].output_dir for c in cells} | {base.output_dir}
        assert len(outputs) == 5
        cell = load_recipe(cells[3]["recipe"].path)  # the file alone is the cell
        assert cell.params()["train_size"] == 32 and cell.config["lora_r"] == 8 and cell.config["seed"] == 1
        assert cell.block["seed"] == base.block["seed"]  # `seed` is the training seed; the data stays
        assert "sweep" not in cell.block
        assert cell.name == f"{base.name}-sweep-{cell_slug(cells[3]['params'])}"
    finally:
        for c in cells:
            shutil.rmtree(c["recipe"].path.parent, ignore_errors=True)


def test_unknown_sweep_keys_are_named_with_a_suggestion():
    base = load_recipe(DEFAULT_RECIPE)
    with pytest.raises(SweepError, match="unknown key 'lora_rank'.*lora_r"):
        make_cells(base, {"lora_rank": [8]})
    with pytest.raises(SweepError, match="output_dir: cannot be swept"):
        make_cells(base, {"output_dir": ["runs/x"]})


def test_sweep_folders_keep_published_names_and_key_every_other_recipe_by_its_path(tmp_path):
    assert sweep_home(DEFAULT_RECIPE) == ("squad-smollm2-135m-lora-cpu-sweep", None,
                                          REPORTS_DIR / "squad-smollm2-135m-lora-cpu-sweep")
    assert sweep_home(RUNS_DIR / "derived" / "tiny" / "recipe.yml")[:2] == ("tiny-sweep", None)
    a, b = sweep_home(tmp_path / "a" / "lora.yml"), sweep_home(tmp_path / "b" / "lora.yml")
    assert re.fullmatch(r"lora-[0-9a-f]{8}-sweep", a[0]) and a[0] != b[0]
    assert a[1:] == (tmp_path / "a" / a[0], tmp_path / "a" / a[0] / "report")  # beside the file, not in the repo
    in_repo = sweep_home(ROOT / "experiments" / "lora.yml")  # in the repo, named by its stem alone
    assert in_repo[0] not in (a[0], b[0], "lora-sweep") and in_repo[1] is None


def test_same_stem_recipes_outside_the_repo_sweep_into_their_own_cells(tmp_path, capsys):
    """Two lora.yml in different folders, swept through the CLI in this process (--report-only: nothing
    trains)."""
    derived_before = sorted((ROOT / "runs" / "derived").glob("lora-*")) + sorted((ROOT / "data" / "derived").glob("lora-*"))
    cells = {}
    for folder in ("a", "b"):
        path = tmp_path / folder / "lora.yml"
        path.parent.mkdir()
        shutil.copyfile(DEFAULT_RECIPE, path)
        assert sweep_command([str(path), "--sweep", "lora_r=8,16", "--report-only"]) == 2
        out, err = capsys.readouterr()
        assert err.strip().endswith("no finished cell to report on yet (0 of 2)"), err[-2000:]
        name, beside, _ = sweep_home(path)
        assert f"cell recipes under {beside / 'runs'}/{name}-*" in out
        cells[folder] = sorted(beside.glob("runs/*/recipe.yml"))
        assert [p.parent.name for p in cells[folder]] == [f"{name}-lora_r16", f"{name}-lora_r8"]
        for cell in cells[folder]:
            recipe = load_recipe(cell)
            assert recipe.config["lora_r"] in (8, 16) and recipe.name == cell.parent.name
            for key in ("train", "validation", "run", "prepared"):
                assert recipe.paths[key].resolve().is_relative_to(beside), (key, recipe.paths[key])
    assert {p.parent.name for p in cells["a"]}.isdisjoint(p.parent.name for p in cells["b"])
    derived_after = sorted((ROOT / "runs" / "derived").glob("lora-*")) + sorted((ROOT / "data" / "derived").glob("lora-*"))
    assert derived_after == derived_before and not list((ROOT / "reports").glob("lora-*"))


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm([0.4, 0.4, 0.4]) == pytest.approx([1.0, 1.0, 1.0])


TINY = "sweeptest-tiny"


def cell_runs():
    return sorted((RUNS_DIR / "derived").glob(f"{TINY}-sweep-*"))


@pytest.mark.slow
def test_two_cell_sweep_killed_after_the_first_cell_resumes_without_retraining(model_dir, tmp_path):
    for folder in cell_runs() + sorted((DATA_DIR / "derived").glob(f"{TINY}-sweep-*")):
        shutil.rmtree(folder)
    tiny = derive_recipe(load_recipe(DEFAULT_RECIPE), TINY,
                         {"max_steps": 2, "evals_per_epoch": None, "micro_batch_size": 1, "gradient_accumulation_steps": 1,
                          "warmup_steps": 0},
                         {"train_size": 8, "validation_size": 4})
    args = ["eval", "sweep", tiny.path, "--sweep", "seed=0,1", "--limit", "5", "--out", tmp_path / "report"]
    env = {**os.environ, "SLINGSHOT_RESULTS_DIR": str(tmp_path / "results")}
    sweep = subprocess.Popen([sys.executable, "-m", *map(str, args)], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    seen = []
    for line in sweep.stdout:
        seen.append(line)
        if line.startswith("cell 1 of 2 finished"):
            os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and everything it started
            break
    sweep.wait(timeout=60)
    log = "".join(seen)
    assert "cell 1 of 2 finished" in log, log[-3000:]
    first, = [p for p in cell_runs() if p.name.endswith("seed0")]
    assert (first / "sweep_cell.json").exists()
    assert not (tmp_path / "report" / "sweep.json").exists()
    stamps = {name: (first / name).stat().st_mtime_ns
              for name in ("adapter_model.safetensors", "train_summary.json", "train.log", "sweep_cell.json")}

    resumed = run_module(*args, env={"SLINGSHOT_RESULTS_DIR": str(tmp_path / "results")})
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"cell 1 of 2: {TINY}-sweep-seed0: finished earlier, kept" in resumed.stdout
    assert "cell 2 of 2 finished" in resumed.stdout
    assert {name: (first / name).stat().st_mtime_ns for name in stamps} == stamps  # not retrained, not rescored
    assert "already scored" in resumed.stdout  # the base model: once, from the first invocation

    report = json.loads((tmp_path / "report" / "sweep.json").read_text())
    assert [c["params"] for c in report["cells"]] == [{"seed": 0}, {"seed": 1}]
    for row in report["cells"] + [report["baseline"]]:
        assert {"params", "name", "n", "exact_match", "f1", "exact_match_ci", "f1_ci", "p_value"} <= set(row)
        assert row["n"] == 5 and 0 <= row["exact_match"] <= 100
    assert report["baseline"]["p_value"] is None
    for row in report["cells"]:
        assert 0 < row["p_value"] <= row["p_value_holm"] <= 1
    assert report["settings"][0]["seeds"] == [0, 1] and report["settings"][0]["exact_match_spread"] >= 0
    assert "Holm" in (tmp_path / "report" / "sweep.md").read_text()
    assert report["conclusion"].startswith(("The smallest data size", "No setting"))
    for png in ("learning_curve.png", "rank.png"):
        assert (tmp_path / "report" / png).stat().st_size > 1000


def synthetic_cell(train_size, seed, em, holds, half=6.0):
    return {"name": f"c{train_size}-{seed}", "params": {"train_size": train_size, "seed": seed},
            "effective": {"train_size": train_size, "lora_r": 32, "seed": seed}, "holds": holds,
            "exact_match": em, "exact_match_ci": [em - half, em + half]}


def test_settings_show_seed_spread_and_the_conclusion_needs_every_seed():
    from eval.sweep_report import conclusion, settings_table

    cells = [synthetic_cell(32, 0, 10.0, False), synthetic_cell(32, 1, 22.0, True),
             synthetic_cell(64, 0, 30.0, True), synthetic_cell(64, 1, 31.0, True)]
    settings = settings_table(cells, ["exact_match"])
    assert [s["params"] for s in settings] == [{"train_size": 32}, {"train_size": 64}]
    assert settings[0]["exact_match_spread"] == 12.0 > settings[0]["exact_match_ci_half_width"]
    assert settings[0]["holds"] is False and settings[1]["holds"] is True
    baseline = {"exact_match": 0.0}
    text = conclusion(settings, baseline, "exact_match", "EM", 4)
    assert "train_size=64 (lora_r=32)" in text and "Holm correction over 4 cells" in text
    assert conclusion(settings[:1], baseline, "exact_match", "EM", 2).startswith("No setting")


def test_report_only_hands_the_finished_cells_to_the_eval_report_command(tmp_path, capsys):
    """`eval sweep --report-only` writes the report from the finished cells' records alone, and names the
    unfinished ones."""
    from slingshot.io import stable_hash
    from slingshot.sweep import cell_record
    from tests.helpers import squad_dev_questions, write_run

    path = tmp_path / "exp" / "lora.yml"
    path.parent.mkdir()
    shutil.copyfile(DEFAULT_RECIPE, path)
    first = make_cells(load_recipe(path), {"lora_r": [8, 16]})[0]
    asked = squad_dev_questions()[:40]
    write_run(tmp_path / "results" / "base", asked, "base", 0.3, seed=1)
    write_run(tmp_path / "results" / "cell", asked, "cell", 0.6, seed=2)
    summary = first["recipe"].paths["summary"]
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps({"fingerprint": "f", "wall_s": 12.0}))
    cell_record(first).write_text(json.dumps({
        "params": first["params"], "config": stable_hash(first["recipe"].config), "fingerprint": "f", "limit": None,
        "store": str(tmp_path / "results" / "cell"), "base_store": str(tmp_path / "results" / "base"),
        "train_wall_s": 12.0, "eval_wall_s": 40.0}))
    code = sweep_command([str(path), "--sweep", "lora_r=8,16", "--report-only", "--out", str(tmp_path / "report")])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "sweep report (1 of 2 cells)" in out
    markdown = (tmp_path / "report" / "sweep.md").read_text()
    assert "Partial report: 1 cell(s) not finished yet" in markdown and first["recipe"].name in markdown
    report = json.loads((tmp_path / "report" / "sweep.json").read_text())
    assert [c["name"] for c in report["cells"]] == [first["recipe"].name] and report["baseline"]["name"] == "base"
