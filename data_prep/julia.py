"""Julia-LLM-Leaderboard -> chat `messages` JSONL: full-score conversations to train on, and the
leaderboard's own prompts as the held-out test split.

Training rows: stored conversations of the recipe's train_cases and prompt_templates that scored
full points (parsed, executed, every unit test and every example), deduplicated on the answer,
ranked per case by answer length (shortest first, as the Cheater-7B experiment preferred fewer
generated tokens; characters do not depend on a tokenizer), then model, template and timestamp;
the top N per case are kept. Validation rows: full-score conversations ranked beyond the top N,
drawn with the seed round-robin over cases, so they share no conversation and no answer with
training. Test rows: one per (case, template) of the named split (slingshot.tasks.julia.TEST_SPLITS).
"""
import functools
import random
from collections import Counter, defaultdict
from pathlib import Path

from slingshot.metrics.julia.cases import TARBALL, iter_cases, iter_stored_runs, leaderboard_root
from slingshot.errors import DataError
from slingshot.io import sha256_file, stable_hash
from slingshot.layout import display_path
from slingshot.tasks import julia as task
from slingshot.tasks import parse_size

SHA256SUMS = TARBALL.parent / "SHA256SUMS"


def expected_tarball_sha256():
    for line in SHA256SUMS.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if name == TARBALL.name:
            return digest
    raise DataError(f"{SHA256SUMS}: no line for {TARBALL.name}")


def source_root(source):
    """The code_generation/ folder of the source: the carried tarball (unpacked once) or a folder."""
    if source == "local":
        digest, expected = sha256_file(TARBALL), expected_tarball_sha256()
        if digest != expected:
            raise DataError(f"{TARBALL}: sha256 {digest} does not match {expected} in {SHA256SUMS.name}")
        return leaderboard_root()
    root = Path(source)
    if not root.is_dir() or not any(root.glob("*/*/definition.toml")):
        raise DataError(f"slingshot.source: {source!r} must be 'local' or a leaderboard checkout's "
                        f"code_generation/ folder (holding <category>/<case>/definition.toml)")
    return root


def _folder_fingerprint(root):
    """Names and sizes of every file under root: cheap, and changes when runs are added."""
    files = sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())
    return stable_hash(files, length=16)


def runnable_cases(cases):
    """{case name: None if the local Julia can load its imports, else the reason it cannot}."""
    from slingshot.metrics.julia.sandbox import JuliaNotFound
    from slingshot.metrics.julia.score import missing_packages

    reasons = {}
    for case in cases:
        try:
            missing = missing_packages(tuple(case["imports"]))
        except JuliaNotFound:
            return None  # unchecked: the test split keeps every case
        reasons[case["name"]] = f"packages missing in the local Julia: {', '.join(missing)}" if missing else None
    return reasons


def source_fingerprint(params):
    source = params["source"]
    if source == "local":
        identity = {"tarball": expected_tarball_sha256()}
    else:
        identity = {"folder": _folder_fingerprint(source_root(source))}
    cases = list(iter_cases(source_root(source)))
    identity["unrunnable"] = runnable_cases(cases)  # installing a package must rebuild the split
    return identity


def is_full_score(evaluation):
    e = evaluation
    return bool(e.get("parsed") and e.get("executed")
                and e.get("unit_tests_passed") == e.get("unit_tests_count")
                and e.get("examples_executed") == e.get("examples_count"))


@functools.lru_cache(maxsize=4)
def load_runs(root):
    """(full-score conversations, prompt renderings per (case, template), runs per case) of a root.

    Reading ~30,000 stored runs takes seconds, so one scan serves every recipe in a process."""
    full, renderings, runs_per_case = [], defaultdict(dict), Counter()
    for run in iter_stored_runs(root):
        where = run["conversation_path"]
        try:
            messages = task.to_chat(run["conversation"])
        except ValueError as e:
            raise DataError(f"{where}: {e}") from None
        case, label = run["case"], run["prompt_label"]
        runs_per_case[case] += 1
        prompt = task.prompt_of(messages)
        entry = renderings[(case, label)].setdefault(
            task.prompt_text(prompt), {"messages": prompt, "runs": 0, "latest": ""})
        entry["runs"] += 1
        entry["latest"] = max(entry["latest"], run["timestamp"])
        if is_full_score(run["evaluation"]) and messages[-1]["role"] == "assistant":
            full.append({"case": case, "case_dir": run["case_dir"], "model": run["model"],
                         "prompt_label": label, "timestamp": run["timestamp"], "messages": messages})
    return tuple(full), dict(renderings), dict(runs_per_case)


def _count(value, key):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{key}: expected a count >= 1, got {value!r}")
    return value


def rank_key(conv):
    return (len(conv["messages"][-1]["content"]), conv["model"], conv["prompt_label"], conv["timestamp"])


def ranked_pool(full, cases, templates):
    """{case: full-score conversations of those templates, best first, one per distinct answer}."""
    pool, dropped = {c: [] for c in cases}, Counter()
    seen_answers = set()
    for conv in sorted(full, key=lambda c: (c["case"],) + rank_key(c)):
        if conv["case"] not in pool or conv["prompt_label"] not in templates:
            continue
        answer = conv["messages"][-1]["content"].strip()
        if answer in seen_answers:
            dropped[conv["case"]] += 1
            continue
        seen_answers.add(answer)
        pool[conv["case"]].append(conv)
    return pool, dropped


