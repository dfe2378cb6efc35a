"""python -m eval leaderboard, in process, on what it refuses before reading the leaderboard."""
import pytest

from eval.commands.leaderboard import main


def test_a_missing_split_exits_2_naming_it(tmp_path, capsys):
    assert main([str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl" in capsys.readouterr().err


def test_the_split_is_required(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2 and "split" in capsys.readouterr().err
