"""Compare answers from anywhere on one of this project's splits: `python -m eval compare A B [C ...]`.

Each file (eval.answer_files reads stores, lm-eval samples, inspect-ai logs and plain JSONL) is matched to the
split's questions by id, else by the hash of its question and passage (answer_files.question_key); rows that
match nothing are counted, and a file whose matched share is below `min_matched` is refused by name (a file of
another split or task). Every answer is scored again with the task's own extract_answer and score
(slingshot/tasks/<task>.py, the one source of the metric): a score a file stored is never used, only set
beside ours where they disagree. Files are compared on the questions every file answered: each file's scores
with 95% bootstrap CIs, each pair's difference with a paired bootstrap CI and McNemar's exact test (binary
metrics; a paired bootstrap p otherwise), Holm-corrected across the pairs when there are more than two files.
"""
from itertools import combinations
from pathlib import Path

from eval import stats
from eval.answer_files import question_key, read_answer_file
from eval.format import fmt_ci, fmt_p, one_line, table_lines
from eval.run import load_split
from eval.viewer import render_page, store_link
from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_text, sha256_file
from slingshot.layout import display_path, resolve, split_of
from slingshot.tasks import get_task

MIN_MATCHED = 0.95  # share of a file's rows that must be questions of the split (see docs/eval.md)
AGREE = 1e-6        # a stored score equal to ours but for JSON's float round trip agrees
EXAMPLES = 5        # examples of each disagreement in compare.md (compare.json holds them all)


class CompareError(UserError):
    """Files that cannot be compared; the message names the file."""


def split_key_index(rows, task):
    """question_key -> split id, of every split row whose question the task's view_example shows."""
    index = {}
    for row in rows:
        shown = task.view_example(row)
        if isinstance(shown.get("question"), str) and shown["question"]:
            index.setdefault(question_key(shown["question"], shown.get("context")), row["id"])
    return index


def check_store_split(answers, task_name, split_name, split_path):
    """A store of `eval run` names its task, split and the split's sha256: all must be the compared split's."""
    meta = answers.meta
    name = str(meta.get("split", "")).split(":")[0]
    if meta.get("task") != task_name or name != split_name:
        raise CompareError(f"{display_path(answers.path)}: a store of {one_line(meta.get('task'))}/"
                           f"{one_line(meta.get('split'))[:80]}, not of the "
                           f"compared split {task_name}/{split_name}; compare files of one split")
    if meta.get("split_sha256") != sha256_file(split_path):
        raise CompareError(f"{display_path(answers.path)}: scored on a split whose sha256 ({str(meta.get('split_sha256'))[:12]}) "
                           f"is not {display_path(split_path)}'s: another build of {split_name}")
    recorded, predictions = meta.get("predictions_sha256"), answers.path / "predictions.jsonl"
    if recorded is not None and sha256_file(predictions) != recorded:
        raise CompareError(f"{display_path(predictions)}: its sha256 is not the {str(recorded)[:16]}... that "
                           f"meta.json recorded when the run finished: its answers were changed after the run; "
                           f"restore the file, or run the store again")


def match(answers, by_id, by_key, min_matched):
    """{split id: entry} of a file, and its unmatched entries; CompareError below min_matched or when two of
    its rows answer one question."""
    matched, unmatched, lines = {}, [], {}
    for entry in answers.entries:
        qid = next((i for i in (entry.id, str(entry.id)) if entry.id is not None and i in by_id), None)
        qid = qid if qid is not None else by_key.get(entry.key) if entry.key else None
        if qid is None:
            unmatched.append(entry)
            continue
        if qid in matched:
            raise CompareError(f"{entry.where}: question {qid!r} is answered twice in {display_path(answers.path)} "
                               f"(first at {lines[qid]}); keep one answer per question")
        matched[qid], lines[qid] = entry, entry.where
    share = len(matched) / len(answers.entries)
    if share < min_matched:
        shown = ", ".join(repr(e.id if e.id is not None else e.where) for e in unmatched[:3])
        raise CompareError(f"{display_path(answers.path)}: only {len(matched)} of its {len(answers.entries)} rows "
                           f"({100 * share:.1f}%) are questions of the split, below --min-matched "
                           f"{min_matched:g}: a file of another split or task? unmatched e.g. {shown}")
    return matched, unmatched


