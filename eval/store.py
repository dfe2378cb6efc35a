"""Prediction store: one folder per (model, split, prompt version, generation settings).

    results/<split>/<model-slug>-<key>/meta.json           what was run, status, timing, usage
    results/<split>/<model-slug>-<key>/predictions.jsonl   one line per answered example
    results/<split>/<model-slug>-<key>/run.lock            held by the one process writing the store
    results/<split>/<model-slug>-<key>/batch.json          a Batch API run's files and batches (openai_batch)

Each prediction is appended and flushed as soon as it exists, so a killed run resumes
where it stopped and a finished one is never recomputed or paid for twice. The key
hashes everything that changes an answer; changing any of it starts a new folder.
A finished store records the sha256 of its predictions file (meta `predictions_sha256`),
and of the figures its cost and speed are computed from (`figures_sha256` over FIGURES and that
sha256), which the report checks (eval.verify).

Files are opened only when they are regular files of a sane size (checked_file): a FIFO, a device,
a symlink out of the store's folder or a file larger than its limit is refused by name, before a read
that would block or take hours. meta.json may hold META_MAX_BYTES; predictions.jsonl ANSWER_MAX_BYTES
per question of the split (meta n_expected), at least PREDICTIONS_FLOOR and at most PREDICTIONS_CAP.

A prediction line:
    {"id", "prompt_hash", "raw_output", "answer", "tokens_in", "tokens_out",
     "latency_s", "metrics": {"exact_match": 0|100, "f1": 0..100, ...}}
"""
import fcntl
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_jsonl, checked_file, sha256_file, stable_hash
from slingshot.layout import PREDICTIONS, RESULTS_DIR, RUN_META, results_split_dir


META_MAX_BYTES = 16 << 20
ANSWER_MAX_BYTES = 1 << 20  # an answer is cut at max_new_tokens x 32 characters (eval.run); this is far above
PREDICTIONS_FLOOR, PREDICTIONS_CAP = 64 << 20, 1 << 30
# what cost and speed are computed from: covered by figures_sha256, so an edit of meta.json alone is caught
FIGURES = ("wall_s", "generation_s", "usage", "segments", "requests", "retries", "missing_usage", "concurrency",
           "usd_per_hour", "n_stored", "n_expected", "n_truncated", "recorded_cost", "recorded_elapsed_s",
           "n_samples", "gguf_bytes")
# covered when present (a Batch API run's batches and the answers they gave, which set its price), so the
# hash of a store written before they existed is unchanged
OPTIONAL_FIGURES = ("batch",)


