"""The Julia-LLM-Leaderboard's own recorded results, as reference runs beside the tuned model.

    stores = reference_runs("data/julia/test/all-cases.jsonl")   # one finished run folder per model
    python -m eval leaderboard data/julia/test/all-cases.jsonl [--model gpt-4-1106-preview ...]

The runs' backend is LeaderboardRecords: no model is built or called, its cost is the recorded one,
and its scores are the task's leaderboard-mode scores.

No model is called. For each reference model and each (case, template) of the split, the
prediction row holds the mean of the leaderboard points stored in that model's evaluation files
(25 parsed + 25 executed + 25 x unit tests passed + 25 x examples run), over every stored sample.
Those points come from the leaderboard's harness of the day, not from this repo's sandbox, so
each run's meta note counts the samples recorded before the harness fixes of 2024-02-01 and
2024-08-12. Cost and tokens are the recorded ones; throughput is unknown.
"""
from collections import defaultdict
from pathlib import Path

from eval.backends.base import Backend, register
from eval.format import Column, markdown_table
from eval.run import EvalError, load_split, prompt_hash, split_task
from eval.store import RESULTS_DIR, RunStore, now
from slingshot.io import sha256_file, stable_hash
from slingshot.layout import display_path, resolve
from slingshot.metrics.julia.cases import iter_stored_runs
from slingshot.metrics.julia.score import NEW_FUNCTION_RULES, SNIPPETS_ESCAPED
from slingshot.tasks import TASKS, get_task
from slingshot.tasks import julia as task

# Names as the evaluation files' `model` field spells them. gpt-4-1106-preview is the GPT-4 the
# Cheater-7B write-up compared with; the open models are the best-scoring ones with full coverage.
DEFAULT_MODELS = (
    "gpt-4-1106-preview",
    "gpt-4-0125-preview",
    "gpt-4-turbo-2024-04-09",
    "gpt-4o-2024-08-06",
    "gpt-3.5-turbo-0125",
    "claude-3-opus-20240229",
    "claude-3-5-sonnet-20240620",
    "meta-llama/Llama-3-70b-chat-hf",
    "mistralai/Mixtral-8x22B-Instruct-v0.1",
    "codestral-2405",
)
SCORING = "leaderboard-stored-points-v1"  # bump when the points or the row fields change
RECORDS_NOTE = (
    "Models marked (leaderboard record) were not run here: each prompt's score is the mean of the "
    "Julia-LLM-Leaderboard's stored evaluations of that model's sampled answers, scored by the "
    "leaderboard's harness when they were recorded (cost as it recorded it, no timing). Answers "
    "recorded before 2024-08-12 went through a harness that pasted examples and tests into string "
    "literals, which broke some runs; the base and tuned models are scored by this repo's sandbox "
    "without those bugs.")


@register
class LeaderboardRecords(Backend):
    """The leaderboard's stored answers of one model: built by reference_runs, never by `eval run`."""
    PREFIX, NAME, SPEC = "leaderboard", "leaderboard", "<model> (written by python -m eval leaderboard)"
    BUILT_BY_RUN = False
    RECORDED_SCORING = "leaderboard"

    @classmethod
    def reference_runs(cls, split_path, **options):
        """The finished run folders of the leaderboard's models on a split (a task's REFERENCE_BACKEND)."""
        return reference_runs(split_path, **options)

    @classmethod
    def cost(cls, meta, predictions, prices):
        return recorded_cost(meta)

    @classmethod
    def report_fields(cls, meta):
        return {"leaderboard": {k: meta.get(k) for k in ("n_samples", "recorded", "harness", "note")}}

    @classmethod
    def report_lines(cls, report):
        records = [m for m in report["models"] if m.get("leaderboard")]
        if not records:
            return []
        columns = [Column("Model", lambda m: m["name"]),
                   Column("stored answers", lambda m: m["leaderboard"]["n_samples"]),
                   Column("recorded", lambda m: "{first} to {last}".format(**m["leaderboard"]["recorded"])),
                   Column("before 2024-02-01", lambda m: m["leaderboard"]["harness"]["before_20240201"]),
                   Column("before 2024-08-12", lambda m: m["leaderboard"]["harness"]["before_20240812"]),
                   Column("given this split's exact prompt", lambda m: m["leaderboard"]["recorded"]["n_same_prompt"])]
        return ["", "## Leaderboard records", "", RECORDS_NOTE, ""] + markdown_table(columns, records)