def rescore(answers, matched, rows_by_id, task):
    """{id: {answer, metrics}} scored with the task's own metric, where a stored score disagrees, and how
    many stored scores were set beside ours."""
    scored, disagree, compared = {}, [], 0
    for qid, entry in matched.items():
        answer = task.extract_answer(entry.answer) if entry.raw else entry.answer
        metrics = task.score(rows_by_id[qid], answer)
        scored[qid] = {"answer": answer, "metrics": metrics}
        for name, value in entry.stored.items():
            compared += name in metrics
            if name in metrics and abs(metrics[name] - value) > AGREE:
                disagree.append({"id": qid, "where": entry.where, "metric": name, "stored": value,
                                 "ours": metrics[name], "answer": answer})
    return scored, disagree, compared


def load_files(paths, split, min_matched):
    """(task module, split name, split rows, [one dict per file: its answers, matched and re-scored])."""
    task_name, split_name = split_of(split)
    task = get_task(task_name)
    rows = load_split(split)
    by_id = {row["id"]: row for row in rows}
    by_key = split_key_index(rows, task)
    files = []
    for path in paths:
        answers = read_answer_file(path, task)
        if answers.kind == "store":
            check_store_split(answers, task_name, split_name, split)
        matched, unmatched = match(answers, by_id, by_key, min_matched)
        scored, disagree, compared = rescore(answers, matched, by_id, task)
        files.append({"answers": answers, "scored": scored, "unmatched": unmatched, "disagree": disagree,
                      "compared": compared})
    return task, split_name, rows, files


def pair_tests(files, ids, task, n_boot, seed):
    """Each pair's paired difference per metric, its p-value (McNemar on binary metrics), Holm-adjusted."""
    pairs = []
    for i, j in combinations(range(len(files)), 2):
        entry = {"a": i, "b": j, "metrics": {}}
        for metric in task.METRICS:
            a = [files[i]["scored"][q]["metrics"][metric] for q in ids]
            b = [files[j]["scored"][q]["metrics"][metric] for q in ids]
            test = stats.paired_bootstrap(a, b, n_boot=n_boot, seed=seed)
            if metric in task.BINARY_METRICS:
                mc = stats.mcnemar_exact([x >= 100 for x in a], [y >= 100 for y in b])
                test.update(a_only=mc["a_only"], b_only=mc["b_only"], p_value=mc["p_value"], test="McNemar exact")
            else:
                test["test"] = "paired bootstrap"
            entry["metrics"][metric] = test
        primary = next(iter(task.METRICS))
        entry["disagree_ids"] = [q for q in ids if files[i]["scored"][q]["metrics"][primary]
                                 != files[j]["scored"][q]["metrics"][primary]]
        pairs.append(entry)
    for metric in task.METRICS:
        raw = [p["metrics"][metric]["p_value"] for p in pairs]
        adjusted = stats.holm(raw) if len(files) > 2 else raw
        for pair, p in zip(pairs, adjusted):
            pair["metrics"][metric]["p_holm"] = p
    return pairs


