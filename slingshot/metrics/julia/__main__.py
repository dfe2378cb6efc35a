"""python -m slingshot.metrics.julia CASE_DIR ANSWER_FILE [--mode leaderboard|corrected] [--timestamp T]

Scores one markdown answer against one case folder and prints one line of JSON."""
import argparse
import json
import sys

from slingshot.metrics.julia.sandbox import JuliaNotFound, SandboxUnavailable, ScorerFailure
from slingshot.metrics.julia.score import MODES, score_answer

KEYS = ("parsed", "executed", "unit_tests_passed", "unit_tests_count", "examples_executed",
        "examples_count", "score", "skipped", "reason", "mode", "timestamp", "timeouts", "errors", "forged")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m slingshot.metrics.julia", description=__doc__.splitlines()[2])
    parser.add_argument("case_dir", help="folder with definition.toml")
    parser.add_argument("answer_file", help="markdown answer (use - for stdin)")
    parser.add_argument("--mode", choices=MODES, default="corrected")
    parser.add_argument("--timestamp", help="run timestamp (YYYYMMDD...), picks the harness version in leaderboard mode")
    parser.add_argument("--weak-sandbox", action="store_true",
                        help="score even when the machine cannot build the whole sandbox (less confinement)")
    args = parser.parse_args(argv)
    try:
        answer = sys.stdin.read() if args.answer_file == "-" else open(args.answer_file, encoding="utf-8").read()
        result = score_answer(args.case_dir, answer, mode=args.mode, timestamp=args.timestamp,
                              allow_weak_sandbox=args.weak_sandbox or None)
    except (FileNotFoundError, ValueError, JuliaNotFound, UnicodeDecodeError, SandboxUnavailable,
            ScorerFailure) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: result[k] for k in KEYS if k in result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