def recorded_cost(meta):
    """The cost the leaderboard's harness stored per answer, at the prices of the day. Its answers
    were not generated here, so throughput is unknown."""
    from eval.cost import empty_cost

    usage = meta.get("usage") or {}
    recorded = meta.get("recorded_cost") or {}
    n_priced = recorded.get("n_answers") or 0
    out = empty_cost(meta.get("n_samples"), usage.get("tokens_in"), usage.get("tokens_out"), None)
    if not n_priced:
        out["note"] = "the leaderboard recorded no cost for these answers"
        return out
    out["usd_total"] = recorded["usd_total"]
    out["usd_per_1k_answers"] = recorded["usd_total"] / n_priced * 1000
    out["basis"] = "recorded"
    out["price"] = {"recorded_usd": recorded["usd_total"], "recorded_answers": n_priced,
                    "unpriced_answers": recorded.get("n_unpriced", 0)}
    return out


def run_label(model):
    return f"{model} (leaderboard record)"


def stored_points(evaluation, where):
    """The leaderboard's points (0..100) of one stored evaluation; a count of 0 drops its part,
    as slingshot.metrics.julia.score does for live answers."""
    values = {}
    for key in ("parsed", "executed", "unit_tests_passed", "unit_tests_count", "examples_executed", "examples_count"):
        value = evaluation.get(key)
        if not isinstance(value, (bool, int, float)):
            raise EvalError(f"{where}: key {key!r} must be a number or boolean, got {value!r}")
        values[key] = float(value)
    parts = [values["parsed"], values["executed"]]
    for done, count in (("unit_tests_passed", "unit_tests_count"), ("examples_executed", "examples_count")):
        if values[count]:
            parts.append(values[done] / values[count])
    return 100.0 * sum(parts) / len(parts)


def _number(evaluation, key, where):
    value = evaluation.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EvalError(f"{where}: key {key!r} must be a number, got {value!r}")
    return float(value)


def _sample(run, row):
    where = run["evaluation_path"]
    evaluation = run["evaluation"]
    tokens = evaluation.get("tokens")
    if not (isinstance(tokens, list) and len(tokens) == 2 and all(isinstance(t, (int, float)) for t in tokens)):
        raise EvalError(f"{where}: key 'tokens' must be [prompt tokens, generated tokens], got {tokens!r}")
    try:
        prompt = task.prompt_text(task.to_chat(run["conversation"]))
    except ValueError as e:
        raise EvalError(f"{run['conversation_path']}: {e}") from None
    return {"score": stored_points(evaluation, where), "tokens_in": tokens[0], "tokens_out": tokens[1],
            "cost": _number(evaluation, "cost", where), "elapsed_s": _number(evaluation, "elapsed_seconds", where),
            "date": "".join(c for c in run["timestamp"] if c.isdigit())[:8],
            "same_prompt": prompt == task.prompt_text(row["messages"])}


def collect_samples(rows, case_dirs, models):
    """{model: {row id: [sample, ...]}} from the stored runs of the split's cases."""
    row_of = {(row["case"], row["prompt_label"]): row for row in rows}
    samples = defaultdict(lambda: defaultdict(list))
    for case, case_dir in sorted(case_dirs.items()):
        for run in iter_stored_runs(case_dir.parents[1], case=case):
            model = run["evaluation"].get("model") or run["model"]
            row = row_of.get((case, run["prompt_label"]))
            if model in models and row is not None:
                samples[model][row["id"]].append(_sample(run, row))
    return samples


def source_fingerprint(case_dirs):
    """Names and sizes of the stored evaluation files of the split's cases: changes when runs are added."""
    files = sorted((str(p.relative_to(d.parents[1])), p.stat().st_size)
                   for d in case_dirs.values() for p in d.rglob("evaluation__*.json"))
    return stable_hash(files, length=16)


def _mean(values):
    return sum(values) / len(values)


