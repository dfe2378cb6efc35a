"""What tests share: the session's workspace (set before slingshot is imported), commands run as a user
runs them, recipe copies, SQuAD rows and run folders, fake executables and what the machine has.
Import from here (tests.helpers), never from conftest or from another test file."""
import contextlib
import gzip
import io
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every output (data/, runs/, results/, reports/, stand-ins) goes to a workspace of this session's own,
# set before slingshot is imported and inherited by every command a test runs: the checkout stays as it was.
WORKSPACE = Path(tempfile.mkdtemp(prefix="slingshot-tests-"))
os.environ["SLINGSHOT_WORKSPACE"] = str(WORKSPACE)
os.environ.pop("SLINGSHOT_RESULTS_DIR", None)
# set-up outputs that tests read but never write, and caches of tools
SET_UP = {".git", ".venv", "models", "third_party", ".julia-install", "__pycache__", ".pytest_cache", ".ruff_cache"}

DEFAULT_RECIPE = ROOT / "recipes" / "squad" / "smollm2-135m" / "lora-cpu.yml"
MODEL_DIR = ROOT / "models" / "smollm2-135m-instruct"


def run_module(*args, check=False, timeout=1800, env=None):
    """Run `python -m ...` from the repo root, as a user would."""
    result = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def run_in_process(main, *args):
    """A command's main([...]) in this process, without the seconds of imports a `python -m` process of its
    own costs (long work, such as Axolotl's training, still runs in processes of its own): (exit code,
    stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def write_recipe(folder, base=DEFAULT_RECIPE, edit=None, name="recipe.yml"):
    """A copy of a recipe whose data and run folders live under `folder`."""
    config = yaml.safe_load(Path(base).read_text())
    config["datasets"][0]["path"] = str(folder / "data" / "train.jsonl")
    config["test_datasets"][0]["path"] = str(folder / "data" / "validation.jsonl")
    config["output_dir"] = str(folder / "run")
    config["dataset_prepared_path"] = str(folder / "run" / "prepared")
    if edit:
        edit(config)
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def squad_test_rows(split):
    """The rows of a named SQuAD test split, as data prep writes them."""
    from data_prep import squad
    return [squad.test_row(q) for q in squad.test_split(squad.load_source("local", "dev")[0], split)]


def first_squad_questions(folder, n, split="dev-200"):
    """The first n rows of a named SQuAD test split in a file of their own, <folder>/squad/test/dev-first<n>.jsonl
    (a user's own split: no manifest)."""
    from slingshot.io import atomic_write_jsonl
    path = Path(folder) / "squad" / "test" / f"dev-first{n}.jsonl"
    atomic_write_jsonl(path, squad_test_rows(split)[:n])
    return path


def write_squad_split(folder, rows, name):
    """A SQuAD test split file under folder/data (a workspace), where the layout looks for one, with the
    manifest data prep writes beside it."""
    from data_prep.prepare import write_test_split
    from slingshot.tasks import squad
    path = folder / "data" / "squad" / "test" / f"{name}.jsonl"
    write_test_split(path, rows, {"dev": "the carried SQuAD v1.1 dev set"}, squad.PROMPT_VERSION, DEFAULT_RECIPE,
                     manifest_path=path.with_name(f"{name}.manifest.json"))
    return path


def checkout_files():
    """{path: (size, mtime)} of every file in the checkout but set-up outputs and caches."""
    files = {}
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SET_UP]
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.lstat(path)
            except FileNotFoundError:
                continue
            files[os.path.relpath(path, ROOT)] = (stat.st_size, stat.st_mtime_ns)
    return files



DEV = ROOT / "data_prep" / "sources" / "squad" / "dev-v1.1.json.gz"
SPLIT_SHA = "1" * 64


def squad_dev_questions():
    """(id, context, gold answers) of the first question of each of the first 80 SQuAD dev paragraphs."""
    with gzip.open(DEV, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    qas = [(qa["id"], p["context"], [a["text"] for a in qa["answers"]])
           for a in data for p in a["paragraphs"] for qa in p["qas"][:1]]
    return qas[:80]


def write_run(folder, questions, label, accuracy, seed, *, model="hf:models/smollm2-135m-instruct",
              backend="hf", usd_per_hour=0.0, wall_s=40.0, split_sha=SPLIT_SHA, task="squad", skip=0):
    """A run folder as the runner writes it: answers right, half right or wrong at random."""
    from slingshot.metrics.squad import score_prediction
    rng = random.Random(seed)
    rows = []
    for qid, context, golds in questions[skip:]:
        r = rng.random()
        answer = golds[0] if r < accuracy else golds[0] + " in it" if r < accuracy + 0.15 else context.split()[0]
        rows.append({"id": qid, "prompt_hash": "h", "raw_output": answer, "answer": answer,
                     "tokens_in": len(context) // 4 + 50, "tokens_out": len(answer.split()) + 1,
                     "latency_s": 0.2, "metrics": score_prediction(answer, golds)})
    folder.mkdir(parents=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = {"key": folder.name, "label": label, "task": task, "split": "dev-80", "split_sha256": split_sha,
            "n_expected": len(questions), "model": model, "adapter": None, "backend": backend,
            "prompt_version": "squad-v1", "generation": {"max_new_tokens": 32, "temperature": 0},
            "status": "done", "started": "", "finished": "", "wall_s": wall_s,
            "usage": {"tokens_in": sum(r["tokens_in"] for r in rows), "tokens_out": sum(r["tokens_out"] for r in rows)},
            "hardware": "2-core CPU", "usd_per_hour": usd_per_hour, "device": "cpu" if backend == "hf" else "api"}
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta, rows


def fake_nvidia_smi(folder, printed, status=0):
    """An executable nvidia-smi in `folder` that prints `printed` and exits with `status`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nvidia-smi"
    path.write_text(f"#!/bin/sh\nprintf '%s' {shlex.quote(printed)}\nexit {status}\n")
    path.chmod(0o755)
    return path


def _have_julia():
    from slingshot.metrics.julia.sandbox import JuliaNotFound, find_julia
    try:
        find_julia()
        return True
    except JuliaNotFound:
        return False


needs_julia = pytest.mark.skipif(not _have_julia(), reason="julia not installed: run `make julia`")
