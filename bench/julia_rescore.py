"""Re-score stored Julia-LLM-Leaderboard runs in leaderboard mode and measure agreement with the
stored evaluations, per field and per case; classify every disagreement.

    python bench/julia_rescore.py --sample 2000 --seed 0 --workers 2
    python bench/julia_rescore.py --all

Writes bench/results/julia_rescore.json (every disagreement listed) and julia_rescore.md."""
import argparse
import collections
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slingshot.metrics.julia.cases import iter_cases, iter_stored_runs, leaderboard_root  # noqa: E402
from slingshot.metrics.julia.score import missing_packages, score_many  # noqa: E402
from slingshot.io import atomic_write_json, atomic_write_text  # noqa: E402

FIELDS = ("parsed", "executed", "unit_tests_passed", "examples_executed")
OUT_DIR = Path(__file__).resolve().parent / "results"

# Names that Julia 1.5 lacks (added in 1.6-1.10) and that answers use.
NEWER_JULIA_NAMES = {
    "eachsplit", "chopprefix", "chopsuffix", "Returns", "splat", "stack", "allequal", "allunique",
    "insertdims", "keepat!", "redirect_stdio", "@kwdef", "@something", "something", "ismutabletype",
    "@lock", "Splat", "Fix", "logrange", "@atomic", "@view", "findall", "@compat", "isdisjoint",
    "@invoke", "@inline", "@noinline", "packageversion", "pkgversion", "@timed", "timedwait",
    "@constprop", "@assume_effects", "memoryref", "Memory", "@NamedTuple", "@Kwargs",
}

KINDS = {
    "newer_julia": "The answer uses a function, method or syntax that Julia 1.5 (the version installed "
                   "here) lacks; the leaderboard ran a newer Julia (1.10), where it worked.",
    "parser_difference": "Julia 1.5's parser and the newer one (JuliaSyntax in 1.10) disagree on the text; "
                         "usually newer syntax (e.g. `public`, `@kwdef` defaults, unicode operators).",
    "package_missing": "The answer loads a package that the leaderboard's environment had and this "
                       "machine does not, or a name that is no package at all (`using Regex, String`): "
                       "Julia 1.5 refuses it, the harness evidently did not.",
    "time_limit": "A step hit a time limit: 10 s per step here, 60 s per step in the harness; or "
                  "work that finished there is slower here (2 cores, Julia 1.5).",
    "nondeterminism": "The answer is random or time-dependent (rand, now(), threads), so repeated runs "
                      "differ; also stored runs evaluated in the harness's shared process.",
    "other": "Not classified automatically; see the listed examples.",
}


def classify(stored, ours):
    text = " ".join(ours.get("errors") or [])
    if ours.get("timeouts"):
        return "time_limit"
    if re.search(r"Package \S+ not found|ArgumentError: Package", text):
        return "package_missing"
    names = set(re.findall(r"UndefVarError: (\S+) not defined", text))
    if names & NEWER_JULIA_NAMES or re.search(r"MethodError: no method matching (eachsplit|startswith|endswith|"
                                              r"argmax|argmin|replace|split|findall|findfirst|findnext|count|contains|"
                                              r"occursin|sum|max|min|round|parse|first|last)\b", text):
        return "newer_julia"
    if stored["parsed"] and not ours["parsed"]:
        return "parser_difference"
    if re.search(r"\b(rand|now|today|Threads|@spawn|@threads|time\(\))", text):
        return "nondeterminism"
    return "other"


def collect_runs(root):
    runnable = {}
    for case in iter_cases(root):
        missing = missing_packages(tuple(case["imports"]))
        runnable[case["name"]] = (case, missing)
    runs = [r for r in iter_stored_runs(root) if not runnable[r["case"]][1]]
    skipped = {name: f"needs {', '.join(m)}" for name, (_, m) in runnable.items() if m}
    return runs, {name: case for name, (case, m) in runnable.items() if not m}, skipped


def agreement_table(rows):
    def rate(subset, field):
        return sum(r["agree"][field] for r in subset) / len(subset) if subset else float("nan")

    by_case = collections.defaultdict(list)
    for r in rows:
        by_case[r["case"]].append(r)
    table = {"ALL": {"n": len(rows), **{f: rate(rows, f) for f in FIELDS},
                     "all_fields": sum(all(r["agree"].values()) for r in rows) / max(1, len(rows))}}
    for name in sorted(by_case):
        sub = by_case[name]
        table[name] = {"n": len(sub), **{f: rate(sub, f) for f in FIELDS},
                       "all_fields": sum(all(r["agree"].values()) for r in sub) / len(sub)}
    return table


