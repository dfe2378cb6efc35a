"""Task definitions: each task module owns everything about its task.

A task module defines PROMPT_VERSION, TEST_SPLITS, RECIPE_DEFAULTS, EVAL_DEFAULTS, METRICS (name ->
label, the first one primary), BINARY_METRICS, RESCORED_IN_REPORTS (whether `eval report` scores stored
answers again, when scoring is cheap), optionally SECONDARY_METRICS (other 0..100 scores a prediction
carries), extract_answer(), score(), CONTAMINATION_CHECKS and
contamination_overlap() for the contamination check, and REFERENCE_RUNS (a "module:function" that
writes recorded reference runs for a split, or None). For the report's results viewer (eval.viewer) it
defines VIEW_VERDICTS (labels of the verdicts shown per answer), view_example(row) -> {"question",
"context" (stored once per page), "gold", optional "group" and "variant"} and view_answer(prediction,
meta) -> {"answer", "verdicts" (in VIEW_VERDICTS order, 0..100 or None), "detail"}. Optionally
REPORT_COLUMNS: the report's task-specific columns, {"group_by": the row field of the per-case table,
"scoring_modes": {mode: (metrics key, label)}, "scoring_modes_note": the table's explanation}. Adding a task means
one module here plus its data builder in data_prep/; nothing else branches on a task's name.
"""
import importlib
import math

from slingshot.errors import DataError, UserError

TASKS = ("squad", "julia")


def get_task(name):
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"slingshot.tasks.{name}")


def report_columns(task):
    """A task module's REPORT_COLUMNS, or {} when it has no task-specific report columns."""
    return getattr(task, "REPORT_COLUMNS", {})


def prompt_of(messages):
    """The messages a model is given: everything before the first assistant turn."""
    prompt = []
    for message in messages:
        if message["role"] == "assistant":
            break
        prompt.append(message)
    return prompt


def prompt_text(messages):
    """One string per prompt, for exact comparisons (contamination checks, rendering counts)."""
    return "\n\n".join(f"<{m['role']}>\n{m['content']}" for m in prompt_of(messages))


def user_messages(messages):
    return [m["content"].strip() for m in messages if m["role"] == "user"]


def parse_size(size, total, key):
    """A size given as a count (200), a percentage ("4%") or "all"."""
    if size == "all":
        return total
    if isinstance(size, str) and size.endswith("%"):
        try:
            fraction = float(size[:-1]) / 100
        except ValueError:
            raise DataError(f"{key}: {size!r} is not a percentage") from None
        if not (math.isfinite(fraction) and 0 < fraction <= 1):
            raise DataError(f"{key}: {size!r}: a percentage must be above 0 and at most 100")
        count = round(total * fraction)
    elif isinstance(size, int) and not isinstance(size, bool):
        count = size
    else:
        raise DataError(f"{key}: {size!r} must be a count, a percentage like '4%' or 'all'")
    if count <= 0:
        raise DataError(f"{key}: {size!r} selects no example")
    if count > total:
        raise DataError(f"{key}: {size!r} asks for {count} examples but the source has only {total}")
    return count
