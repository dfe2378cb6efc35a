"""Score one model on one held-out split, resumably: predictions are stored as they come.

A shared split (data/<task>/test/) is read only while its bytes are the ones data prep recorded
(eval.splits); a split given as a path elsewhere is run, and reports say it is not a data-prep split."""
import sys
import time
from pathlib import Path

from tqdm import tqdm

from eval.cost import usage_of
from eval.format import one_line
from eval.splits import check_split_file
from eval.store import RESULTS_DIR, RunStore, holding_store_locks, now
from slingshot.contamination import check, contamination_statement
from slingshot.errors import UserError
from slingshot.io import read_jsonl, sha256_file, stable_hash
from slingshot.layout import display_path, split_of
from slingshot.tasks import get_task


# No tokenizer's tokens average anywhere near this many characters: an answer longer than
# max_new_tokens of them is a server ignoring max_tokens, stored cut and flagged, not whole.
MAX_CHARS_PER_TOKEN = 32
# Counters an API backend's info() keeps per process, i.e. per segment; meta holds their sums.
SEGMENT_COUNTS = ("requests", "retries", "missing_usage")


class EvalError(UserError):
    """Bad eval input; the message names the file, line or option."""


def load_split(path, limit=None):
    """Rows of a split JSONL (id, messages, task fields); checks what the eval needs."""
    path = Path(path)
    if not path.exists():
        raise EvalError(f"{path}: split file not found; run `make prepare` for a recipe that uses it")
    check_split_file(path)
    rows = read_jsonl(path)
    if not rows:
        raise EvalError(f"{path}: the split is empty")
    seen = set()
    for lineno, row in enumerate(rows, 1):
        for key in ("id", "messages"):
            if key not in row:
                raise EvalError(f"{path}: row {lineno}: missing key '{key}'")
        if row["id"] in seen:
            raise EvalError(f"{path}: row {lineno}: duplicate id {row['id']!r}")
        seen.add(row["id"])
    if limit is not None:
        if limit <= 0:
            raise EvalError(f"--limit must be positive, got {limit}")
        rows = rows[:limit]
    return rows


split_task = split_of


def prompt_hash(messages):
    return stable_hash(messages, length=16)


@holding_store_locks
def evaluate(backend, split_path, max_new_tokens, results_dir=RESULTS_DIR, label=None, limit=None,
             hardware=None, usd_per_hour=None, extra_meta=None, seen_ids=None, quiet=False, wait=False, shots=0):
    """Generate and score every example of a split not already stored; returns the RunStore.
    The store is locked for the whole run: another process on it refuses, or waits if `wait`.

    shots=k prepends the task's k worked examples (training data, the same for every model)."""
    task_name, split_name = split_task(split_path)
    task = get_task(task_name)
    rows = load_split(split_path, limit)
    shot_rows = task.few_shot_examples(shots) if shots else []
    if limit is not None:
        split_name = f"{split_name}:first-{limit}"
    identity = run_identity(backend, task_name, split_name, split_path, max_new_tokens, shot_rows)
    label = one_line(label or default_label(backend, shots))[:200]  # shown in bars, tables and terminals
    store = RunStore.for_identity(identity, label, results_dir)
    store.lock(wait=wait)
    attach = getattr(backend, "attach_store", None)  # a backend that records state beside its answers (batches)
    if attach is not None:
        attach(store)
    if is_scored(store, rows, label, split_name, quiet):
        return store
    store.repair()
    done = store.load_predictions()
    unknown = set(done) - {row["id"] for row in rows}
    if unknown:
        raise EvalError(f"{store.predictions_path}: holds ids not in {split_path}: {sorted(unknown)[:3]}")
    meta = start_meta(store, identity, label, rows, backend.info(), shot_rows,
                      dict(hardware=hardware, usd_per_hour=usd_per_hour, shots=shots,
                           split_path=display_path(split_path), **(extra_meta or {})))
    Segment(store, meta, backend, task, max_new_tokens, seen_ids).answer(rows, shot_rows, done, label, quiet)
    return finish_run(store, meta, rows, label, quiet)


