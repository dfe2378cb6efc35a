"""A store is checked before it is reported, never trusted: what the report reads back must be what
`eval run` wrote, scored on the split data prep built.

- Split: the split a store's answers are re-scored against is data prep's, found from the store's task and
  split name (eval.splits) and checked against the manifest data prep wrote, never a file the store names.
  A shared split whose bytes differ from its manifest is refused with the command that rebuilds it; a store
  whose split_sha256 is not data prep's split (a user's own JSONL, an older split, a copy) is reported as
  "not a data-prep split" and unverified, its scores as stored.
- Answers: the sha256 of predictions.jsonl must be the one meta.json recorded when the run finished;
  tasks that are cheap to score (RESCORED_IN_REPORTS, e.g. SQuAD) have every stored answer scored
  again against the split, with the task's own metric, and the stored metrics must agree.
- Cost and speed: every figure they are computed from (eval.store.FIGURES: tokens, wall time, segments,
  requests, price per hour) is covered by figures_sha256, recorded at finish over those figures and the
  answers' sha256, so an edit of meta.json alone is refused. Where the answers allow, figures are also
  re-derived (check_meta_against_rows), which holds for stores from before that hash too: token sums
  and generation time must equal the answers' sums (and the cost is computed from the answers' own
  tokens, eval.cost); the wall time must be the sum of the segments' and at least the answers' latency
  over the requests a segment had in flight (less one answer's latency per segment, what a kill can
  leave unrecorded); each segment's requests cover its answers, and the request totals are the segments'.
  A hashed store of `eval run` has segments (they predate the hash): one without them is refused. The
  rest (usd_per_hour, concurrency) only the hash covers: a store from before it is called unverified.
- Exports: a row scored from a GGUF file is reported only while the file still has the size and sha256 it
  was scored with.
- Numbers: times, token counts, sizes and prices are finite and >= 0; scores are 0..100.
- Files: only regular files of a sane size are opened (slingshot.io.checked_file): a FIFO, a device, a link
  out of the store or a file beyond its limit is refused by name, at once.

A store that fails is refused with its file (and line); an older store that recorded no hash is
re-scored where the task allows, and otherwise reported as unverified, saying so.
"""
import math
import re

from eval.backends import backend_for_meta
from eval.cost import usage_of
from eval.format import one_line
from eval.splits import SPLIT_MAX_BYTES, data_prep_split
from eval.store import FIGURES, figures_sha256
from slingshot.errors import UserError
from slingshot.io import checked_file, read_jsonl, sha256_file
from slingshot.layout import EXPORT_DIR, display_path, resolve, test_split_path

META_NUMBERS = ("wall_s", "generation_s", "usd_per_hour", "gguf_bytes", "n_expected", "n_stored", "n_samples",
                "usage.tokens_in", "usage.tokens_out", "recorded_cost.usd_total", "recorded_cost.n_answers")
ROW_NUMBERS = ("tokens_in", "tokens_out", "latency_s")
AGREE = 1e-6  # stored and fresh scores are the same computation; only JSON's float round trip differs
TIME_SLACK = 0.01  # seconds: wall and latency figures are rounded (3 and 4 places) before they are stored
GGUF_MAX_BYTES = 64 << 30  # far above the exports of the models this project tunes
REDO = "delete the store's folder and run the same `python -m eval run` again (answers are asked anew)"
SPLIT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*")  # what slingshot.layout.test_split_name can write
UNVERIFIED_MARKS = ("not re-checked", "not a data-prep split", "not covered by a hash")


def verify_run(store, meta, rows, task):
    """Check one store; returns how it was verified (a sentence), or raises UserError naming the file."""
    check_meta_numbers(store.meta_path, meta)
    for row in rows:
        check_row_numbers(store, row, task)
    hashed = check_hash(store, meta)
    figures = check_figures(store, meta, rows, hashed)
    split, not_ours = scoring_split(meta)
    scored = [r for r in rows if not (r.get("metrics") or {}).get("skipped")]
    rescored = None
    if getattr(task, "RESCORED_IN_REPORTS", False):
        rescored = rescore(store, split, scored, task) if split else f"not re-scored: {not_ours}"
    export = check_export_files(store, meta)
    if hashed and rescored is True:
        how = "answers match their recorded sha256 and were re-scored against the split"
    elif hashed and rescored is not None:  # a hash anyone can recompute proves no score: say what was not done
        how = f"unverified: its answers match their recorded sha256 but were {rescored}"
    elif hashed:
        how = "answers match their recorded sha256" + (f", but {not_ours}" if not_ours else "")
        how = ("unverified: " if not_ours else "") + how
    elif rescored is True:
        how = "no recorded sha256 (stored before hashes); every answer was re-scored against the split"
    else:
        how = "unverified: no recorded sha256 (stored before hashes)" + (f" and {rescored}" if rescored else
                                                                          "; its scores are read as stored")
        how += f"; {not_ours}" if not_ours and rescored is None else ""
    return how + "".join(f"; {part}" for part in (figures, export) if part)


