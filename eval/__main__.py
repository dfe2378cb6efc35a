"""Score models on held-out splits, compare runs, serve a model. Each command is a module of eval/commands/.

    python -m eval run --model hf:models/smollm2-135m-instruct [--adapter runs/<run>] --split dev-200
    python -m eval run --model openai:gpt-4o-mini --split dev-200 [--shots 3]  # needs OPENAI_API_KEY
    python -m eval run --model openai:<name> --base-url http://localhost:8000/v1 --split dev-200
    python -m eval recipe RECIPE             # base and tuned model of a recipe, then the report
    python -m eval sweep RECIPE --sweep "train_size=32,64,128 lora_r=8,32 seed=0,1"
    python -m eval report RESULT_DIR... [--baseline LABEL]... [--out DIR] [--prices FILE]
    python -m eval serve --model hf:... [--adapter runs/<run>] [--port 8000]
"""
from slingshot.dispatch import dispatch

COMMANDS = {
    "run": "eval.commands.run",
    "recipe": "eval.commands.recipe",
    "sweep": "eval.commands.sweep",
    "report": "eval.commands.report",
    "compare": "eval.commands.compare",
    "serve": "eval.commands.serve",
    "exports": "eval.commands.exports",
    "leaderboard": "eval.commands.leaderboard",
    "cost": "eval.commands.cost",
    "measurements": "eval.commands.measurements",
    "evaluate-v1.1": "eval.commands.official_squad",
}


def main(argv=None):
    return dispatch("python -m eval", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