def compare(paths, split, min_matched=MIN_MATCHED, n_boot=stats.N_BOOT, seed=stats.SEED):
    """The comparison of the files on `split` (a path): a dict compare.md, compare.json and the page show."""
    if len(paths) < 2:
        raise CompareError("compare needs at least two files of answers")
    if not 0 < min_matched <= 1:
        raise CompareError(f"--min-matched must be above 0 and at most 1, got {min_matched}")
    check_distinct(paths)
    task, split_name, rows, files = load_files(paths, split, min_matched)
    common = set.intersection(*(set(f["scored"]) for f in files))
    ids = [row["id"] for row in rows if row["id"] in common]  # the split's order
    if not ids:
        raise CompareError("the files answered no question in common: " +
                           "; ".join(f"{display_path(f['answers'].path)}: {len(f['scored'])} questions" for f in files))
    labels = unique_labels([short(f["answers"].label, 120) for f in files])  # a file's own name, on one line
    summaries = []
    for f, label in zip(files, labels):
        answers = f["answers"]
        summary = {"label": label, "file": display_path(answers.path), "kind": answers.kind,
                   "rows": len(answers.entries), "matched": len(f["scored"]), "unmatched": len(f["unmatched"]),
                   "unmatched_examples": [e.where for e in f["unmatched"][:EXAMPLES]],
                   "stored_disagree": f["disagree"], "stored_compared": f["compared"]}
        for metric in task.METRICS:
            mean, low, high = stats.bootstrap_ci([f["scored"][q]["metrics"][metric] for q in ids],
                                                 n_boot=n_boot, seed=seed)
            summary[metric], summary[f"{metric}_ci"] = mean, [low, high]
        summaries.append(summary)
    return {"task": task.__name__.rsplit(".", 1)[-1], "split": split_name, "split_file": display_path(split),
            "split_rows": len(rows), "n": len(ids), "ids": ids, "min_matched": min_matched, "n_boot": n_boot,
            "seed": seed, "metrics": list(task.METRICS), "metric_labels": dict(task.METRICS),
            "binary_metrics": sorted(task.BINARY_METRICS), "files": summaries,
            "pairs": pair_tests(files, ids, task, n_boot, seed),
            "answers": [{q: f["scored"][q] for q in ids} for f in files]}


def check_distinct(paths):
    """CompareError when two of `paths` are one file (the same name twice, or a link to it): it would be
    compared with itself, a difference of 0 that says nothing."""
    seen = {}
    for path in map(Path, paths):
        try:
            where = path.resolve(strict=True)
        except (OSError, RuntimeError):
            continue  # read_answer_file names what is wrong with it
        if where in seen:
            raise CompareError(f"{display_path(path)}: the same file as {display_path(seen[where])}; "
                               f"compare different files of answers")
        seen[where] = path


def unique_labels(labels):
    """Labels told apart: a repeated one gets its position."""
    return [f"{label} [{i + 1}]" if labels.count(label) > 1 else label for i, label in enumerate(labels)]


def file_columns(result):
    labels = result["metric_labels"]
    header = ["file", "kind", "rows", "matched", "unmatched"] + [f"{labels[m]} [95% CI]" for m in result["metrics"]]
    return header + ["stored scores unlike ours"]


def file_cells(result):
    rows = []
    for f in result["files"]:
        stored = f"{len(f['stored_disagree'])} of {f['stored_compared']}" if f["stored_compared"] else "none stored"
        rows.append([f["label"], f["kind"], str(f["rows"]), str(f["matched"]), str(f["unmatched"])]
                    + [fmt_ci(f[m], f[f"{m}_ci"]) for m in result["metrics"]] + [stored])
    return rows


def pair_lines(result):
    labels, files, holm = result["metric_labels"], result["files"], len(result["files"]) > 2
    header = ["A", "B"]
    for m in result["metrics"]:
        test = "McNemar exact" if m in result["binary_metrics"] else "paired bootstrap"
        header += [f"Δ{labels[m]} A−B [95% CI]", f"p ({test}{', Holm' if holm else ''})"]
    rows = []
    for pair in result["pairs"]:
        cells = [files[pair["a"]]["label"], files[pair["b"]]["label"]]
        for m in result["metrics"]:
            test = pair["metrics"][m]
            cells += [fmt_ci(test["diff"], test["ci"], signed=True), fmt_p(test["p_holm"], named=False)]
        rows.append(cells + [str(len(pair["disagree_ids"]))])
    primary = labels[result["metrics"][0]]
    return table_lines(header + [f"questions they disagree on ({primary})"], rows)


def short(text, chars=80):
    text = one_line(text)
    return text if len(text) <= chars else text[:chars - 1] + "…"


