"""A store is checked before it is reported, never trusted: what the report reads back must be what
`eval run` wrote.

- Answers: the sha256 of predictions.jsonl must be the one meta.json recorded when the run finished;
  tasks that are cheap to score (RESCORED_IN_REPORTS, e.g. SQuAD) have every stored answer scored
  again against the split, with the task's own metric, and the stored metrics must agree.
- Exports: a row scored from a GGUF file is reported only while the file still has the sha256 it
  was scored with.
- Numbers: times, token counts, sizes and prices are finite and >= 0; scores are 0..100.

A store that fails is refused with its file (and line); an older store that recorded no hash is
re-scored where the task allows, and otherwise reported as unverified, saying so.
"""
import math

from eval.cost import usage_of
from slingshot.errors import UserError
from slingshot.io import read_jsonl, sha256_file
from slingshot.layout import display_path, resolve, test_split_path

META_NUMBERS = ("wall_s", "generation_s", "usd_per_hour", "gguf_bytes", "n_expected", "n_stored", "n_samples",
                "usage.tokens_in", "usage.tokens_out", "recorded_cost.usd_total", "recorded_cost.n_answers")
ROW_NUMBERS = ("tokens_in", "tokens_out", "latency_s")
AGREE = 1e-6  # stored and fresh scores are the same computation; only JSON's float round trip differs
REDO = "delete the store's folder and run the same `python -m eval run` again (answers are asked anew)"


def verify_run(store, meta, rows, task):
    """Check one store; returns how it was verified (a sentence), or raises UserError naming the file."""
    check_meta_numbers(store.meta_path, meta)
    for row in rows:
        check_row_numbers(store, row, task)
    hashed = check_hash(store, meta)
    check_meta_against_rows(store, meta, rows)
    scored = [r for r in rows if not (r.get("metrics") or {}).get("skipped")]
    rescored = rescore(store, meta, scored, task) if getattr(task, "RESCORED_IN_REPORTS", False) else None
    export = check_export_files(store, meta)
    if hashed and rescored is True:
        how = "answers match their recorded sha256 and were re-scored against the split"
    elif hashed and rescored is not None:  # a hash anyone can recompute proves no score: say what was not done
        how = f"unverified: its answers match their recorded sha256 but were {rescored}"
    elif hashed:
        how = "answers match their recorded sha256"
    elif rescored is True:
        how = "no recorded sha256 (stored before hashes); every answer was re-scored against the split"
    else:
        how = "unverified: no recorded sha256 (stored before hashes)" + (f" and {rescored}" if rescored else
                                                                          "; its scores are read as stored")
    return how + (f"; {export}" if export else "")


def check_meta_against_rows(store, meta, rows):
    """meta.json's token sums, generation time and request counts must agree with its answers (which the
    hash covers): a cost or speed edited in meta.json alone is refused."""
    if not meta.get("segments"):
        return  # not written by `eval run` (e.g. recorded leaderboard runs): its sums follow other rules
    usage, fresh = meta.get("usage") or {}, usage_of(rows)
    for key in ("tokens_in", "tokens_out"):
        if usage.get(key) is not None and usage[key] != fresh[key]:
            raise UserError(f"{store.meta_path}: key usage.{key} is {usage[key]!r}, but the answers in "
                            f"{store.predictions_path.name} add up to {fresh[key]!r}; restore it, or {REDO}")
    latencies = [r.get("latency_s") for r in rows]
    if meta.get("generation_s") is not None and None not in latencies and \
            abs(meta["generation_s"] - sum(latencies)) > 0.01 + 1e-6 * sum(latencies):
        raise UserError(f"{store.meta_path}: key generation_s is {meta['generation_s']!r}, but the answers' "
                        f"latency_s add up to {round(sum(latencies), 3)!r}; restore it, or {REDO}")
    for i, segment in enumerate(meta.get("segments") or []):
        if isinstance(segment, dict) and isinstance(segment.get("requests"), int) and \
                isinstance(segment.get("n"), int) and segment["requests"] < segment["n"]:
            raise UserError(f"{store.meta_path}: segments[{i}] kept {segment['n']} answers from "
                            f"{segment['requests']} requests, which cannot be; restore it, or {REDO}")


def is_unverified(statement):
    return statement.startswith("unverified") or "not re-checked" in statement