def figures_sha256(meta):
    """The hash of a finished store's figures (FIGURES, and OPTIONAL_FIGURES it has) and of its answers' sha256."""
    return stable_hash({"predictions_sha256": meta.get("predictions_sha256"),
                        **{key: meta.get(key) for key in FIGURES},
                        **{key: meta[key] for key in OPTIONAL_FIGURES if key in meta}}, length=64)


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
        folder = results_split_dir(slug(identity["split"]), results_dir)
        # the same settings under another label are the same run: never asked (or paid for) twice
        stored = sorted(folder.glob(f"*-{key}")) if folder.is_dir() else []
        return cls(stored[0] if stored else folder / f"{slug(label)}-{key}")

    def exists(self):
        return self.meta_path.exists()

    def read_meta(self):
        checked_file(self.meta_path, RUN_META, META_MAX_BYTES, self.folder)
        try:
            with open(self.meta_path, encoding="utf-8") as f:
                meta = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{self.meta_path}: not valid JSON ({e}); restore it from a backup, or delete "
                            f"{self.folder.name} to ask its questions again") from None
        if not isinstance(meta, dict):
            raise UserError(f"{self.meta_path}: expected a JSON object, found {type(meta).__name__}")
        return meta

    def write_meta(self, meta):
        atomic_write_json(self.meta_path, meta)

    def load_predictions(self):
        """Predictions stored so far, by id. A torn last line (killed mid-write) is dropped."""
        return self.scan()[0]

    def finish(self, meta):
        """Record the run as done with the sha256 of its answers, so a later edit of them is caught."""
        meta.update(status="done", predictions_sha256=sha256_file(self.predictions_path))
        meta["figures_sha256"] = figures_sha256(meta)
        self.write_meta(meta)

    def predictions_limit(self):
        """How large predictions.jsonl may be: ANSWER_MAX_BYTES per question the run expects."""
        n = self.read_meta().get("n_expected") if self.meta_path.exists() else None
        n = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0
        return min(PREDICTIONS_CAP, max(PREDICTIONS_FLOOR, n * ANSWER_MAX_BYTES))

    def scan(self):
        """(predictions by id, numbers of the lines that hold no usable prediction); the line of each
        prediction is kept in self.lines, for errors that name it."""
        done, bad = {}, []
        self.lines = {}
        if not self.predictions_path.exists() and not self.predictions_path.is_symlink():
            return done, bad
        checked_file(self.predictions_path, PREDICTIONS, self.predictions_limit(), self.folder)
        with open(self.predictions_path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    bad.append(lineno)
                    continue
                if not isinstance(row, dict) or not isinstance(row.get("id"), (str, int)) or row["id"] in done:
                    bad.append(lineno)  # a second answer to one question is as unusable as a broken line
                    continue
                done[row["id"]] = row
                self.lines[row["id"]] = lineno
        return done, bad

    def problem(self, expected=None):
        """What is wrong with a finished store (predictions missing or corrupt), or None. `expected`
        defaults to the n_stored that `eval run` records when it finishes (a leaderboard record may
        answer fewer prompts than its split has, so n_expected alone cannot tell)."""
        expected = expected if expected is not None else self.read_meta().get("n_stored")
        done, bad = self.scan()
        if not bad and (expected is None or len(done) == expected):
            return None
        corrupt = f", {len(bad)} corrupt line(s) (line {', '.join(map(str, bad[:5]))})" if bad else ""
        return (f"{self.predictions_path}: the finished run expects {expected} predictions but the file holds "
                f"{len(done)} usable{corrupt}")

    def repair(self):
        """Drop lines holding no prediction (a torn last line left by a kill, corrupt lines), so the
        store holds only whole predictions and new appends start on a fresh line. Returns the count."""
        done, bad = self.scan()
        if bad:
            atomic_write_jsonl(self.predictions_path, done.values())
        elif self.predictions_path.exists():
            data = self.predictions_path.read_bytes()
            if data and not data.endswith(b"\n"):  # a whole last row without its newline
                with open(self.predictions_path, "ab") as f:
                    f.write(b"\n")
        return len(bad)

    def lock(self, wait=False):
        """Hold the store's lock until release_locks() (or this process ends): one writer per store.

        A second process refuses with the holder's pid, or with wait=True waits for it to finish."""
        key = str(self.folder.resolve())
        if key in _HELD:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        f = open(self.folder / RUN_LOCK, "a+", encoding="utf-8")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            if not wait:
                f.close()
                raise StoreBusy(f"{self.folder}: another `eval run` (pid {holder}) is writing this store; "
                                f"wait for it to finish, or pass --wait to queue behind it")
            print(f"waiting for pid {holder}, which is writing {self.folder}", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        _HELD[key] = f

    def write_complete(self, meta, predictions):
        """Write a whole finished run at once (renamed into place), so a kill leaves no half run."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=f".{self.folder.name}."))
        try:
            atomic_write_jsonl(tmp / PREDICTIONS, predictions)
            meta = {**meta, "predictions_sha256": sha256_file(tmp / PREDICTIONS)}
            atomic_write_json(tmp / RUN_META, {**meta, "figures_sha256": figures_sha256(meta)})
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


RUN_LOCK = "run.lock"
_HELD = {}  # store folder -> its open, locked lock file


class StoreBusy(UserError):
    """Another process holds the store's lock."""


def release_locks():
    for f in _HELD.values():
        f.close()  # closing the file releases its flock
    _HELD.clear()


def holding_store_locks(fn):
    """Release the store locks taken during the call, however it ends."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        held = set(_HELD)
        try:
            return fn(*args, **kwargs)
        finally:
            for key in set(_HELD) - held:
                _HELD.pop(key).close()
    return wrapped


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
                problem = store.problem()
                if problem:
                    raise UserError(f"{problem}; run the same `python -m eval run` again to ask the "
                                    f"missing questions")
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
