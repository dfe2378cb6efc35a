"""Atomic writes (no partial file, no leftover temporary, the umask honoured), hashes and JSONL reading."""
import hashlib
import json
import os

import pytest

from slingshot.errors import DataError
from slingshot.io import (atomic_write_bytes, atomic_write_json, atomic_write_jsonl, atomic_write_text, read_jsonl,
                          sha256_file, sha256_text, stable_hash)


def test_hashes(tmp_path):
    path = tmp_path / "f.bin"
    data = os.urandom(5000)
    path.write_bytes(data)
    assert sha256_file(path, chunk=7) == hashlib.sha256(data).hexdigest()
    assert sha256_text("é") == hashlib.sha256("é".encode()).hexdigest()
    assert stable_hash({"a": 1, "b": [2]}) == stable_hash({"b": [2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2}) and len(stable_hash({}, length=8)) == 8


def test_writes_make_folders_keep_no_temporary_and_honour_the_umask(tmp_path):
    path = tmp_path / "deep" / "er" / "out.json"
    atomic_write_json(path, {"ü": 1})
    assert json.loads(path.read_text(encoding="utf-8")) == {"ü": 1} and "ü" in path.read_text(encoding="utf-8")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    atomic_write_text(path, "replaced")
    assert path.read_text() == "replaced" and os.listdir(path.parent) == ["out.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["kept.txt"]


def test_jsonl_round_trip_skips_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    atomic_write_jsonl(path, [{"a": 1}, {"b": "ß"}])
    path.write_text(path.read_text(encoding="utf-8") + "\n   \n", encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"b": "ß"}]


def test_bad_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": \n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        read_jsonl(path)
    path.write_bytes(b'{"a": 1}\n\n{"a": "\xff"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:3: not UTF-8 \(byte 0xff at column 8\)"):
        read_jsonl(path)