def write_markdown(path, summary, table, kinds, examples):
    lines = ["# Julia scorer vs stored leaderboard evaluations", "",
             f"Re-scored {summary['n']} stored runs ({summary['selection']}) in `leaderboard` mode with "
             f"Julia {summary['julia_version']} in {summary['elapsed_s']:.0f} s "
             f"({summary['workers']} workers). Sandbox: {summary['sandbox']}.", "",
             "Skipped cases (packages not installed here): " +
             (", ".join(f"{k} ({v})" for k, v in summary["skipped_cases"].items()) or "none"), "",
             "## Agreement per field", "",
             "| case | n | parsed | executed | unit_tests_passed | examples_executed | all fields |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row in table.items():
        lines.append(f"| {name} | {row['n']} | " + " | ".join(f"{100 * row[f]:.1f}%" for f in FIELDS)
                     + f" | {100 * row['all_fields']:.1f}% |")
    lines += ["", f"Mean score: stored {summary['mean_stored']:.2f}, re-scored {summary['mean_ours']:.2f}.", "",
              "## Kinds of disagreement", "",
              "| kind | runs | explanation |", "|---|---:|---|"]
    for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {kind} | {count} | {KINDS[kind]} |")
    lines += ["", "## Examples (up to 5 per kind)", ""]
    for kind, items in examples.items():
        lines.append(f"### {kind}")
        for r in items[:5]:
            diff = ", ".join(f"{f}: stored {r['stored'][f]} vs {r['ours'][f]}" for f in FIELDS if not r["agree"][f])
            err = (r["ours"].get("errors") or [""])[0][:160].replace("|", "\\|")
            lines.append(f"- `{r['conversation']}` ({diff}) {err}")
        lines.append("")
    atomic_write_text(path, "\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--sample", type=int, default=1000, help="number of stored runs to re-score")
    group.add_argument("--all", action="store_true", help="re-score every runnable stored run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)

    root = leaderboard_root()
    runs, cases, skipped = collect_runs(root)
    selection = "all runnable runs" if args.all else f"random sample, seed {args.seed}"
    if not args.all and args.sample < len(runs):
        runs = random.Random(args.seed).sample(runs, args.sample)
    jobs = [{"case": cases[r["case"]], "answer": r["answer"], "mode": "leaderboard",
             "timestamp": r["timestamp"]} for r in runs]
    t0 = time.time()
    results = score_many(jobs, workers=args.workers)
    elapsed = time.time() - t0

    rows = []
    for run, ours in zip(runs, results):
        stored = {f: run["evaluation"][f] for f in FIELDS}
        agree = {f: (bool(stored[f]) == bool(ours[f])) if f in ("parsed", "executed")
                 else int(stored[f]) == int(ours[f]) for f in FIELDS}
        rows.append({"case": run["case"], "conversation": os.path.relpath(run["conversation_path"], root),
                     "timestamp": run["timestamp"], "stored": stored,
                     "stored_score": _score(run["evaluation"]), "ours": {k: ours[k] for k in (
                         *FIELDS, "score", "errors", "timeouts")}, "agree": agree})
    table = agreement_table(rows)
    kinds, examples = collections.Counter(), collections.defaultdict(list)
    for r in rows:
        if not all(r["agree"].values()):
            r["kind"] = classify(r["stored"], r["ours"])
            kinds[r["kind"]] += 1
            examples[r["kind"]].append(r)
    from slingshot.metrics.julia.sandbox import isolation
    import subprocess
    from slingshot.metrics.julia.sandbox import find_julia
    version = subprocess.run([find_julia(), "--version"], capture_output=True, text=True).stdout.split()[-1]
    summary = {"n": len(rows), "selection": selection, "seed": args.seed, "workers": args.workers,
               "elapsed_s": elapsed, "julia_version": version, "skipped_cases": skipped,
               "sandbox": ", ".join(f"{k}={v}" for k, v in isolation().items() if not k.startswith("_")),
               "mean_stored": sum(r["stored_score"] for r in rows) / max(1, len(rows)),
               "mean_ours": sum(r["ours"]["score"] for r in rows) / max(1, len(rows))}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "julia_rescore.json", {
        "summary": summary, "agreement": table, "disagreement_kinds": dict(kinds),
        "kind_explanations": KINDS, "disagreements": [r for r in rows if not all(r["agree"].values())]})
    write_markdown(args.out / "julia_rescore.md", summary, table, kinds, examples)
    for name, row in table.items():
        print(f"{name:24s} n={row['n']:5d} " + " ".join(f"{f}={100 * row[f]:.1f}%" for f in FIELDS)
              + f" all={100 * row['all_fields']:.1f}%")
    print("disagreements:", dict(kinds))
    print("wrote", args.out / "julia_rescore.md")


def _score(ev):
    parts = [float(ev["parsed"]), float(ev["executed"])]
    parts += [ev["unit_tests_passed"] / ev["unit_tests_count"]] if ev["unit_tests_count"] else []
    parts += [ev["examples_executed"] / ev["examples_count"]] if ev["examples_count"] else []
    return 100.0 * sum(parts) / len(parts)


if __name__ == "__main__":
    main()