def round_robin(lists):
    """Items of several lists interleaved: first of each, then second of each, ..."""
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def split_train_validation(pool, top_n, train_size, validation_size, seed):
    """train_size and validation_size as a recipe gives them (task.SIZE_FORMS)."""
    train_lists = [pool[c][:top_n] for c in sorted(pool)]
    train = round_robin(train_lists)
    train = train[:parse_size(train_size, len(train), "slingshot.train_size", task.SIZE_FORMS["train_size"],
                              f"the top {top_n} per case")]
    rest = []
    for case in sorted(pool):
        leftover = pool[case][top_n:]
        random.Random(f"{seed}/{case}").shuffle(leftover)
        rest.append(leftover)
    candidates = round_robin(rest)
    beyond = f"the full-score conversations of the train cases beyond the top {top_n} per case"
    count = parse_size(validation_size, len(candidates), "slingshot.validation_size",
                       task.SIZE_FORMS["validation_size"], beyond)
    return train, candidates[:count]


def conversation_id(conv):
    return f"{conv['case']}/{conv['model']}/{conv['prompt_label']}/{conv['timestamp']}"


def training_row(conv):
    return {"id": conversation_id(conv), "messages": conv["messages"], "case": conv["case"],
            "prompt_label": conv["prompt_label"], "model": conv["model"]}


def test_rows(split_name, cases_by_name, renderings, unrunnable):
    if split_name not in task.TEST_SPLITS:
        raise DataError(f"slingshot.test_split: unknown split {split_name!r}; known: {', '.join(task.TEST_SPLITS)}")
    spec = task.TEST_SPLITS[split_name]
    names = task.case_list(spec["cases"], cases_by_name, f"split {split_name}")
    excluded = {c: unrunnable[c] for c in names if unrunnable and unrunnable.get(c)}
    rows, rendering_stats = [], {}
    for name in names:
        if name in excluded:
            continue
        for template in spec["templates"]:
            variants = renderings.get((name, template))
            if not variants:
                raise DataError(f"split {split_name}: no stored run of case {name} with template {template}")
            messages = task.pick_rendering(variants)
            row_id = f"{name}/{template}"
            rows.append({"id": row_id, "messages": messages, "case": name,
                         "case_dir": display_path(cases_by_name[name]["dir"]), "prompt_label": template})
            chosen = variants[task.prompt_text(messages)]["runs"]
            rendering_stats[row_id] = {"runs": sum(v["runs"] for v in variants.values()),
                                       "chosen_runs": chosen, "variants": len(variants)}
    if not rows:
        raise DataError(f"split {split_name}: no case can run here ({excluded})")
    return rows, excluded, rendering_stats


def prepare(params):
    """All rows for one recipe: {"train": [...], "validation": [...], "test": [...]}, sources, stats."""
    root = source_root(params["source"])
    cases_by_name = {c["name"]: c for c in iter_cases(root)}
    templates = params["prompt_templates"]
    if not isinstance(templates, (list, tuple)) or not templates or not all(isinstance(t, str) for t in templates):
        raise DataError(f"slingshot.prompt_templates: expected a list of template names, got {templates!r}")
    full, renderings, runs_per_case = load_runs(root)
    known_templates = {label for _, label in renderings}
    unknown = sorted(set(templates) - known_templates)
    if unknown:
        raise DataError(f"slingshot.prompt_templates: unknown template(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(known_templates))}")
    train_cases = task.case_list(params["train_cases"], cases_by_name, "slingshot.train_cases")
    top_n = _count(params["top_n_per_case"], "slingshot.top_n_per_case")
    for key in ("train_size", "validation_size"):  # their form, before the leaderboard's runs are read
        parse_size(params[key], None, f"slingshot.{key}", task.SIZE_FORMS[key])
    if not isinstance(params["seed"], int):
        raise DataError(f"slingshot.seed: expected an integer, got {params['seed']!r}")

    pool, dropped = ranked_pool(full, train_cases, set(templates))
    empty = [c for c in train_cases if not pool[c]]
    if len(empty) == len(train_cases):
        raise DataError(f"slingshot.train_cases: no full-score conversation for {', '.join(empty)}")
    train, validation = split_train_validation(pool, top_n, params["train_size"], params["validation_size"],
                                               params["seed"])
    unrunnable = runnable_cases(cases_by_name.values())
    test, excluded, rendering_stats = test_rows(params["test_split"], cases_by_name, renderings, unrunnable)

    rows = {"train": [training_row(c) for c in train], "validation": [training_row(c) for c in validation],
            "test": test}
    per_case = {c: {"stored_runs": runs_per_case.get(c, 0), "full_score": len(pool[c]) + dropped[c],
                    "duplicates_dropped": dropped[c], "train": 0, "validation": 0} for c in train_cases}
    for split in ("train", "validation"):
        for row in rows[split]:
            per_case[row["case"]][split] += 1
    stats = {
        "train_cases": train_cases,
        "train_cases_without_full_score": empty,
        "test_cases": sorted({r["case"] for r in test}),
        "test_cases_excluded": excluded,
        "runnable_check": "done" if unrunnable is not None else "skipped: no julia found, every case kept",
        "prompt_templates": {"train": sorted({r["prompt_label"] for r in rows["train"]}),
                             "test": list(task.TEST_SPLITS[params["test_split"]]["templates"])},
        "models": dict(sorted(Counter(r["model"] for r in rows["train"]).items())),
        "per_case": per_case,
        "test_prompt_renderings": rendering_stats,
        "ranking": "full score only; per case by answer length in characters, then model, template, timestamp",
    }
    if params["source"] == "local":
        sources = {"leaderboard": {"source": display_path(TARBALL), "sha256": expected_tarball_sha256()}}
    else:
        sources = {"leaderboard": {"source": str(root), "files": _folder_fingerprint(root)}}
    return rows, sources, stats
