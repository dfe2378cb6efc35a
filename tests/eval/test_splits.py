"""Which split file a command means: a path, task/split, or a split name found under one task."""
import pytest

from eval.splits import resolve_split
from slingshot import layout
from slingshot.errors import UserError
from slingshot.io import atomic_write_jsonl


def test_a_path_and_a_task_are_taken_as_given(tmp_path):
    assert resolve_split(str(tmp_path / "x.jsonl")) == tmp_path / "x.jsonl"
    assert resolve_split("squad/dev-9") == layout.test_split_path("squad", "dev-9")
    assert resolve_split("dev-9", task="dates") == layout.test_split_path("dates", "dev-9")


def test_a_bare_name_is_found_under_one_task_and_refused_under_two(tmp_path, monkeypatch):
    monkeypatch.setattr("eval.splits.DATA_DIR", tmp_path)  # a data folder of this test's own
    name = "dev-200"
    with pytest.raises(FileNotFoundError, match=f"split '{name}' not found under data/\\*/test/"):
        resolve_split(name)
    first = tmp_path / "task-a" / "test" / f"{name}.jsonl"
    atomic_write_jsonl(first, [])
    assert resolve_split(name) == first
    atomic_write_jsonl(tmp_path / "task-b" / "test" / f"{name}.jsonl", [])
    with pytest.raises(UserError, match=f"exists for several tasks; write <task>/{name}"):
        resolve_split(name)
