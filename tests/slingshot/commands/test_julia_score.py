"""python -m slingshot julia-score: one line of JSON for a scored answer (real Julia), and usage errors
(a case folder without definition.toml, an unreadable answer, an unknown mode) as `error: ...`, exit 2."""
import json
import os
import subprocess
import sys

import pytest

from slingshot.commands.julia_score import KEYS, main
from slingshot.layout import ROOT
from tests.helpers import needs_julia


def fence(code):
    return f"Here you go:\n\n```julia\n{code}\n```\n\nDone."


@pytest.mark.slow
@needs_julia
@pytest.mark.julia
def test_cli_prints_one_json_line(tmp_path):
    from slingshot.metrics.julia.cases import iter_cases
    case = next(c for c in iter_cases() if c["name"] == "keep_only_names")
    answer = tmp_path / "answer.md"
    answer.write_text(fence(case["reference_solution"]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "slingshot", "julia-score", case["dir"], str(answer),
                          "--mode", "leaderboard", "--timestamp", "20240501_000000"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert set(row) <= set(KEYS)
    for key in ("parsed", "executed", "unit_tests_passed", "unit_tests_count", "examples_executed",
                "examples_count", "score"):
        assert key in row
    assert row["score"] == 100.0


def test_a_folder_without_a_case_is_an_error_naming_definition_toml(tmp_path, capsys):
    answer = tmp_path / "answer.md"
    answer.write_text(fence("f() = 1"))
    # --weak-sandbox: the folder is read before any sandbox is built, so no machine needs one for this
    assert main([str(tmp_path), str(answer), "--weak-sandbox"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("error: ") and "definition.toml" in out.err


def test_an_answer_that_cannot_be_read_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path), str(tmp_path / "missing.md")]) == 2
    assert "missing.md" in capsys.readouterr().err
    binary = tmp_path / "answer.md"
    binary.write_bytes(b"\xff\xfe not text")
    assert main([str(tmp_path), str(binary)]) == 2
    assert capsys.readouterr().err == f"error: {binary}: the answer is not UTF-8 text (invalid start byte at byte 0)\n"


def test_an_unknown_mode_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path), "-", "--mode", "lenient"])
    assert stop.value.code == 2 and "--mode" in capsys.readouterr().err
