"""Answers from anywhere, read into one shape for `python -m eval compare` (eval.compare).

Four kinds of file are read, told apart by what they hold, never by their name alone:

- a prediction store of `python -m eval run` (a folder with meta.json and predictions.jsonl);
- an lm-evaluation-harness `--log_samples` file (samples_<task>_<date>.jsonl: one JSON object per line with
  doc_id, doc, resps/filtered_resps and the task's metrics);
- an inspect-ai log in its JSON format (a .json object with eval, status and samples; the binary .eval format is
  refused, with the command that converts it);
- a plain JSONL of {"id", "answer"} (optionally "question" and "context", for matching by text).

Each row keeps what can match it to a split (its id, and the hash of its question and passage when the file
has them: question_key) and the answer to score. An answer of a model's raw output (lm-eval's response,
inspect's completion) is the raw text; the task's own extract_answer makes it the scored answer (eval.compare).
A score the file stored is kept only to be shown beside ours: it is never used.
"""
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from eval.format import one_line
from slingshot.errors import UserError
from slingshot.io import checked_file, sha256_text
from slingshot.layout import display_path

MAX_FILE_BYTES = 2 << 30  # far above any file of answers to a split of this project
MAX_LINE_BYTES = 8 << 20  # an lm-eval line carries its prompt (a few kB); a line beyond this is not an answer
MAX_LOG_BYTES = 512 << 20  # an inspect log is read whole
KINDS = ("store", "lm-eval samples", "inspect log", "answers")
# the names other tools give a score, and the metric of ours each one means (used only where the task has it)
STORED_NAMES = {"exact_match": "exact_match", "exact": "exact_match", "em": "exact_match", "f1": "f1"}
INSPECT_VALUES = {"C": 1.0, "I": 0.0}  # inspect-ai's CORRECT and INCORRECT


class AnswerFileError(UserError):
    """A file of answers that cannot be read; the message names the file and, where it can, the line."""


@dataclass
class Entry:
    where: str                 # file:line (or file: sample N) for messages
    id: object                 # the question id the file gives, or None
    key: object                # question_key of its question and passage, or None
    answer: str                # the answer as stored (already extracted) or the raw output (raw=True)
    raw: bool = False
    stored: dict = field(default_factory=dict)  # metric of ours -> the file's own score, 0..100


@dataclass
class AnswerFile:
    path: Path
    kind: str
    label: str
    entries: list
    meta: dict = field(default_factory=dict)  # a store's meta.json; {} for other kinds


def normalize_space(text):
    return " ".join(str(text).split())


def question_key(question, context):
    """The one hash that matches a row by text: its question and passage, whitespace normalized."""
    return sha256_text(normalize_space(question or "") + "\n\x00\n" + normalize_space(context or ""))[:32]


def key_of(task, record):
    """question_key of a record that shows its question (and passage): as fields, or as chat messages
    read by the task's own view_example; None when it shows neither."""
    if isinstance(record.get("question"), str):
        return question_key(record["question"], record.get("context"))
    messages = record.get("messages")
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        try:
            shown = task.view_example({"messages": messages})
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        if isinstance(shown.get("question"), str) and shown["question"]:
            return question_key(shown["question"], shown.get("context"))
    return None


def json_lines(path):
    """(line number, object) of a JSONL file, a line at a time; AnswerFileError naming the file and line of a
    line that is too long, not UTF-8, not JSON or not an object."""
    checked_file(path, "a file of answers", MAX_FILE_BYTES)
    with open(path, "rb") as f:
        lineno = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE_BYTES:
                raise AnswerFileError(f"{display_path(path)}:{lineno}: a line longer than {MAX_LINE_BYTES:,} bytes; "
                                      f"not a file of answers (or a damaged one)")
            if not raw.strip():
                continue
            value = parse_json(raw, f"{display_path(path)}:{lineno}")
            if not isinstance(value, dict):
                raise AnswerFileError(f"{display_path(path)}:{lineno}: a JSON {type(value).__name__}, not an object")
            yield lineno, value


