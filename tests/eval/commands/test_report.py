"""python -m eval report, in process, on run folders written as the runner writes them."""
import json

import pytest

from eval.commands.report import main
from tests.helpers import squad_dev_questions, write_run


def test_a_report_of_two_runs(tmp_path, capsys):
    questions = squad_dev_questions()
    write_run(tmp_path / "runs" / "base", questions, "base", 0.2, 1)
    write_run(tmp_path / "runs" / "lora", questions, "lora", 0.8, 2)
    out = tmp_path / "report"
    assert main([str(tmp_path / "runs"), "--baseline", "base", "--out", str(out), "--n-boot", "50"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'report.md'} (2 models)" in printed and "Baseline: base" in printed
    assert json.loads((out / "report.json").read_text())["n_boot"] == 50


def test_bad_options_and_no_runs_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), "--n-boot", "0"])
    assert stop.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing")]) == 2 and capsys.readouterr().err.startswith("error: ")
