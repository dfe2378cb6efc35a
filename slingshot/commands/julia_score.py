"""python -m slingshot julia-score CASE_DIR ANSWER_FILE [--mode leaderboard|corrected] [--timestamp T]

Scores one markdown answer against one Julia-LLM-Leaderboard case folder in the sandbox and prints
one line of JSON."""
import argparse
import json
import sys
from pathlib import Path

from slingshot.errors import UserError, cli
from slingshot.io import checked_file

MAX_ANSWER_BYTES = 1 << 20  # a model's answer is a few kB; the scorer extracts from at most this
HELP = "score one markdown answer against one Julia case folder (one line of JSON)"
KEYS = ("parsed", "executed", "unit_tests_passed", "unit_tests_count", "examples_executed",
        "examples_count", "score", "skipped", "reason", "mode", "timestamp", "timeouts", "errors", "forged")


@cli
def main(argv=None):
    from slingshot.metrics.julia.sandbox import JuliaNotFound
    from slingshot.metrics.julia.score import MODES, score_answer

    parser = argparse.ArgumentParser(prog="python -m slingshot julia-score", description=HELP)
    parser.add_argument("case_dir", help="folder with definition.toml")
    parser.add_argument("answer_file", help="markdown answer (use - for stdin)")
    parser.add_argument("--mode", choices=MODES, default="corrected")
    parser.add_argument("--timestamp", help="run timestamp (YYYYMMDD...), picks the harness version in leaderboard mode")
    parser.add_argument("--weak-sandbox", action="store_true",
                        help="score even when the machine cannot build the whole sandbox (less confinement)")
    args = parser.parse_args(argv)
    if not Path(args.case_dir).is_dir():
        raise UserError(f"{args.case_dir}: not a case folder (a folder holding definition.toml)")
    try:
        if args.answer_file == "-":
            answer = sys.stdin.read(MAX_ANSWER_BYTES + 1)
        else:
            checked_file(args.answer_file, "the answer", MAX_ANSWER_BYTES)  # a FIFO or /dev/zero never ends
            answer = Path(args.answer_file).read_text(encoding="utf-8")
        if len(answer) > MAX_ANSWER_BYTES:
            raise UserError(f"{args.answer_file}: the answer is longer than {MAX_ANSWER_BYTES:,} characters")
    except UnicodeDecodeError as e:
        raise UserError(f"{args.answer_file}: the answer is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        result = score_answer(args.case_dir, answer, mode=args.mode, timestamp=args.timestamp,
                              allow_weak_sandbox=args.weak_sandbox or None)
    except (ValueError, JuliaNotFound) as e:
        raise UserError(str(e)) from None
    print(json.dumps({k: result[k] for k in KEYS if k in result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