def run_identity(backend, task_name, split_name, split_path, max_new_tokens, shot_rows):
    """What makes two runs the same run (eval.store keys its folder by it)."""
    shots = len(shot_rows)
    return {
        **backend.identity(),
        "task": task_name, "split": split_name, "split_sha256": sha256_file(split_path),
        "prompt_version": get_task(task_name).PROMPT_VERSION,
        "generation": {"max_new_tokens": max_new_tokens, "temperature": 0},
        **({"shots": {"k": shots, "examples": stable_hash([r["messages"] for r in shot_rows])}} if shots else {}),
    }


def default_label(backend, shots):
    adapter = getattr(backend, "adapter", None)
    return backend.spec + (f"+{Path(adapter).name}" if adapter else "") + (f" ({shots}-shot)" if shots else "")


def is_scored(store, rows, label, split_name, quiet):
    """The store already holds every answer, intact; a damaged one is asked again for what it lacks."""
    if not (store.exists() and store.read_meta().get("status") == "done"):
        return False
    problem = store.problem(expected=len(rows))
    if problem is None:
        if not quiet:
            print(f"{label}: already scored on {split_name} ({store.folder})")
        return True
    print(f"{label}: {problem}; asking the missing questions again", file=sys.stderr)
    return False


def start_meta(store, identity, label, rows, info, shot_rows, settings):
    """meta.json of a new or resumed run, with a new segment (each start or resume is one)."""
    meta = store.read_meta() if store.exists() else {
        "key": store.folder.name.rsplit("-", 1)[-1], "label": label, **identity,
        "adapter": identity.get("adapter"), "n_expected": len(rows), "started": now(), "wall_s": 0.0,
    }
    meta.update({k: v for k, v in info.items() if k not in SEGMENT_COUNTS})
    meta.update(status="running", **settings)
    if shot_rows:
        meta["shot_ids"] = [r["id"] for r in shot_rows]
        meta["shot_contamination"] = "Few-shot examples: " + contamination_statement(
            check(identity["task"], shot_rows, rows))
    # Wall time is kept per segment (each start or resume) and stored as each answer lands,
    # so a killed segment still counts: wall_s is always the sum over every segment.
    segments = meta.setdefault("segments", [{"started": meta["started"], "wall_s": meta["wall_s"], "n": None}]
                               if meta.get("wall_s") else [])
    # the requests this segment may have in flight at once bound its wall time below (eval.verify)
    segments.append({"started": now(), "wall_s": 0.0, "n": 0, "concurrency": info.get("concurrency", 1)})
    store.write_meta(meta)
    return meta