def disagreement_lines(result):
    lines = []
    for f in result["files"]:
        if f["stored_disagree"]:
            lines += ["", f"{f['label']}: {len(f['stored_disagree'])} stored scores unlike ours, e.g.:"]
            lines += [f"- `{short(d['where'], 100)}` id {short(d['id'], 40)}: stored {d['metric']} "
                      f"{d['stored']:.1f}, ours {d['ours']:.1f} (answer scored: {short(d['answer'], 60)!r})"
                      for d in f["stored_disagree"][:EXAMPLES]]
    primary = result["metrics"][0]
    for pair in result["pairs"]:
        a, b = pair["a"], pair["b"]
        if pair["disagree_ids"]:
            lines += ["", f"{result['files'][a]['label']} vs {result['files'][b]['label']}: "
                          f"{len(pair['disagree_ids'])} questions scored differently on "
                          f"{result['metric_labels'][primary]}, e.g.:"]
            for q in pair["disagree_ids"][:EXAMPLES]:
                x, y = result["answers"][a][q], result["answers"][b][q]
                lines.append(f"- {short(q, 40)}: {short(x['answer'], 60)!r} ({x['metrics'][primary]:.0f}) vs "
                             f"{short(y['answer'], 60)!r} ({y['metrics'][primary]:.0f})")
    return lines


def render_markdown(result):
    n_files = len(result["files"])
    lines = [f"# {result['task']}/{result['split']}: {n_files} files compared",
             "",
             f"On the {result['n']} questions every file answered (of {result['split_rows']} in "
             f"{result['split_file']}); every answer scored again with the task's own metric. "
             f"Brackets: 95% bootstrap CIs ({result['n_boot']} resamples, seed {result['seed']}).",
             "", *table_lines(file_columns(result), file_cells(result)), "", *pair_lines(result)]
    skipped = [f for f in result["files"] if f["unmatched"]]
    for f in skipped:
        lines += ["", f"{f['label']}: {f['unmatched']} rows matched no question of the split (by id, or by "
                      f"question and passage), e.g. {', '.join(f'`{short(w, 100)}`' for w in f['unmatched_examples'])}"]
    return "\n".join(lines + disagreement_lines(result)) + "\n"


def view_data(result, rows, out_dir):
    """The viewer page's data (eval/viewer.js): one row per file, every compared question with each answer."""
    task = get_task(result["task"])
    primary = result["metrics"][0]
    by_id = {row["id"]: row for row in rows}
    contexts, context_index, questions = [], {}, []
    for q in result["ids"]:
        shown = task.view_example(by_id[q])
        context = shown.get("context")
        if context is not None and context not in context_index:
            context_index[context] = len(contexts)
            contexts.append(context)
        answers = [[a[q]["answer"], [round(a[q]["metrics"][m], 1) for m in result["metrics"]], None,
                    a[q]["metrics"][primary] >= 100] for a in result["answers"]]
        questions.append({"id": str(q), "q": shown.get("question"), "c": context_index.get(context),
                          "g": shown.get("gold"), "b": None, "grp": shown.get("group"), "var": shown.get("variant"),
                          "a": answers})
    return {"task": result["task"], "split": result["split"], "primary": result["metric_labels"][primary],
            "verdicts": [result["metric_labels"][m] for m in result["metrics"]],
            "reading": f"{len(result['files'])} files on the {result['n']} questions all of them answered, "
                       f"every answer scored again with the task's own metric",
            "notes": [], "headline": {"header": file_columns(result), "rows": file_cells(result)}, "plots": {},
            "rows": [{"name": f["label"], "store": store_link(resolve(f["file"]), out_dir), "tuned": False,
                      "baseline": False, "trained": None} for f in result["files"]],
            "buckets": [], "contexts": contexts, "excerpt_chars": 240, "questions": questions,
            "split_file": result["split_file"]}


def write_comparison(result, out_dir):
    """compare.md, compare.json and index.html in out_dir (each written whole, atomically); the markdown."""
    out_dir = Path(out_dir)
    rows = load_split(resolve(result["split_file"]))
    markdown = render_markdown(result)
    atomic_write_text(out_dir / "compare.md", markdown)
    atomic_write_json(out_dir / "compare.json", result)
    atomic_write_text(out_dir / "index.html", render_page(view_data(result, rows, out_dir)))
    return markdown