def number_problem(value, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return "a finite number >= 0"
    if high is not None and value > high:
        return f"a score from 0 to {high}"
    return None


def check_meta_numbers(meta_path, meta):
    for key in META_NUMBERS:
        value = meta
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        problem = value is not None and number_problem(value)
        if problem:
            raise UserError(f"{meta_path}: key {key} must be {problem}, got {value!r}; correct it, or {REDO}")
    for i, segment in enumerate(meta.get("segments") or []):
        value = segment.get("wall_s") if isinstance(segment, dict) else segment
        if number_problem(value):
            raise UserError(f"{meta_path}: key segments[{i}].wall_s must be a finite number >= 0, got {value!r}; "
                            f"correct it, or {REDO}")


def where(store, row):
    line = getattr(store, "lines", {}).get(row.get("id"))
    return f"{store.predictions_path}:{line}" if line else f"{store.predictions_path}: id {row.get('id')!r}"


def check_row_numbers(store, row, task):
    for key in ROW_NUMBERS:
        value = row.get(key)
        if value is not None and number_problem(value):
            raise UserError(f"{where(store, row)}: key {key} must be a finite number >= 0, got {value!r}; {REDO}")
    metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
    if metrics.get("skipped"):
        return
    for name in (*task.METRICS, *getattr(task, "SECONDARY_METRICS", ())):
        if name not in task.METRICS and name not in metrics:
            continue
        value = metrics.get(name)
        if number_problem(value, high=100):
            raise UserError(f"{where(store, row)}: id {row.get('id')!r}: key metrics.{name} must be a score "
                            f"from 0 to 100, got {value!r}; {REDO}")


def check_hash(store, meta):
    """True when the predictions file has the sha256 recorded at finish; False when none was recorded."""
    recorded = meta.get("predictions_sha256")
    if recorded is None:
        return False
    actual = sha256_file(store.predictions_path)
    if actual != recorded:
        raise UserError(f"{store.predictions_path}: sha256 {actual[:16]}... is not the {str(recorded)[:16]}... "
                        f"that {store.meta_path.name} recorded when the run finished: its answers or scores "
                        f"were changed after scoring; restore the file, or {REDO}")
    return True


def find_split(metas):
    """The split file the runs scored, checked against their split_sha256; None when it is gone."""
    meta = metas[0]
    candidates = [m["split_path"] for m in metas if isinstance(m.get("split_path"), str)]
    candidates.append(test_split_path(meta["task"], str(meta["split"]).split(":")[0]))
    for path in dict.fromkeys(resolve(p) for p in candidates):
        if path.is_file() and sha256_file(path) == meta["split_sha256"]:
            return path
    return None


def rescore(store, meta, rows, task):
    """Score every stored answer again against its split row; True, or why it could not be done."""
    split = find_split([meta])
    if split is None:
        return "not re-scored (its split file, sha256 " + str(meta["split_sha256"])[:12] + ", is not here)"
    by_id = {r.get("id"): r for r in read_jsonl(split)}
    for row in rows:
        gold = by_id.get(row["id"])
        if gold is None:
            raise UserError(f"{where(store, row)}: id {row['id']!r} is not a question of {display_path(split)}; {REDO}")
        if not isinstance(row.get("answer"), str):
            raise UserError(f"{where(store, row)}: key answer must be the answer's text, got {row.get('answer')!r}; {REDO}")
        fresh = task.score(gold, row["answer"])
        for name in task.METRICS:
            if abs(fresh[name] - row["metrics"][name]) > AGREE:
                raise UserError(
                    f"{where(store, row)}: id {row['id']!r}: stored metrics.{name} is {row['metrics'][name]!r}, but "
                    f"its answer {row['answer'][:80]!r} scores {fresh[name]!r} against {display_path(split)}: "
                    f"the store was changed after scoring; {REDO}")
    return True


def check_export_files(store, meta):
    """A row scored from exported files (meta gguf_files) is reported only while they are unchanged."""
    files = meta.get("gguf_files")
    if "gguf_sha256" not in meta:
        return None
    if not isinstance(files, list) or not files:
        return "export file not re-checked (the store predates recorded export paths)"
    paths = [resolve(f) for f in files]
    missing = [display_path(p) for p in paths if not p.is_file()]
    if missing:
        return f"export file not re-checked ({', '.join(missing)} no longer exists)"
    actual = "+".join(sha256_file(p) for p in paths)
    if actual != meta["gguf_sha256"]:
        raise UserError(f"{', '.join(display_path(p) for p in paths)}: sha256 differs from the one this row was "
                        f"scored with ({store.meta_path}): the export changed after it was scored; run "
                        f"`make export` and `make eval EXPORTS=1` again for the recipe")
    return "export files match the sha256 they were scored with"
