"""python -m eval compare, in process: --help, usage errors, and real small files on data prep's dev-200."""
import json
from pathlib import Path

import pytest

from eval.__main__ import COMMANDS
from eval.commands.compare import main
from tests.helpers import squad_test_rows, write_squad_split

DATA = Path(__file__).parents[1] / "data"
LM_EVAL = next(DATA.glob("samples_slingshot_squad_dev200_*.jsonl"))


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    rows = squad_test_rows("dev-200")
    return write_squad_split(tmp_path_factory.mktemp("ws"), rows, "dev-200"), rows


def test_registered_and_help(capsys):
    assert COMMANDS["compare"] == "eval.commands.compare"
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0 and "--min-matched" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["a.jsonl"], "name at least two files"),
    (["a.jsonl", "b.jsonl", "--min-matched", "0"], "expected a finite number > 0"),
    (["a.jsonl", "b.jsonl", "--min-matched", "1.5"], "at most 1"),
    (["a.jsonl", "b.jsonl", "--n-boot", "0"], "expected a whole number >= 1"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_no_store_and_no_split_is_an_error(tmp_path, capsys):
    assert main([str(LM_EVAL), str(LM_EVAL)]) == 2
    assert "name it with --split" in capsys.readouterr().err


def test_compare_writes_the_table_and_the_page(split, tmp_path, capsys):
    path, rows = split
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps({"id": r["id"], "answer": r["answers"][0]}) + "\n" for r in rows[:3]))
    stray = tmp_path / "stray.jsonl"
    stray.write_text(mine.read_text() + json.dumps({"id": "elsewhere", "answer": "x"}) + "\n")
    out = tmp_path / "out"
    assert main([str(LM_EVAL), str(mine), "--split", str(path), "--out", str(out), "--n-boot", "50"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# squad/dev-200: 2 files compared") and "| mine | answers | 3 | 3 | 0 | 100.0" in printed
    assert {p.name for p in out.iterdir()} == {"compare.md", "compare.json", "index.html"}
    assert main([str(stray), str(mine), "--split", str(path), "--out", str(out)]) == 2
    assert "stray.jsonl: only 3 of its 4 rows (75.0%)" in capsys.readouterr().err
    assert main([str(stray), str(mine), "--split", str(path), "--out", str(out), "--min-matched", "0.75"]) == 0
    assert "stray: 1 of 4 rows matched no question of the split" in capsys.readouterr().err
