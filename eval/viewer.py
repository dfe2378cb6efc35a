"""index.html: one static page beside report.md for reading every answer of a report, offline.

The page carries its data as JSON in a <script type="application/json"> block and renders it with
a small inline script (eval/viewer.js, styled by eval/viewer.html); plots are data: URIs, so it
opens from file:// with no server, and its Content-Security-Policy forbids every request and every
script but its own. Answers come from models and are hostile: no "<" survives in the JSON block, so
nothing in it can end the block, and the script writes every string as text, never as HTML.
What a task shows of a question and of an answer comes from its module (view_example, view_answer).
"""
import base64
import hashlib
import html
import json
import math
import os
import re
import urllib.parse
from pathlib import Path

from eval import verify
from eval.render import headline_cells, training_text
from slingshot.io import atomic_write_text, read_jsonl
from slingshot.layout import display_path
from slingshot.tasks import get_task

PAGE = "index.html"
TEMPLATE = Path(__file__).with_name("viewer.html")
SCRIPT = Path(__file__).with_name("viewer.js")
EXCERPT_CHARS = 240  # of a passage around its gold answer; the whole passage opens on a click


def find_split(runs):
    """The split file the runs scored, checked against their split_sha256; None when it is gone."""
    return verify.find_split([r.meta for r in runs])


def rounded(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(float(value), 1)


def as_text(value):
    """An answer as the page shows it: text, whatever a store holds (None: nothing was stored)."""
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def store_link(path, out_dir):
    """A relative link to a prediction store that survives '#', '%' and spaces in folder names."""
    return urllib.parse.quote(Path(os.path.relpath(path, out_dir)).as_posix())


def view_data(report, runs, buckets, split_rows, out_dir, split_file=None):
    """The page's data: headline, plots, rows (models) and every question with each row's answer."""
    task = get_task(report["task"])
    primary = report["metrics"][0]
    by_name = {r.name: r for r in runs}
    ordered = [by_name[m["name"]] for m in report["models"]]
    examples = {}
    for row in split_rows:  # the first row of an id, as the eval read it
        if isinstance(row, dict) and "id" in row:
            examples.setdefault(str(row["id"]), row)
    answered = {str(i) for run in ordered for i in run.by_id} | {str(r["id"]) for run in ordered for r in run.skipped}
    by_id = [{str(i): p for i, p in run.by_id.items()} for run in ordered]
    ids = [i for i in examples if i in answered] + sorted((answered - set(examples)), key=str)
    bucket_of = {str(i): k for k, bucket in enumerate(buckets or []) for i in bucket["ids"]}

    contexts, context_index, questions = [], {}, []
    for i in ids:
        shown = task.view_example(examples[i]) if i in examples else {"question": None, "context": None, "gold": None}
        context = shown.get("context")
        if context is not None and context not in context_index:
            context_index[context] = len(contexts)
            contexts.append(context)
        answers = []
        for run, predictions in zip(ordered, by_id):
            prediction = predictions.get(i)
            if prediction is None:
                skipped = next((r for r in run.skipped if str(r["id"]) == i), None)
                answers.append(None if skipped is None else
                               [as_text(skipped.get("answer")), [None] * len(task.VIEW_VERDICTS),
                                f"not scored here: {skipped['metrics'].get('reason', 'no reason given')}", None])
                continue
            view = task.view_answer(prediction, run.meta)
            answers.append([as_text(view["answer"]), [rounded(v) for v in view["verdicts"]], view["detail"],
                            prediction["metrics"][primary] >= 100])
        questions.append({"id": i, "q": shown["question"], "c": context_index.get(context), "g": shown.get("gold"),
                          "b": bucket_of.get(i), "grp": shown.get("group"), "var": shown.get("variant"),
                          "a": answers})

    header, cells = headline_cells(report)
    plots = {name: "data:image/png;base64," + base64.b64encode((Path(out_dir) / file).read_bytes()).decode()
             for name, file in report["plots"].items() if (Path(out_dir) / file).is_file()}
    return {
        "task": report["task"], "split": report["split"], "primary": report["metric_labels"][primary],
        "verdicts": list(task.VIEW_VERDICTS), "reading": report["reading"], "notes": report["notes"],
        "headline": {"header": header, "rows": cells}, "plots": plots,
        "rows": [{"name": run.name, "store": store_link(run.folder / "predictions.jsonl", out_dir),
                  "tuned": bool(run.meta.get("adapter")), "baseline": run.name == report["baseline"],
                  "trained": training_text(model["training"]) if model.get("training") else None}
                 for run, model in zip(ordered, report["models"])],
        "buckets": [b["label"] for b in buckets or []],
        "contexts": contexts, "excerpt_chars": EXCERPT_CHARS, "questions": questions,
        "split_file": display_path(split_file) if split_file else None,
    }


def script_json(data):
    """JSON for a <script> block: "<" written as \\u003c, so "</script>" or "<!--" in an answer
    cannot end the block, and JSON.parse reads it back unchanged."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    # A lone surrogate (an API may send one) cannot be written as UTF-8; as an escape, JSON keeps it.
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def render_page(data):
    script = SCRIPT.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    page = TEMPLATE.read_text(encoding="utf-8")
    for marker, value in (("{{title}}", html.escape(f"{data['task']} on {data['split']}")),
                          ("{{script_hash}}", f"sha256-{digest}"), ("{{script}}", script),
                          ("{{data}}", script_json(data))):  # the data last: nothing in it is a marker
        page = page.replace(marker, value)
    return page


def write_viewer(report, runs, buckets, out_dir):
    """Write out_dir/index.html for a report build_report has just written; returns its path."""
    split_file = find_split(runs)
    split_rows = read_jsonl(split_file) if split_file else []
    data = view_data(report, runs, buckets, split_rows, out_dir, split_file)
    path = Path(out_dir) / PAGE
    atomic_write_text(path, render_page(data))
    return path
