"""Tasks: each task is declared once, in its own module here, behind the interface below.

Adding a task: write slingshot/tasks/<task>.py defining the names of INTERFACE, its data builder
data_prep/<task>.py (prepare(params) -> (rows, sources, stats), source_fingerprint(params)), a recipe
under recipes/<task>/, and add one line to TASKS. get_task checks the module against INTERFACE when it
is first loaded; nothing outside the task's two modules branches on its name (tests/slingshot/test_tasks.py).
"""
import copy
import importlib
from dataclasses import dataclass

from slingshot.errors import UserError
from slingshot.tasks.chat import chat, insert_shots, prompt_of, prompt_text, turns, user_messages  # noqa: F401
from slingshot.tasks.sizes import FORMS, parse_size, size_problem  # noqa: F401

# The registry: one line per task, the name its recipes give as `slingshot.task`.
TASKS = (
    "squad",  # SQuAD v1.1 extractive QA, scored by exact match and F1
    "julia",  # Julia code generation, scored by the Julia-LLM-Leaderboard's test cases
    "dates",  # date normalization to ISO 8601, generated offline from a seed
)


class TaskError(UserError):
    """A task module that does not define the interface; the message names the module and the name."""


@dataclass(frozen=True)
class Name:
    kind: str       # one of KINDS
    meaning: str
    default: object = None
    required: bool = True


def _optional(kind, meaning, default):
    return Name(kind, meaning, default, required=False)


# Everything a task module defines. Optional names get their default when the module is loaded.
INTERFACE = {
    # prompts
    "PROMPT_VERSION": Name("str", "bumped whenever prompts change: stored predictions are keyed by it"),
    "few_shot_examples": Name("function", "(k, seed) -> k training rows (id, messages) shown as worked examples"),
    "with_shots": Name("function", "(messages, shots) -> a test row's messages with the worked examples"),
    "extract_answer": Name("function", "(raw model output) -> the answer that is scored"),
    # data, sizes and recipe keys
    "TEST_SPLITS": Name("dict", "held-out split name -> spec with a 'description'; recipes name one"),
    "RECIPE_DEFAULTS": Name("dict", "the task's `slingshot:` keys with their defaults (source, train_size, "
                                    "validation_size, seed, test_split and the task's own)"),
    "SOURCES": Name("tuple", "what `source:` may name: 'local' (carried or generated), 'hub', 'folder'"),
    "SIZE_FORMS": Name("dict", "train_size and validation_size -> the forms they take: 'count', 'percent', 'all'"),
    "RECIPE_VALUE_CHECKS": _optional("dict", "the task's own recipe keys -> (check(value) -> problem or None, "
                                             "an example value), checked when a recipe is read", {}),
    "planned_train_rows": Name("function", "(recipe params) -> training rows data prep will write, for `plan`"),
    "TOKENS_PER_ROW": Name("int", "mean tokens of a training row, for `plan`"),
    # scoring and the report
    "EVAL_DEFAULTS": Name("dict", "eval settings: max_new_tokens, shots (the base model's few-shot row)"),
    "METRICS": Name("dict", "report columns: metric name -> label, the first primary; scores are 0..100"),
    "BINARY_METRICS": Name("set", "metrics that are 0 or 100 per example (tested with exact McNemar)"),
    "SECONDARY_METRICS": _optional("tuple", "other 0..100 scores a prediction carries", ()),
    "RESCORED_IN_REPORTS": Name("bool", "whether `eval report` scores stored answers again (cheap scoring)"),
    "score": Name("function", "(test row, answer) -> {metric: 0..100, ...}"),
    "REFERENCE_BACKEND": Name("str or None", "the eval backend (by its registered name) whose recorded runs "
                                            "of a split join the task's reports"),
    "REPORT_COLUMNS": _optional("dict", "the report's task-specific columns: {'group_by': the row field of the "
                                        "per-case table, 'scoring_modes': {mode: (metrics key, label)}, "
                                        "'scoring_modes_note': that table's explanation}", {}),
    # contamination
    "CONTAMINATION_CHECKS": Name("str", "what the contamination check compares, for its statement"),
    "contamination_overlap": Name("function", "(train rows, test rows, affected ids) -> "
                                              "(overlap entries, affected ids, extra result fields)"),
    "contamination_statement": Name("function or None", "(result, names) -> the task's wording, or None"),
    # the results viewer (eval.viewer)
    "VIEW_VERDICTS": Name("tuple", "labels of the verdicts shown per answer"),
    "view_example": Name("function", "(test row) -> {question, context, gold, optional group and variant}"),
    "view_answer": Name("function", "(prediction, meta) -> {answer, verdicts (VIEW_VERDICTS order), detail}"),
}

