"""Questions/s of the base model at 0 and 3 shots, with and without shared-prefix KV reuse.

    python bench/fewshot_prefix.py [--split dev-200] [--n 100] [--shots 3]

Every few-shot prompt starts with the same system prompt and examples; the local backend runs
that prefix once per run and starts each batch from its KV cache. Writes
bench/results/fewshot_prefix.{json,md}; also checks that answers with reuse equal those without.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.splits import resolve_split  # noqa: E402
from eval.backends.local import LocalBackend  # noqa: E402
from eval.run import load_split  # noqa: E402
from slingshot.layout import split_of  # noqa: E402
from slingshot.tasks import get_task  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def measure(backend, items, reuse, max_new_tokens):
    backend.reuse_prefix = reuse
    answers = {}
    started = time.perf_counter()
    backend.generate(items, max_new_tokens, lambda i, g: answers.__setitem__(i, g))
    wall = time.perf_counter() - started
    return {"questions_per_s": len(items) / wall, "wall_s": wall,
            "prompt_tokens": sum(g.tokens_in for g in answers.values()) / len(items),
            "shared_prefix_tokens": backend.prefix_stats["tokens"] if reuse else 0}, \
        {i: g.text for i, g in answers.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev-200")
    parser.add_argument("--n", type=int, default=None, help="first N questions (default: all)")
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    path = resolve_split(args.split)
    rows = load_split(path, args.n)
    task = get_task(split_of(path)[0])
    backend = LocalBackend("models/smollm2-135m-instruct")
    shots = task.few_shot_examples(args.shots)
    results = []
    for k in (0, args.shots):
        items = [(r["id"], task.with_shots(r["messages"], shots if k else [])) for r in rows]
        answers = {}
        for reuse in (True, False):
            row, answers[reuse] = measure(backend, items, reuse, args.max_new_tokens)
            results.append({"shots": k, "prefix_reuse": reuse, **row})
            print(results[-1], flush=True)
        results[-1]["answers_equal_with_reuse"] = results[-2]["answers_equal_with_reuse"] = \
            answers[True] == answers[False]
    RESULTS.mkdir(exist_ok=True)
    out = {"split": args.split, "n": len(rows), "threads": backend.info()["threads"], "results": results}
    (RESULTS / "fewshot_prefix.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"# Few-shot prefix reuse ({args.split}, {len(rows)} questions, SmolLM2-135M fp32)", "",
             "| shots | prefix reuse | questions/s | prompt tokens | shared prefix tokens | answers equal |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['shots']} | {r['prefix_reuse']} | {r['questions_per_s']:.2f} | {r['prompt_tokens']:.0f} "
              f"| {r['shared_prefix_tokens']} | {r['answers_equal_with_reuse']} |" for r in results]
    (RESULTS / "fewshot_prefix.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
