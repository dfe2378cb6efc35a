"""tests/ mirrors the source tree: a unit test of <pkg>/<sub>/<name>.py is tests/<pkg>/<sub>/test_<name>.py and
imports that module; every other test file is end to end (tests/e2e/), hostile (tests/hostile/) or project-wide
(tests/project/); tests share code only through tests.helpers. Each rule is shown failing on made-up paths."""
import ast
from pathlib import Path

from slingshot.layout import ROOT

PACKAGES = ("slingshot", "eval", "data_prep")
OWN_FOLDERS = ("tests/e2e/", "tests/hostile/", "tests/project/")


def mirror(source):
    """slingshot/tasks/chat.py -> tests/slingshot/tasks/test_chat.py; a package's __init__.py is tested beside
    its folder (eval/backends/__init__.py -> tests/eval/test_backends.py), a top package's in its own folder
    (eval/__init__.py -> tests/eval/test_eval.py); a __main__.py by test_main.py."""
    *folder, name = source[:-len(".py")].split("/")
    if name == "__init__":
        name = folder[-1]
        folder = folder[:-1] or folder
    return "/".join(["tests", *folder, f"test_{name.strip('_')}.py"])


def module_name(source):
    """slingshot/tasks/chat.py -> slingshot.tasks.chat; eval/backends/__init__.py -> eval.backends."""
    parts = source[:-len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree, path):
    """Every dotted name an import (at any depth: in functions too) brings in; relative ones resolved."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            package = path.split("/")[:-1][: len(path.split("/")) - node.level] if node.level else []
            base = ".".join(package + ([node.module] if node.module else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def holds_code(tree):
    """Whether a module does more than hold a docstring and imports."""
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    return any(not isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)


def misplaced(test_files, sources):
    """Test files that neither mirror a source module nor live in tests/e2e, tests/hostile or tests/project."""
    mirrors = {mirror(s) for s in sources}
    return [t for t in test_files if t not in mirrors and not t.startswith(OWN_FOLDERS)]


def untested(sources, test_files, read):
    """Source modules with code whose mirrored test file is missing or never imports the module."""
    found = []
    for source in sources:
        if source.endswith("__init__.py") and not holds_code(ast.parse(read(source))):
            continue
        test = mirror(source)
        if test not in test_files:
            found.append(f"{source}: no {test}")
        elif module_name(source) not in imported(ast.parse(read(test)), test):
            found.append(f"{source}: {test} never imports {module_name(source)}")
    return found


def borrowed(files, read):
    """Imports of conftest or of a test file (tests.helpers is where tests share code)."""
    found = []
    for path in files:
        for name in imported(ast.parse(read(path)), path):
            parts = name.split(".")
            bad = [i for i, part in enumerate(parts) if part == "conftest" or part.startswith("test_")]
            if parts[0] == "tests" and bad:
                found.append(f"{path} imports {'.'.join(parts[:bad[0] + 1])}")
    return list(dict.fromkeys(found))


def listing(*folders):
    return sorted(p.relative_to(ROOT).as_posix() for folder in folders for p in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def read(path):
    return (ROOT / path).read_text(encoding="utf-8")


SOURCES = listing(*PACKAGES)
TEST_FILES = [p for p in listing("tests") if Path(p).name.startswith("test_")]


def test_every_test_file_mirrors_a_source_module_or_has_a_named_folder():
    found = misplaced(TEST_FILES, SOURCES)
    assert not found, ("test files that mirror no source module (a unit test of <pkg>/<sub>/<name>.py is "
                       "tests/<pkg>/<sub>/test_<name>.py; others go in tests/e2e, tests/hostile or tests/project): "
                       + ", ".join(found))


def test_every_source_module_has_its_own_test_that_imports_it():
    found = untested(SOURCES, set(TEST_FILES), read)
    assert not found, "source modules without a test of their own: " + "; ".join(found)


def test_tests_share_code_only_through_tests_helpers():
    found = borrowed(listing("tests"), read)
    assert not found, "import shared code from tests.helpers, never from conftest or a test file: " + "; ".join(found)


# ---------- the rules fail where they should ----------

MADE_UP_SOURCES = ["pkg/__init__.py", "pkg/__main__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py",
                   "pkg/sub/c.py", "pkg/empty/__init__.py"]
MADE_UP = {
    "pkg/__init__.py": '"""Only a docstring and imports."""\nimport os\n',
    "pkg/__main__.py": "COMMANDS = {}\n",
    "pkg/a.py": "A = 1\n",
    "pkg/sub/__init__.py": "REGISTRY = {}\n",
    "pkg/sub/b.py": "B = 2\n",
    "pkg/sub/c.py": "C = 3\n",
    "pkg/empty/__init__.py": "",
    "tests/pkg/test_main.py": "def test():\n    from pkg.__main__ import COMMANDS\n",     # inside a function
    "tests/pkg/test_a.py": "from pkg import a\n",
    "tests/pkg/test_sub.py": "import pkg.sub.b\n",                 # imports b, not the package it mirrors
    "tests/pkg/sub/test_b.py": "from pkg.sub.b import B\nfrom tests.helpers import ROOT\n",
    "tests/pkg/sub/test_gone.py": "from tests.conftest import x\n",  # mirrors nothing; imports conftest
    "tests/pkg/test_pkg.py": "from . import test_a\n",              # mirrors pkg/__init__.py; imports a test
    "tests/misc/test_x.py": "from tests.pkg.sub import test_b\n",
    "tests/e2e/test_all.py": "from tests.helpers.servers import serve\n",
}


def test_mirror_and_module_name():
    assert mirror("slingshot/tasks/chat.py") == "tests/slingshot/tasks/test_chat.py"
    assert mirror("eval/backends/__init__.py") == "tests/eval/test_backends.py"
    assert mirror("eval/__main__.py") == "tests/eval/test_main.py"
    assert mirror("eval/__init__.py") == "tests/eval/test_eval.py"
    assert module_name("eval/backends/__init__.py") == "eval.backends"
    assert module_name("eval/__main__.py") == "eval.__main__"


def test_misplaced_names_test_files_that_mirror_nothing():
    tests = [p for p in MADE_UP if p.startswith("tests/")]
    assert misplaced(tests, MADE_UP_SOURCES) == ["tests/pkg/sub/test_gone.py", "tests/misc/test_x.py"]


def test_untested_names_missing_tests_and_tests_that_do_not_import_their_module():
    tests = {p for p in MADE_UP if p.startswith("tests/")}
    assert untested(MADE_UP_SOURCES, tests, MADE_UP.__getitem__) == [
        "pkg/sub/__init__.py: tests/pkg/test_sub.py never imports pkg.sub",
        "pkg/sub/c.py: no tests/pkg/sub/test_c.py"]


def test_borrowed_names_imports_of_conftest_and_of_test_files():
    tests = [p for p in MADE_UP if p.startswith("tests/")]
    assert borrowed(tests, MADE_UP.__getitem__) == [
        "tests/pkg/sub/test_gone.py imports tests.conftest",
        "tests/pkg/test_pkg.py imports tests.pkg.test_a",
        "tests/misc/test_x.py imports tests.pkg.sub.test_b"]
