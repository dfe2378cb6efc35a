"""python -m slingshot plan, in process: a shipped recipe planned offline, the GPU table, and usage errors."""
import json

import pytest

from slingshot.commands.plan import main
from slingshot.plan import GPUS
from tests.helpers import DEFAULT_RECIPE, ROOT


def test_a_shipped_recipe_is_planned_as_one_json_object(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main([str(DEFAULT_RECIPE.relative_to(ROOT)), "--gpu", "A10G-24GB", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["recipe"] == "recipes/squad/smollm2-135m/lora-cpu.yml" and result["gpu"] == "A10G-24GB"
    assert 0 < result["trainable_params"] < result["total_params"]


def test_the_gpu_table(capsys):
    assert main(["--list-gpus"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(GPUS) and all(line.split()[0] in GPUS for line in out)


def test_usage_errors_exit_2_naming_what_is_wrong(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2 and "the following arguments are required: recipe" in capsys.readouterr().err
    assert main([str(tmp_path / "none.yml")]) == 2
    assert "none.yml" in capsys.readouterr().err
    bad = tmp_path / "bad.yml"
    bad.write_text("base_model: [unclosed\n")
    assert main([str(bad)]) == 2 and capsys.readouterr().err.startswith("error: ")
