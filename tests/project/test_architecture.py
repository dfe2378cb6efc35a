"""The house is one-way: no import circle (imports inside functions and modules named in strings count), no
arrow up a floor or across to the other group of a floor, no `__main__` block or argument parser below the commands,
and docs/layout.md draws the floors as the code has them. Each rule is shown failing on a small made-up tree."""
import ast

import pytest

from slingshot import architecture
from slingshot.architecture import (ALLOWED_HIDDEN, PROCESS_STARTS, arrows, circles, drawing, hidden_imports, place,
                                    source_files, wrong_way)
from slingshot.layout import ROOT

FOUND = arrows()


def test_there_is_no_import_circle():
    found = circles(FOUND)
    assert not found, "import circles (move what the modules share to a module below them): " + "; ".join(
        " <-> ".join(circle) for circle in found)


def test_every_arrow_goes_down_a_floor_or_stays_in_its_group():
    found = wrong_way(FOUND)
    assert not found, "arrows against the floors of slingshot/architecture.py: " + "; ".join(found)


def test_every_file_is_on_a_floor_and_every_process_start_is_real():
    for path in source_files():
        place(path)
    stale = [pair for pair in PROCESS_STARTS if FOUND.get(pair) != "string"]
    assert not stale, f"PROCESS_STARTS entries the code no longer has: {stale}"


def test_every_import_is_an_arrow_but_the_listed_few():
    hidden = {h.split(":")[0] + ": " + h.split(" ")[1].removesuffix("()") for h in hidden_imports()}
    assert hidden <= set(ALLOWED_HIDDEN), "imports no arrow can be drawn for (name the module as a string, or " \
        "list it in ALLOWED_HIDDEN with why): " + "; ".join(sorted(hidden - set(ALLOWED_HIDDEN)))
    assert set(ALLOWED_HIDDEN) <= hidden, f"stale ALLOWED_HIDDEN entries: {set(ALLOWED_HIDDEN) - hidden}"


def test_hidden_imports_are_found():
    made_up = {"pkg/a.py": "import importlib, runpy\nname = 'pkg.b'\nimportlib.import_module(name)\n"
                           "__import__(name)\nrunpy.run_module(mod_name=name)\nexec('import pkg.b')\n"
                           "importlib.import_module('pkg.b')\nimportlib.import_module(f'pkg.{name}')\n"
                           "from importlib import import_module as im\nrunpy.run_path('pkg/b.py')\n"}
    found = hidden_imports(list(made_up), read=made_up.__getitem__)
    assert sorted(f.split(" ", 1)[1] for f in found) == sorted([
        "import_module() of a module named at run time", "__import__() of a module named at run time",
        "run_module() of a module named at run time", "exec() of code", "import_module() under another name",
        "run_path() of a module named at run time"])


def library_files():
    return [p for p in source_files() if place(p)[0] > 0]


def test_library_modules_hold_no_command_line():
    found = []
    for path in library_files():
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
                found.append(f"{path}:{node.lineno} has a __main__ block")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("ArgumentParser"):
                found.append(f"{path}:{node.lineno} builds an ArgumentParser")
    assert not found, "command lines belong in <package>/commands/ or __main__.py: " + "; ".join(found)


def test_docs_layout_draws_the_floors_the_code_has():
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    start, end = "<!-- floors: python -m slingshot layers --write -->\n```\n", "\n```\n<!-- /floors -->"
    assert start in text and end in text, "docs/layout.md lost its generated floors block"
    drawn = text.split(start, 1)[1].split(end, 1)[0]
    assert drawn == drawing(), "docs/layout.md is stale: run `python -m slingshot layers --write`"


# ---------- the rules fail where they should ----------

FLOORS = ({"commands": ["pkg/__main__.py"]}, {"left": ["pkg/left*"], "right": ["pkg/right*"]}, {"low": ["pkg/*"]})
MADE_UP = {
    "pkg/__init__.py": "",
    "pkg/__main__.py": "from pkg import left\n",
    "pkg/left.py": "import pkg.low\n",
    "pkg/right.py": "def f():\n    from pkg import left\n",          # across the floor, inside a function
    "pkg/low.py": "def f():\n    from pkg.low2 import g\n",
    "pkg/low2.py": "RUN = ['python', '-m', 'pkg.low']\n",             # a circle through a -m string
    "pkg/low3.py": "HOOK = 'pkg.low4:go'\n",                         # a circle through a module:function string
    "pkg/low4.py": "import importlib\ndef f(n):\n    return importlib.import_module(f'pkg.{n}')\n",  # any of pkg
    "pkg/low5.py": "CMD = ['python', '-m', 'pkg']\n",                  # up to the commands: a library starting one
}


@pytest.fixture
def made_up(monkeypatch):
    monkeypatch.setattr(architecture, "PACKAGES", ("pkg",))
    return arrows(list(MADE_UP), read=MADE_UP.__getitem__)


def test_imports_inside_functions_and_every_kind_of_string_are_arrows(made_up):
    assert made_up[("pkg/right.py", "pkg/left.py")] == "import"
    assert made_up[("pkg/low2.py", "pkg/low.py")] == "string"
    assert made_up[("pkg/low3.py", "pkg/low4.py")] == "string"
    assert {t for (s, t) in made_up if s == "pkg/low4.py"} >= {"pkg/low.py", "pkg/low3.py", "pkg/low5.py"}
    assert made_up[("pkg/low5.py", "pkg/__main__.py")] == "string"


def test_circles_are_found_through_functions_and_strings(made_up):
    assert sorted(circles(made_up, process_starts={})) == [["pkg/low.py", "pkg/low2.py"],
                                                           ["pkg/low3.py", "pkg/low4.py"]]


def test_arrows_up_or_across_are_named_and_a_declared_process_start_is_allowed(made_up, monkeypatch):
    monkeypatch.setattr(architecture, "FLOORS", FLOORS)
    bad = wrong_way(made_up, FLOORS, process_starts={})
    assert "pkg/right.py -> pkg/left.py (import; right must not use left)" in bad
    assert "pkg/low5.py -> pkg/__main__.py (string; low must not use commands)" in bad
    assert "pkg/left.py -> pkg/low.py" not in " ".join(bad)
    declared = {("pkg/low5.py", "pkg/__main__.py"): "its own process"}
    assert not [b for b in wrong_way(made_up, FLOORS, declared) if b.startswith("pkg/low5.py")]
