"""python -m eval compare A B [C ...] [--split SPLIT] [--min-matched 0.95] [--out DIR]: answers from anywhere."""
import argparse
import sys
from pathlib import Path

from slingshot.errors import UserError, cli, finite_number, whole_number

HELP = "compare stores, lm-eval samples, inspect logs or {id, answer} JSONL on one split, scored by our metric"


def share(text):
    value = finite_number(0, above=True)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and at most 1 (0.95 is 95%), got {text}")
    return value


@cli
def main(argv=None):
    from eval.compare import MIN_MATCHED, compare, write_comparison
    from eval.splits import resolve_split
    from eval.stats import N_BOOT, SEED
    from eval.store import RESULTS_DIR, slug

    parser = argparse.ArgumentParser(prog="python -m eval compare", description=HELP)
    parser.add_argument("files", nargs="+", help="prediction stores (results/<split>/<run>/), lm-eval "
                        "samples_<task>_<date>.jsonl, inspect-ai .json logs or JSONL of {id, answer}")
    parser.add_argument("--split", help="the split they answer (dev-200, squad/dev-200 or a .jsonl); "
                        "default: the split of the first prediction store given")
    parser.add_argument("--min-matched", type=share, default=MIN_MATCHED,
                        help=f"refuse a file when less than this share of its rows are questions of the split "
                             f"(default {MIN_MATCHED})")
    parser.add_argument("--out", help="folder for compare.md, compare.json, index.html "
                                      "(default: results/<split>/compare)")
    parser.add_argument("--n-boot", type=whole_number(1), default=N_BOOT, help="bootstrap resamples (>= 1)")
    parser.add_argument("--seed", type=whole_number(0), default=SEED, help="bootstrap seed")
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("name at least two files of answers to compare")
    split = resolve_split(args.split or split_of_first_store(args.files))
    result = compare(args.files, split, args.min_matched, args.n_boot, args.seed)
    out = Path(args.out) if args.out else RESULTS_DIR / slug(result["split"]) / "compare"
    markdown = write_comparison(result, out)
    for f in result["files"]:
        if f["unmatched"]:
            print(f"{f['label']}: {f['unmatched']} of {f['rows']} rows matched no question of the split",
                  file=sys.stderr)
    print(markdown, end="")
    print(f"\nwrote {out / 'compare.md'}, {out / 'compare.json'} and {out / 'index.html'}")
    return 0


def split_of_first_store(files):
    """task/split of the first prediction store among `files` (a folder with meta.json); UserError if none."""
    import json
    for name in files:
        meta = Path(name) / "meta.json"
        if meta.is_file():
            try:
                found = json.loads(meta.read_text(encoding="utf-8"))
                return f"{found['task']}/{str(found['split']).split(':')[0]}"
            except (ValueError, UnicodeDecodeError, KeyError, TypeError):
                raise UserError(f"{meta}: not a store's meta.json (needs task and split)") from None
    raise UserError("no prediction store among the files to take the split from; name it with --split "
                    "(e.g. --split squad/dev-200)")
