"""Leaderboard cases and stored runs read from folders; bad ones name the file and key."""
import json

import pytest

from slingshot.metrics.julia.cases import iter_stored_runs, load_case


def write_case(folder, **overrides):
    fields = {"name": "double", "prompt": "Write double(x).", "examples": ["double(2)"],
              "unit_tests": ["@test double(2) == 4", "@test double(0) == 0"], "imports": [],
              "reference_solution": "double(x) = 2x\n"}
    fields.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[code_generation]"] + [f"{k} = {json.dumps(v)}" for k, v in fields.items() if v is not None]
    (folder / "definition.toml").write_text("\n".join(lines) + "\n")
    return folder


def test_load_case_and_stored_runs(tmp_path):
    case_dir = write_case(tmp_path / "code_generation" / "utility" / "double")
    case = load_case(case_dir)
    assert case["name"] == "double" and case["category"] == "utility"
    model_dir = case_dir / "org" / "model-x"
    model_dir.mkdir(parents=True)
    stem = "InJulia__1SHOT__20240101_000000__001.json"
    (model_dir / f"conversation__{stem}").write_text(json.dumps([{"content": "hi"}, {"content": "answer"}]))
    (model_dir / f"evaluation__{stem}").write_text(json.dumps({"parsed": True, "timestamp": "20240101_000000__001"}))
    runs = list(iter_stored_runs(tmp_path / "code_generation"))
    assert len(runs) == 1 and runs[0]["answer"] == "answer" and runs[0]["model"] == "org/model-x"
    assert list(iter_stored_runs(tmp_path / "code_generation", case="other")) == []


def test_bad_case_names_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="definition.toml"):
        load_case(tmp_path)
    broken = write_case(tmp_path / "c" / "broken", unit_tests=None)
    with pytest.raises(ValueError, match="unit_tests"):
        load_case(broken)
