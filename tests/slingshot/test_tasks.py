"""Every task is declared once, in slingshot/tasks/<task>.py, behind the checked INTERFACE; nothing else
in the code branches on a task's name, and one size parser serves the recipe check, data prep and plan."""
import ast
import types

import pytest

from slingshot.errors import DataError
from slingshot.recipe import RecipeError, load_recipe
from slingshot.tasks import INTERFACE, TASKS, TaskError, check_task, get_task, parse_size
from tests.helpers import ROOT, write_recipe

SCANNED = ("slingshot", "eval", "data_prep/__main__.py", "data_prep/prepare.py", "bench")


def scanned_files():
    own = {ROOT / "slingshot" / "tasks" / "__init__.py"} | {ROOT / "slingshot" / "tasks" / f"{t}.py" for t in TASKS}
    for name in SCANNED:
        path = ROOT / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if file not in own:
                yield file


def task_of_scorer(file):
    """The task whose own scorer a file is (slingshot/metrics/<task>/... or <task>.py), else None."""
    parts = file.relative_to(ROOT / "slingshot" / "metrics").parts if file.is_relative_to(
        ROOT / "slingshot" / "metrics") else ()
    return parts[0].removesuffix(".py") if parts else None


def task_names_in(file):
    """(line, name) of every string constant equal to a registered task name: a comparison with one, a
    default, a dict key. A task's scorer may name its own task (the Julia scorer runs `julia`)."""
    allowed = task_of_scorer(file)
    tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in TASKS and node.value != allowed]


def test_nothing_outside_a_task_module_names_a_task():
    found = [f"{file.relative_to(ROOT)}:{line}: {name!r}" for file in scanned_files()
             for line, name in task_names_in(file)]
    assert not found, ("task names outside slingshot/tasks/<task>.py and data_prep/<task>.py (declare what "
                       "differs in the task module instead):\n" + "\n".join(found))


def test_the_scan_finds_a_task_name(tmp_path):
    """The scan is not vacuous: a comparison with a task name is found, with its line."""
    file = tmp_path / "branching.py"
    file.write_text(f"x = 1\nif task == {TASKS[-1]!r}:\n    pass\n")
    assert task_names_in(file) == [(2, TASKS[-1])]


@pytest.mark.parametrize("name", TASKS)
def test_every_registered_task_meets_the_interface(name):
    task = get_task(name)
    for attribute in INTERFACE:
        assert hasattr(task, attribute)
    assert (ROOT / "data_prep" / f"{name}.py").is_file()
    assert list(ROOT.glob(f"recipes/{name}/*/*.yml")), f"no recipe of task {name}"


def module_like(name, drop=(), **changes):
    """A module with the names of a registered task, some dropped or changed."""
    module = types.ModuleType(f"slingshot.tasks.{name}")
    source = get_task("dates")
    for attribute in INTERFACE:
        if attribute not in drop:
            setattr(module, attribute, getattr(source, attribute))
    for attribute, value in changes.items():
        setattr(module, attribute, value)
    return module


def test_a_module_missing_a_name_fails_naming_module_and_name():
    with pytest.raises(TaskError, match=r"^slingshot/tasks/broken\.py: missing score \(function: .*INTERFACE"):
        check_task(module_like("broken", drop=("score",)))


@pytest.mark.parametrize("name, value, message", [
    ("METRICS", ["exact_match"], r"METRICS is list \['exact_match'\]; expected dict"),
    ("TOKENS_PER_ROW", True, r"TOKENS_PER_ROW is bool True; expected int"),
    ("view_answer", "not a function", r"view_answer is str .*; expected function"),
    ("BINARY_METRICS", {"f1"}, r"BINARY_METRICS names f1, which METRICS does not"),
    ("SIZE_FORMS", {"train_size": ("count", "percentage")}, r"SIZE_FORMS must map train_size and validation_size"),
    ("METRICS", {}, r"METRICS must name at least one metric"),
    ("SOURCES", ("hub",), r"SOURCES must hold 'local'"),
    ("RECIPE_DEFAULTS", {"source": "local"}, r"RECIPE_DEFAULTS lacks train_size, validation_size, seed, test_split"),
])
def test_a_wrongly_typed_name_fails_naming_it(name, value, message):
    with pytest.raises(TaskError, match=r"^slingshot/tasks/broken\.py: " + message):
        check_task(module_like("broken", **{name: value}))


def test_optional_names_get_their_default():
    module = check_task(module_like("minimal", drop=("SECONDARY_METRICS", "RECIPE_VALUE_CHECKS")))
    assert module.SECONDARY_METRICS == () and module.RECIPE_VALUE_CHECKS == {}


def test_an_unknown_task_in_a_recipe_names_the_known_ones(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown task 'gsm8k'; known tasks: " + ", ".join(TASKS)):
        load_recipe(write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(task="gsm8k")))


@pytest.mark.parametrize("name", TASKS)
def test_a_recipe_named_like_a_task_is_refused(tmp_path, name):
    """data/<task>/ holds the task's shared test splits, so no recipe may take a task's name."""
    with pytest.raises(RecipeError, match=f"a recipe named '{name}' would own a folder every recipe shares"):
        load_recipe(write_recipe(tmp_path, name=f"{name}.yml"))


# ---------- one size parser ----------

@pytest.mark.parametrize("size, forms, total, expected", [
    ("all", ("count", "all"), 50, 50),
    ("all", ("count", "all"), None, None),       # the recipe check: the source is not read yet
    ("10%", ("count", "percent", "all"), 50, 5),
    ("10%", ("count", "percent", "all"), None, None),
    (7, ("count",), 50, 7),
    (7, ("count",), None, 7),
])
def test_parse_size(size, forms, total, expected):
    assert parse_size(size, total, "slingshot.train_size", forms) == expected


@pytest.mark.parametrize("size, forms, total, message", [
    ("10%", ("count", "all"), 50, r"slingshot.train_size: expected a count >= 1 or 'all', got '10%'"),
    (0, ("count",), 50, r"slingshot.train_size: expected a count >= 1, got 0"),
    (True, ("count",), 50, r"expected a count >= 1, got True"),
    ("150%", ("count", "percent", "all"), 50, r"'150%': a percentage must be a number above 0 and at most 100"),
    ("1%", ("count", "percent", "all"), 20, r"'1%' selects no example of the source \(20 rows\)"),
    (60, ("count",), 50, r"60 asks for 60 rows, but the source holds only 50"),
])
def test_parse_size_refuses(size, forms, total, message):
    with pytest.raises(DataError, match=message):
        parse_size(size, total, "slingshot.train_size", forms)


@pytest.mark.parametrize("name", TASKS)
def test_the_recipe_check_uses_each_tasks_size_forms(tmp_path, name):
    """A percentage is a size only for tasks whose SIZE_FORMS allow one; the error names file and line."""
    recipe_file = next(ROOT.glob(f"recipes/{name}/*/*.yml"))
    path = write_recipe(tmp_path, base=recipe_file, edit=lambda c: c["slingshot"].update(train_size="4%"))
    if "percent" in get_task(name).SIZE_FORMS["train_size"]:
        assert load_recipe(path).params()["train_size"] == "4%"
    else:
        with pytest.raises(RecipeError, match=rf"{path}:\d+: slingshot.train_size: expected a count >= 1 or 'all'"):
            load_recipe(path)
