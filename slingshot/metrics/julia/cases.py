"""Julia-LLM-Leaderboard test cases and stored runs, unpacked once from the carried tarball.

    root = leaderboard_root()                 # data/julia-llm-leaderboard/code_generation
    for case in iter_cases(root): ...         # dicts from definition.toml (+ dir, category)
    for run in iter_stored_runs(root, case="wrap_string"): ...
"""
import json
import os
import shutil
import tarfile
import tempfile
import tomllib
from pathlib import Path

from slingshot.layout import LEADERBOARD_DIR, SOURCES_DIR

TARBALL = SOURCES_DIR / "julia-llm-leaderboard" / "code_generation.tar.gz"
UNPACK_DIR = LEADERBOARD_DIR
REQUIRED_KEYS = ("name", "prompt", "examples", "unit_tests", "imports")


def leaderboard_root(tarball=TARBALL, unpack_dir=UNPACK_DIR):
    """Folder `code_generation/` of the leaderboard, unpacking the tarball on first use (atomically)."""
    unpack_dir = Path(unpack_dir)
    root = unpack_dir / "code_generation"
    if root.is_dir():
        return root
    if not Path(tarball).is_file():
        raise FileNotFoundError(f"{tarball}: leaderboard tarball not found")
    unpack_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=unpack_dir.parent, prefix=f".{unpack_dir.name}."))
    try:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / "code_generation").is_dir():
            raise ValueError(f"{tarball}: no code_generation/ folder inside")
        try:
            os.rename(tmp, unpack_dir)
        except OSError:  # another process won the race, or a partial folder is in the way
            if not root.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def load_case(case_dir):
    """The `[code_generation]` table of `case_dir/definition.toml`, plus `dir` and `category`."""
    case_dir = Path(case_dir)
    path = case_dir / "definition.toml"
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no definition.toml in this case folder") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: invalid TOML ({e})") from None
    if "code_generation" not in table:
        raise ValueError(f"{path}: missing [code_generation] table")
    case = dict(table["code_generation"])
    for key in REQUIRED_KEYS:
        if key not in case:
            raise ValueError(f"{path}: [code_generation] lacks key '{key}'")
    for key in ("examples", "unit_tests", "imports"):
        if not isinstance(case[key], list) or not all(isinstance(x, str) for x in case[key]):
            raise ValueError(f"{path}: '{key}' must be a list of strings")
    case["dir"] = str(case_dir)
    case["category"] = case_dir.parent.name
    return case


def iter_cases(root=None):
    """All cases under `root` (default: the unpacked leaderboard), sorted by category and name."""
    root = Path(root) if root is not None else leaderboard_root()
    for path in sorted(root.glob("*/*/definition.toml")):
        yield load_case(path.parent)


def _timestamp_of(filename):
    # conversation__<prompt>__1SHOT__<YYYYMMDD_HHMMSS>__<nnn>.json
    parts = Path(filename).stem.split("__")
    return "__".join(parts[3:]) if len(parts) >= 4 else ""


def iter_stored_runs(root=None, case=None):
    """Stored leaderboard runs: dicts with case, model, prompt_label, timestamp, answer (the last
    message), conversation (all messages), evaluation (stored scores) and paths.

    Model folders can be nested (e.g. accounts/fireworks/<model>); `model` is the path below the case."""
    root = Path(root) if root is not None else leaderboard_root()
    for case_dir in sorted(p.parent for p in root.glob("*/*/definition.toml")):
        if case is not None and case_dir.name != case:
            continue
        for conv_path in sorted(case_dir.rglob("conversation__*.json")):
            eval_path = conv_path.with_name(conv_path.name.replace("conversation__", "evaluation__", 1))
            if not eval_path.is_file():
                continue
            try:
                conversation = json.loads(conv_path.read_text(encoding="utf-8"))
                evaluation = json.loads(eval_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise ValueError(f"{conv_path} or its evaluation: invalid JSON ({e})") from None
            if not conversation or not isinstance(conversation, list):
                raise ValueError(f"{conv_path}: expected a non-empty list of messages")
            yield {
                "case": case_dir.name,
                "case_dir": str(case_dir),
                "model": str(conv_path.parent.relative_to(case_dir)),
                "prompt_label": evaluation.get("prompt_label") or conv_path.stem.split("__")[1],
                "timestamp": str(evaluation.get("timestamp") or _timestamp_of(conv_path)),
                "answer": conversation[-1].get("content") or "",
                "conversation": conversation,
                "evaluation": evaluation,
                "conversation_path": str(conv_path),
                "evaluation_path": str(eval_path),
            }