class Segment:
    """One start or resume of a run: asks the backend for the missing answers and stores each as it lands."""

    def __init__(self, store, meta, backend, task, max_new_tokens, seen_ids):
        self.store, self.meta, self.backend, self.task = store, meta, backend, task
        self.max_new_tokens, self.seen_ids = max_new_tokens, seen_ids
        self.segment = meta["segments"][-1]

    def answer(self, rows, shot_rows, done, label, quiet):
        self.by_id = {row["id"]: row for row in rows}
        self.messages = {row["id"]: self.task.with_shots(row["messages"], shot_rows) for row in rows}
        todo = [(row["id"], self.messages[row["id"]]) for row in rows if row["id"] not in done]
        self.progress = tqdm(total=len(rows), initial=len(done), desc=label[:40], unit="q", disable=quiet,
                             dynamic_ncols=True)
        self.unshown = 0  # answers stored but not yet counted on the bar
        # A batching backend says when a batch is done, and the bar moves by the whole batch: its rate
        # (and so its ETA) is then a batch's answers over a batch's time from the first batch on.
        batched = {"on_batch": self.show_progress} if getattr(self.backend, "BATCHES", False) else {}
        self.started = time.perf_counter()
        try:
            self.backend.generate(todo, self.max_new_tokens, self.on_result, **batched)
        except KeyboardInterrupt:
            self.meta["status"] = "interrupted"  # what was answered is stored; the same command resumes
            raise
        finally:
            self.show_progress()
            self.progress.close()
            self.meta.update({k: v for k, v in self.backend.info().items() if k not in SEGMENT_COUNTS})
            self.close()

    def on_result(self, item_id, generation):
        row = self.by_id[item_id]
        # text a UTF-8 file can hold: a lone surrogate (valid JSON from a server) becomes U+FFFD, as in a decoder
        text, cut = cap_answer(generation.text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                               self.max_new_tokens)
        answer = self.task.extract_answer(text)
        self.store.append({
            "id": item_id, "prompt_hash": prompt_hash(self.messages[item_id]), "raw_output": text,
            **({"truncated": True, "raw_chars": len(generation.text)} if cut else {}),
            "answer": answer, "tokens_in": generation.tokens_in, "tokens_out": generation.tokens_out,
            "latency_s": round(generation.latency_s, 4), **task_fields(row),
            **({"seen": item_id in self.seen_ids} if self.seen_ids is not None else {}),
            "metrics": self.task.score(row, answer),
        })
        self.unshown += 1
        if not getattr(self.backend, "BATCHES", False):
            self.show_progress()
        self.segment["n"] += 1
        self.close()

    def show_progress(self, _batch=None):
        self.progress.update(self.unshown)
        self.unshown = 0

    def close(self):
        self.segment["wall_s"] = round(time.perf_counter() - self.started, 3)
        self.meta["wall_s"] = round(sum(s["wall_s"] for s in self.meta["segments"]), 3)
        count_requests(self.meta, self.segment, self.backend.info())
        self.store.write_meta(self.meta)


def finish_run(store, meta, rows, label, quiet):
    """Mark the run done once every question has its answer; the run stays resumable otherwise."""
    predictions = store.load_predictions()
    missing = [row["id"] for row in rows if row["id"] not in predictions]
    if missing:
        raise EvalError(f"{label}: {len(missing)} examples got no answer (first: {missing[0]}); "
                        f"run again to retry them")
    meta.update(finished=now(), n_stored=len(predictions), usage=usage_of(predictions.values()),
                n_truncated=sum(1 for p in predictions.values() if p.get("truncated")),
                generation_s=round(sum(p["latency_s"] for p in predictions.values()), 3))
    store.finish(meta)
    if not quiet:
        print(summary_line(meta, predictions))
    return store


def cap_answer(text, max_new_tokens):
    """(text, cut): the answer cut to MAX_CHARS_PER_TOKEN characters per allowed token."""
    limit = max_new_tokens * MAX_CHARS_PER_TOKEN
    return (text[:limit], True) if len(text) > limit else (text, False)


def count_requests(meta, segment, info):
    """Copy an API backend's request counters into this segment and sum them over every segment,
    so meta shows what each start or resume sent (and that nothing was asked twice)."""
    for key in SEGMENT_COUNTS:
        if key in info:
            segment[key] = info[key]
            meta[key] = sum(s.get(key, 0) for s in meta["segments"])


def task_fields(row):
    """Fields of a split row that reports group by (e.g. the Julia case)."""
    return {k: row[k] for k in ("case", "prompt_label") if k in row}


def summary_line(meta, predictions):
    metrics = {}
    for p in predictions.values():
        for name, value in p["metrics"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics.setdefault(name, []).append(value)
    shown = ", ".join(f"{k} {sum(v) / len(v):.1f}" for k, v in metrics.items())
    rate = len(predictions) / meta["wall_s"] if meta["wall_s"] else float("nan")
    return f"{meta['label']} on {meta['split']}: n={len(predictions)}, {shown}, {rate:.2f} q/s"
