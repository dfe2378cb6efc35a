"""Prediction store: one folder per (model, split, prompt version, generation settings).

    results/<split>/<model-slug>-<key>/meta.json           what was run, status, timing, usage
    results/<split>/<model-slug>-<key>/predictions.jsonl   one line per answered example

Each prediction is appended and flushed as soon as it exists, so a killed run resumes
where it stopped and a finished one is never recomputed or paid for twice. The key
hashes everything that changes an answer; changing any of it starts a new folder.

A prediction line:
    {"id", "prompt_hash", "raw_output", "answer", "tokens_in", "tokens_out",
     "latency_s", "metrics": {"exact_match": 0|100, "f1": 0..100, ...}}
"""
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from slingshot.io import atomic_write_json, atomic_write_jsonl, stable_hash
from slingshot.layout import PREDICTIONS, RESULTS_DIR, RUN_META, results_split_dir


def run_key(identity):
    """The store key of a run; `identity` holds everything that changes an answer."""
    return stable_hash(identity)


def slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60]


class RunStore:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.meta_path = self.folder / RUN_META
        self.predictions_path = self.folder / PREDICTIONS

    @classmethod
    def for_identity(cls, identity, label, results_dir=RESULTS_DIR):
        key = run_key(identity)
        return cls(results_split_dir(slug(identity["split"]), results_dir) / f"{slug(label)}-{key}")

    def exists(self):
        return self.meta_path.exists()

    def read_meta(self):
        with open(self.meta_path, encoding="utf-8") as f:
            return json.load(f)

    def write_meta(self, meta):
        atomic_write_json(self.meta_path, meta)

    def load_predictions(self):
        """Predictions stored so far, by id. A torn last line (killed mid-write) is dropped."""
        done = {}
        if not self.predictions_path.exists():
            return done
        with open(self.predictions_path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                done[row["id"]] = row
        return done

    def repair(self):
        """Cut a torn last line left by a kill, so new appends start on a fresh line."""
        if not self.predictions_path.exists():
            return
        data = self.predictions_path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(self.predictions_path, "r+b") as f:
                f.truncate(cut)

    def write_complete(self, meta, predictions):
        """Write a whole finished run at once (renamed into place), so a kill leaves no half run."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=f".{self.folder.name}."))
        try:
            atomic_write_jsonl(tmp / PREDICTIONS, predictions)
            atomic_write_json(tmp / RUN_META, meta)
            if self.folder.exists():  # an unfinished folder of the same key: replaced, nothing done is lost
                shutil.rmtree(self.folder)
            os.rename(tmp, self.folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def append(self, row):
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.predictions_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def find_runs(paths):
    """Finished run folders under the given paths (a run folder or any folder above runs)."""
    found = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such run folder")
        candidates = [path] if (path / RUN_META).exists() else sorted(
            p.parent for p in path.rglob(RUN_META))
        for folder in candidates:
            store = RunStore(folder)
            if store.read_meta().get("status") == "done":
                found.append(store)
    return found


def latest_per_label(stores):
    """The most recently finished run of each label (older runs of a retrained adapter drop out)."""
    latest = {}
    for store in stores:
        meta = store.read_meta()
        label = meta.get("label", store.folder.name)
        if label not in latest or meta.get("finished", "") > latest[label][0]:
            latest[label] = (meta.get("finished", ""), store)
    return [store for _, store in latest.values()]


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