def scoring_split(meta):
    """(data prep's split the store's answers were scored on, None), or (None, why it is not one)."""
    task, name = meta["task"], str(meta["split"]).split(":")[0]
    sha = str(meta["split_sha256"])
    if not SPLIT_NAME.fullmatch(name):  # a name with a path in it: nothing is looked up outside data/<task>/test/
        return None, f"its split {one_line(name)!r} is not a data-prep split: data prep names none so"
    found = data_prep_split(task, name)  # refuses a shared split whose bytes differ from its manifest
    if found is None:
        return None, (f"its split {task}/{name}, sha256 {sha[:12]}, is not a data-prep split here: data prep "
                      f"has built no {display_path(test_split_path(task, name))} in this workspace")
    path, manifest = found
    if manifest["sha256"] != sha:
        return None, (f"its split, sha256 {sha[:12]}, is not a data-prep split: data prep's "
                      f"{display_path(path)} has sha256 {manifest['sha256'][:12]}, so the store's is a split "
                      f"of a user's own, an older build, or a copy")
    return path, None


def check_figures(store, meta, rows, hashed):
    """Refuse cost and speed figures changed after the run finished; returns a sentence when they are
    not covered by a hash (a store from before figures_sha256), else None."""
    check_meta_against_rows(store, meta, rows)
    recorded = meta.get("figures_sha256")
    if recorded is None:
        return ("its cost and speed figures are not covered by a hash (stored before they were), only "
                "re-derived from its answers where they can be") if hashed else None
    if recorded != figures_sha256(meta):
        raise UserError(f"{store.meta_path}: its cost and speed figures ({', '.join(_present(meta))}) are not "
                        f"the ones recorded when the run finished (figures_sha256 differs): meta.json was "
                        f"edited after scoring; restore it, or {REDO}")
    return None


def _present(meta):
    return [key for key in FIGURES if key in meta] or ["none left"]


def check_meta_against_rows(store, meta, rows):
    """meta.json's token sums, times and request counts must agree with its answers (which the hash
    covers): a cost or speed edited in meta.json alone is refused. Stores `eval run` wrote are held to
    all of it; a hashed one has segments (they predate the hash), so one without them was edited."""
    by_run = backend_for_meta(meta).RECORDED_SCORING is None and bool(
        meta.get("segments") or "predictions_sha256" in meta)  # records (the leaderboard's) sum samples, not rows
    if by_run and not meta.get("segments"):
        raise UserError(f"{store.meta_path}: key segments is missing or empty, but `eval run` records one per start "
                        f"or resume of every store it hashes; restore it, or {REDO}")
    if by_run:
        usage, fresh = meta.get("usage") or {}, usage_of(rows)
        for key in ("tokens_in", "tokens_out", "n_without_usage"):
            if key in usage and usage[key] != fresh[key]:
                raise UserError(f"{store.meta_path}: key usage.{key} is {usage[key]!r}, but the answers in "
                                f"{store.predictions_path.name} add up to {fresh[key]!r}; restore it, or {REDO}")
    latencies = [r.get("latency_s") for r in rows]
    if meta.get("generation_s") is not None and None not in latencies and \
            abs(meta["generation_s"] - sum(latencies)) > TIME_SLACK + 1e-6 * sum(latencies):
        raise UserError(f"{store.meta_path}: key generation_s is {meta['generation_s']!r}, but the answers' "
                        f"latency_s add up to {round(sum(latencies), 3)!r}; restore it, or {REDO}")
    check_segments(store, meta)
    check_batch(store, meta, rows)
    if by_run and None not in latencies and latencies:
        check_wall_time(store, meta, latencies)


def check_segments(store, meta):
    segments = [s for s in meta.get("segments") or [] if isinstance(s, dict)]
    for i, segment in enumerate(segments):
        if isinstance(segment.get("requests"), int) and isinstance(segment.get("n"), int) and \
                segment["requests"] < segment["n"]:
            raise UserError(f"{store.meta_path}: segments[{i}] kept {segment['n']} answers from "
                            f"{segment['requests']} requests, which cannot be; restore it, or {REDO}")
    for key in ("requests", "retries", "missing_usage"):
        counts = [s[key] for s in segments if key in s]
        if key in meta and counts and meta[key] != sum(counts):
            raise UserError(f"{store.meta_path}: key {key} is {meta[key]!r}, but its segments add up to "
                            f"{sum(counts)!r}; restore it, or {REDO}")
    walls = [s.get("wall_s") for s in segments]
    if segments and meta.get("wall_s") is not None and None not in walls and \
            abs(meta["wall_s"] - sum(walls)) > TIME_SLACK * len(walls):
        raise UserError(f"{store.meta_path}: key wall_s is {meta['wall_s']!r}, but its segments' wall_s add up "
                        f"to {round(sum(walls), 3)!r}; restore it, or {REDO}")