def read_answer_file(path, task):
    """The AnswerFile at `path`, whichever kind it is; AnswerFileError naming it when it is none."""
    path = Path(path)
    if path.is_dir():
        if (path / "meta.json").is_file() and (path / "predictions.jsonl").is_file():
            return read_store(path)
        raise AnswerFileError(f"{display_path(path)}: a folder, but not a prediction store (no meta.json and predictions.jsonl)")
    if not path.exists():
        raise AnswerFileError(f"{display_path(path)}: no such file")
    if path.suffix == ".eval":
        raise AnswerFileError(f"{display_path(path)}: an inspect-ai log in its binary .eval format; convert it with "
                              f"`inspect log convert --to json {path.name} --output-dir DIR` and compare the .json")
    if path.suffix == ".json":
        return read_inspect_log(path, task)
    lines = json_lines(path)
    first = next(lines, None)
    if first is None:
        raise AnswerFileError(f"{display_path(path)}: empty; no answers to compare")
    if "doc_id" in first[1] and ("resps" in first[1] or "filtered_resps" in first[1]):
        entries = lm_eval_entries(path, [first], lines, task)
        return AnswerFile(path, "lm-eval samples", lm_eval_label(path), entries)
    if "id" in first[1] and "answer" in first[1]:
        return AnswerFile(path, "answers", path.stem, plain_entries(path, [first], lines, task))
    raise AnswerFileError(f"{display_path(path)}:{first[0]}: neither an lm-eval samples line (doc_id, resps) nor an answer "
                          f"(id, answer); keys: {one_line(', '.join(sorted(first[1])[:8]))[:300]}")


def stored_scores(values, scale, where="a file of answers"):
    """{our metric: 0..100} of the scores a file stored under names STORED_NAMES knows; AnswerFileError naming
    `where` and the key for a score that is no finite number (NaN, Infinity, an integer past any float)."""
    out = {}
    for name, value in values.items():
        ours = STORED_NAMES.get(str(name).lower())
        value = INSPECT_VALUES.get(value, value) if isinstance(value, str) else value
        if ours and isinstance(value, (int, float)) and not isinstance(value, bool):
            score = float(value) * scale if abs(value) <= 1e300 else math.inf
            if not math.isfinite(score):
                raise AnswerFileError(f"{where}: stored score {str(name)[:40]!r} is {str(value)[:40]}, not a finite "
                                      f"number; a damaged or forged file")
            out.setdefault(ours, score)
    return out


def lm_eval_entries(path, head, lines, task):
    entries = []
    for lineno, row in [*head, *lines]:
        where = f"{display_path(path)}:{lineno}"
        doc = row.get("doc") if isinstance(row.get("doc"), dict) else {}
        answer = first_text(row.get("filtered_resps"))
        if answer is None:
            answer = first_text(row.get("resps"))
        if answer is None:
            raise AnswerFileError(f"{where}: no response text in filtered_resps or resps")
        metrics = {name: row[name] for name in row.get("metrics") or () if isinstance(name, str) and name in row}
        entries.append(Entry(where, id_or_none(doc.get("id")), key_of(task, doc), answer, raw=True,
                             stored=stored_scores(metrics, 100.0, where)))
    return entries


def first_text(value):
    """The first string in lm-eval's nested response lists ([["text"]] or ["text"])."""
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


def plain_entries(path, head, lines, task):
    entries = []
    for lineno, row in [*head, *lines]:
        where = f"{display_path(path)}:{lineno}"
        for name in ("id", "answer"):
            if name not in row:
                raise AnswerFileError(f"{where}: missing key {name!r} (a line is {{\"id\": ..., \"answer\": ...}})")
        if not is_id(row["id"]):
            raise AnswerFileError(f"{where}: key 'id' must be text or a whole number, got {type(row['id']).__name__}")
        if not isinstance(row["answer"], str):
            raise AnswerFileError(f"{where}: key 'answer' must be text, got {type(row['answer']).__name__}")
        metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        entries.append(Entry(where, row["id"], key_of(task, row), row["answer"],
                             stored=stored_scores(metrics, 1.0, where)))
    return entries