def build_run(model, identity, rows, by_id):
    """(meta, prediction rows) of one reference model."""
    predictions, everything = [], []
    for row in rows:
        samples = by_id.get(row["id"])
        if not samples:
            continue
        everything += samples
        predictions.append({
            "id": row["id"], "prompt_hash": prompt_hash(row["messages"]),
            "case": row["case"], "prompt_label": row["prompt_label"],
            "tokens_in": round(_mean([s["tokens_in"] for s in samples]), 1),
            "tokens_out": round(_mean([s["tokens_out"] for s in samples]), 1),
            "n_same_prompt": sum(s["same_prompt"] for s in samples),
            "metrics": {"score": _mean([s["score"] for s in samples]), "n_samples": len(samples)},
        })
    dates = sorted(s["date"] for s in everything)
    first, last = (f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in (dates[0], dates[-1]))
    priced = [s["cost"] for s in everything if s["cost"] > 0]
    before_names = sum(d < NEW_FUNCTION_RULES for d in dates)
    before_snippets = sum(d < SNIPPETS_ESCAPED for d in dates)
    same = sum(s["same_prompt"] for s in everything)
    note = (f"Not run here: the Julia-LLM-Leaderboard's stored evaluations of {model}, {len(everything)} "
            f"sampled answers to {len(predictions)} of the {len(rows)} prompts (recorded {first} to "
            f"{last}), each prompt's score the mean of its samples. Scored by the leaderboard's harness "
            f"of the time: {before_names} of the answers were recorded before 2024-02-01 (older "
            f"function-name rules) and {before_snippets} before 2024-08-12 (examples and tests pasted "
            f"into string literals, which broke some runs); the base and tuned models are scored by this "
            f"repo's sandbox without those bugs. {same} of the answers were given this split's exact "
            f"prompt, the others another rendering of the same template.")
    meta = {
        "key": identity["key"], "label": run_label(model), **{k: v for k, v in identity.items() if k != "key"},
        "adapter": None, "n_expected": len(rows), "status": "done", "started": now(), "finished": now(),
        "wall_s": None, "device": "leaderboard record", "hardware": None, "usd_per_hour": None,
        "usage": {"tokens_in": sum(s["tokens_in"] for s in everything),
                  "tokens_out": sum(s["tokens_out"] for s in everything)},
        "n_samples": len(everything),
        "recorded_cost": {"usd_total": sum(priced), "n_answers": len(priced),
                          "n_unpriced": len(everything) - len(priced)},
        "recorded_elapsed_s": round(sum(s["elapsed_s"] for s in everything), 3),
        "recorded": {"first": first, "last": last, "n_same_prompt": same},
        "harness": {"before_20240201": before_names, "before_20240812": before_snippets},
        "note": note,
    }
    return meta, predictions


def reference_runs(split_path, models=None, results_dir=RESULTS_DIR, limit=None, quiet=True):
    """One finished run folder per reference model with stored samples for the split; returns
    their RunStores. A folder already written for the same split and stored data is reused."""
    split_path = Path(split_path)
    task_name, split_name = split_task(split_path)
    if task_name not in TASKS or get_task(task_name) is not task:
        raise EvalError(f"{split_path}: leaderboard references exist only for Julia splits (data/julia/test/)")
    rows = load_split(split_path, limit)
    if limit is not None:
        split_name = f"{split_name}:first-{limit}"
    for lineno, row in enumerate(rows, 1):
        for key in ("case", "case_dir", "prompt_label"):
            if not isinstance(row.get(key), str):
                raise EvalError(f"{split_path}: row {lineno} ({row['id']}): missing key {key!r}")
    case_dirs = {row["case"]: resolve(row["case_dir"]) for row in rows}
    for case, case_dir in case_dirs.items():
        if not (case_dir / "definition.toml").is_file():
            raise EvalError(f"{split_path}: case {case}: {display_path(case_dir)} holds no definition.toml; "
                            f"run `make prepare` again")
    explicit = models is not None
    models = list(dict.fromkeys(models if explicit else DEFAULT_MODELS))
    base_identity = {"backend": LeaderboardRecords.NAME, "task": task_name, "split": split_name,
                     "split_sha256": sha256_file(split_path), "prompt_version": task.PROMPT_VERSION,
                     "scoring": SCORING, "source": source_fingerprint(case_dirs)}
    stores, todo = {}, {}
    for model in models:
        identity = {**base_identity, "model": model}
        store = RunStore.for_identity(identity, run_label(model), results_dir)
        if store.exists() and store.read_meta().get("status") == "done":
            stores[model] = store
        else:
            todo[model] = (store, {**identity, "key": store.folder.name.rsplit("-", 1)[-1]})
    if todo:
        samples = collect_samples(rows, case_dirs, set(todo))
        missing = [m for m in todo if not samples.get(m)]
        if explicit and missing:
            raise EvalError(f"no stored leaderboard run of {', '.join(map(repr, missing))} for the prompts of "
                            f"{split_path}; model names are the evaluation files' `model` field "
                            f"(e.g. {DEFAULT_MODELS[0]})")
        for model, (store, identity) in todo.items():
            if model in missing:
                continue
            meta, predictions = build_run(model, identity, rows, samples[model])
            store.write_complete(meta, predictions)
            stores[model] = store
            if not quiet:
                print(f"{meta['label']}: {len(predictions)} prompts, {meta['n_samples']} stored answers -> "
                      f"{display_path(store.folder)}")
    return [stores[m] for m in models if m in stores]