KINDS = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "set": lambda v: isinstance(v, (set, frozenset)),
    "tuple": lambda v: isinstance(v, tuple),
    "function": callable,
    "function or None": lambda v: v is None or callable(v),
    "str or None": lambda v: v is None or isinstance(v, str),
}
COMMON_RECIPE_KEYS = ("source", "train_size", "validation_size", "seed", "test_split")
SIZE_KEYS = ("train_size", "validation_size")
SOURCE_KINDS = ("local", "hub", "folder")

_loaded = {}


def get_task(name):
    """The checked module of a registered task."""
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    if name not in _loaded:
        _loaded[name] = check_task(importlib.import_module(f"slingshot.tasks.{name}"))
    return _loaded[name]


def check_task(module):
    """The module, checked against INTERFACE (optional names filled in); TaskError names what is wrong."""
    where = f"{module.__name__.replace('.', '/')}.py"
    for name, spec in INTERFACE.items():
        if not hasattr(module, name):
            if spec.required:
                raise TaskError(f"{where}: missing {name} ({spec.kind}: {spec.meaning}); every task module "
                                f"defines the names listed in slingshot/tasks/__init__.py INTERFACE")
            setattr(module, name, copy.copy(spec.default))
        value = getattr(module, name)
        if not KINDS[spec.kind](value):
            raise TaskError(f"{where}: {name} is {type(value).__name__} {value!r:.80}; expected {spec.kind} "
                            f"({spec.meaning})")
    problem = next(_consistency_problems(module), None)
    if problem:
        raise TaskError(f"{where}: {problem}")
    return module


def _consistency_problems(task):
    """What the names say about each other: defaults, metrics and size forms that fit together."""
    missing = [k for k in COMMON_RECIPE_KEYS if k not in task.RECIPE_DEFAULTS]
    if missing:
        yield f"RECIPE_DEFAULTS lacks {', '.join(missing)} (every task's recipes have them)"
    elif task.RECIPE_DEFAULTS["test_split"] not in task.TEST_SPLITS:
        yield f"RECIPE_DEFAULTS test_split {task.RECIPE_DEFAULTS['test_split']!r} is not in TEST_SPLITS"
    if not task.METRICS:
        yield "METRICS must name at least one metric (the first is the report's primary one)"
    stray = sorted(set(task.BINARY_METRICS) - set(task.METRICS))
    if stray:
        yield f"BINARY_METRICS names {', '.join(stray)}, which METRICS does not"
    if set(task.SIZE_FORMS) != set(SIZE_KEYS) or any(
            not isinstance(f, tuple) or not f or not set(f) <= set(FORMS) for f in task.SIZE_FORMS.values()):
        yield f"SIZE_FORMS must map {' and '.join(SIZE_KEYS)} to tuples of {', '.join(map(repr, FORMS))}"
    if "local" not in task.SOURCES or not set(task.SOURCES) <= set(SOURCE_KINDS):
        yield f"SOURCES must hold 'local' (what test splits are built from) and only {', '.join(map(repr, SOURCE_KINDS))}"
    if not {"max_new_tokens", "shots"} <= set(task.EVAL_DEFAULTS):
        yield "EVAL_DEFAULTS must give max_new_tokens and shots"


def report_columns(task):
    """A task module's REPORT_COLUMNS ({} when it declares none: the default get_task fills in)."""
    return getattr(task, "REPORT_COLUMNS", {})