def read_store(folder):
    """A prediction store of `eval run`: its answers as extracted, its stored metrics (0..100) and meta."""
    meta_path = folder / "meta.json"
    checked_file(meta_path, "a store's meta.json", 16 << 20)
    meta = parse_json(meta_path.read_bytes(), display_path(meta_path), line_of_error=True)
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in ("task", "split")):
        raise AnswerFileError(f"{display_path(meta_path)}: not a store's meta.json (needs task and split)")
    entries = []
    for lineno, row in json_lines(folder / "predictions.jsonl"):
        where = f"{display_path(folder / 'predictions.jsonl')}:{lineno}"
        if not is_id(row.get("id")) or not isinstance(row.get("answer"), str):
            raise AnswerFileError(f"{where}: a prediction needs an id and the answer's text")
        if (row.get("metrics") or {}).get("skipped"):
            continue
        metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        entries.append(Entry(where, row["id"], None, row["answer"], stored=stored_scores(metrics, 1.0, where)))
    if not entries:
        raise AnswerFileError(f"{display_path(folder / 'predictions.jsonl')}: empty; no answers to compare")
    label = meta.get("label") if isinstance(meta.get("label"), str) and meta["label"] else folder.name
    return AnswerFile(folder, "store", label, entries, meta)


def parse_json(raw, where, line_of_error=False):
    """One JSON value from bytes; AnswerFileError naming `where` (file, or file:line) for bytes that are not
    UTF-8 or not JSON. `line_of_error`: say on which line of a whole file the JSON breaks."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise AnswerFileError(f"{where}: not UTF-8") from None
    except json.JSONDecodeError as e:
        at = f", line {e.lineno}" if line_of_error else ""
        raise AnswerFileError(f"{where}: not valid JSON ({e.msg}{at})") from None
    except ValueError as e:  # a number of more digits than Python reads (int_max_str_digits)
        raise AnswerFileError(f"{where}: not JSON this can read ({e})"[:300]) from None


def read_inspect_log(path, task):
    """An inspect-ai log in its JSON format (EvalLog: version, status, eval, samples)."""
    checked_file(path, "an inspect-ai log", MAX_LOG_BYTES)
    log = parse_json(path.read_bytes(), display_path(path), line_of_error=True)
    if not (isinstance(log, dict) and isinstance(log.get("eval"), dict) and "status" in log):
        raise AnswerFileError(f"{display_path(path)}: not an inspect-ai log (a JSON object with eval, status and samples)")
    samples = log.get("samples")
    if not isinstance(samples, list) or not samples:
        raise AnswerFileError(f"{display_path(path)}: an inspect-ai log with no samples (status {log.get('status')!r}); "
                              f"log the samples (the default) to compare its answers")
    entries = []
    for n, sample in enumerate(samples, 1):
        if not isinstance(sample, dict):
            raise AnswerFileError(f"{display_path(path)}: sample {n} is not an object")
        if sample.get("epoch", 1) != 1:  # epochs after the first answer the same questions again
            continue
        entries.append(inspect_entry(f"{display_path(path)}: sample {n}", sample, task))
    model = log["eval"].get("model")
    return AnswerFile(path, "inspect log", f"{path.stem} ({model})" if isinstance(model, str) else path.stem,
                      entries)


def inspect_entry(where, sample, task):
    output = sample.get("output") if isinstance(sample.get("output"), dict) else {}
    answer = output.get("completion")
    if not isinstance(answer, str):
        raise AnswerFileError(f"{where} (id {sample.get('id')!r}): no output.completion text"
                              + (f"; the sample failed: {one_line(str(sample['error'])[:200])}" if sample.get("error") else ""))
    given = sample.get("input")
    messages = ([{"role": "user", "content": given}] if isinstance(given, str) else
                [{"role": m.get("role"), "content": m.get("content")} for m in given if isinstance(m, dict)]
                if isinstance(given, list) else [])
    metadata = sample.get("metadata") if isinstance(sample.get("metadata"), dict) else {}
    key = key_of(task, metadata) or key_of(task, {"messages": messages})
    scores = sample.get("scores") if isinstance(sample.get("scores"), dict) else {}
    values = {name: s.get("value") for name, s in scores.items() if isinstance(s, dict)}
    return Entry(where, id_or_none(sample.get("id")), key, answer, raw=True,
                 stored=stored_scores(values, 100.0, where))


def is_id(value):
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def id_or_none(value):
    """A question id as a file gives it, or None when it is no id (a list, an object, nothing)."""
    return value if is_id(value) else None


def lm_eval_label(path):
    """'lm-eval models/smollm2-135m-instruct (slingshot_squad_dev200)': lm-eval writes
    <output_path>/<model, '/' as '__'>/samples_<task>_<date>.jsonl."""
    task = path.stem.removeprefix("samples_").rsplit("_", 1)[0]
    return one_line(f"lm-eval {path.parent.name.replace('__', '/')} ({task})")
