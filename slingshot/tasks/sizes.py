"""The one parser of train_size and validation_size: a count, a percentage of the source, or 'all'."""
import math

from slingshot.errors import DataError

FORMS = {"count": "a count >= 1", "percent": "a percentage like '4%'", "all": "'all'"}


def size_problem(size, forms, shown=repr):
    """Why `size` is not one of `forms` (a task's SIZE_FORMS entry), or None; the source is not read yet."""
    if size == "all" and "all" in forms:
        return None
    if "percent" in forms and isinstance(size, str) and size.endswith("%"):
        try:
            number = float(size[:-1])
        except ValueError:
            number = math.nan
        if math.isfinite(number) and 0 < number <= 100:
            return None
        return f"{size!r}: a percentage must be a number above 0 and at most 100"
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return None
    named = [FORMS[f] for f in forms]
    either = ", ".join(named[:-1]) + " or " + named[-1] if len(named) > 1 else named[0]
    return f"expected {either}, got {shown(size)}"


def parse_size(size, total, key, forms=tuple(FORMS), source="the source"):
    """A train_size or validation_size in one of a task's SIZE_FORMS: a count (200), a percentage of
    `total` ("4%") or "all" (total). The one parser of the recipe check (size_problem), data prep and
    `plan`; with total None (the source not read yet) a percentage or 'all' gives None."""
    problem = size_problem(size, forms)
    if problem:
        raise DataError(f"{key}: {problem}")
    if size == "all":
        return total
    if total is None:
        return size if isinstance(size, int) else None
    count = round(total * float(size[:-1]) / 100) if isinstance(size, str) else size
    if count < 1:
        raise DataError(f"{key}: {size!r} selects no example of {source} ({total} rows)")
    if count > total:
        raise DataError(f"{key}: {size!r} asks for {count} rows, but {source} holds only {total}")
    return count