def check_batch(store, meta, rows):
    """A Batch API run's `batch.answered` (the answers priced at the batch price) names stored answers only."""
    if "batch" not in meta:
        return
    answered = meta["batch"].get("answered") if isinstance(meta["batch"], dict) else None
    if not isinstance(answered, list) or not all(isinstance(a, (str, int)) for a in answered):
        raise UserError(f"{store.meta_path}: key batch.answered must be the list of the ids a batch answered, got "
                        f"{type(answered).__name__}; restore it, or {REDO}")
    stray = set(answered) - {r.get("id") for r in rows}
    if stray:
        raise UserError(f"{store.meta_path}: key batch.answered names ids with no stored answer "
                        f"({', '.join(map(repr, sorted(stray, key=str)[:3]))}); restore it, or {REDO}")


def check_wall_time(store, meta, latencies):
    """A run cannot take less wall time than its answers' latency over the requests it had in flight."""
    wall, segments = meta.get("wall_s"), [s for s in meta["segments"] if isinstance(s, dict)]
    if wall is None:
        return
    if segments and all("concurrency" in s for s in segments):
        width = max(s["concurrency"] for s in segments)
    elif len(segments) == 1:  # one segment: meta's concurrency is the one it ran with
        width = meta.get("concurrency", 1)
    else:
        return  # resumed before segments recorded theirs: a segment may have had more in flight
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise UserError(f"{store.meta_path}: concurrency must be a whole number >= 1, got {width!r}; {REDO}")
    least = sum(latencies) / width - max(latencies) * len(segments) - TIME_SLACK
    if wall < least:
        raise UserError(f"{store.meta_path}: key wall_s is {wall!r}, but its {len(latencies)} answers' latency_s "
                        f"add up to {round(sum(latencies), 3)!r} with at most {width} in flight: the run took at "
                        f"least {round(least, 3)!r} s; restore it, or {REDO}")


def is_unverified(statement):
    return statement.startswith("unverified") or any(mark in statement for mark in UNVERIFIED_MARKS)


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
    if "answer" in row and not isinstance(row["answer"], str):  # records (the leaderboard's) keep no answer
        raise UserError(f"{where(store, row)}: key answer must be the answer's text, got {row['answer']!r}; {REDO}")
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
    """The split file the runs scored, to show their questions (eval.viewer): data prep's when it is
    theirs, else the file a store names if it still has their split_sha256. Only data prep's is scored
    against (scoring_split); a file a store names is never trusted, only shown."""
    meta = metas[0]
    path, _ = scoring_split(meta)
    if path is not None:
        return path
    for name in dict.fromkeys(m["split_path"] for m in metas if isinstance(m.get("split_path"), str)):
        candidate = resolve(name)
        if candidate.is_file() and candidate.stat().st_size <= SPLIT_MAX_BYTES and \
                sha256_file(candidate) == meta["split_sha256"]:
            return candidate
    return None


def rescore(store, split, rows, task):
    """Score every stored answer again against its row of data prep's split; True, or raises."""
    by_id = {r.get("id"): r for r in read_jsonl(split)}
    for row in rows:
        gold = by_id.get(row["id"])
        if gold is None:
            raise UserError(f"{where(store, row)}: id {row['id']!r} is not a question of {display_path(split)}; {REDO}")
        if not isinstance(row.get("answer"), str):
            raise UserError(f"{where(store, row)}: key answer must be the answer's text, got {row.get('answer')!r}; "
                            f"{REDO}")
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
    elsewhere = [display_path(p) for p in paths if p.suffix != ".gguf" or p.parent.name != EXPORT_DIR]
    if elsewhere:  # exports live in a run's export/ folder: any other file a meta names is not read
        return f"export file not re-checked ({', '.join(elsewhere)} is not a .gguf file in an {EXPORT_DIR}/ folder)"
    missing = [display_path(p) for p in paths if not (p.exists() or p.is_symlink())]
    if missing:
        return f"export file not re-checked ({', '.join(missing)} no longer exists)"
    size = sum(checked_file(p, "an export file", GGUF_MAX_BYTES) for p in paths)
    if meta.get("gguf_bytes") is not None and size != meta["gguf_bytes"]:
        raise UserError(f"{', '.join(display_path(p) for p in paths)}: {size:,} bytes, not the {meta['gguf_bytes']:,} "
                        f"this row was scored with ({store.meta_path}): the export changed after it was scored; "
                        f"run `make export` and `make eval EXPORTS=1` again for the recipe")
    actual = "+".join(sha256_file(p) for p in paths)
    if actual != meta["gguf_sha256"]:
        raise UserError(f"{', '.join(display_path(p) for p in paths)}: sha256 differs from the one this row was "
                        f"scored with ({store.meta_path}): the export changed after it was scored; run "
                        f"`make export` and `make eval EXPORTS=1` again for the recipe")
    return "export files match the sha256 they were scored with"
