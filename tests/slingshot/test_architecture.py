"""The pieces of the architecture check (tests/project/test_architecture.py runs it on the whole code): module
names to files, floors of files, and the drawing."""
import pytest

from slingshot.architecture import FLOORS, PROCESS_STARTS, drawing, first_line, module_file, named_files, place

FILES = ["pkg/__init__.py", "pkg/__main__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py", "pkg/sub/c.py",
         "pkg/sub/__main__.py", "pkg/sub/deep/d.py"]


def test_module_names_to_files():
    assert module_file("pkg.a", FILES) == "pkg/a.py"
    assert module_file("pkg.sub", FILES) == "pkg/sub/__init__.py"
    assert module_file("pkg.a.name", FILES) is None and module_file("os.path", FILES) is None


def test_named_files_of_a_dash_m_package_and_of_a_wildcard():
    assert named_files("pkg", FILES) == ["pkg/__main__.py"]  # `-m pkg` runs its __main__.py
    assert named_files("pkg.a", FILES) == ["pkg/a.py"]
    assert named_files("pkg.sub.*", FILES) == ["pkg/sub/b.py", "pkg/sub/c.py"]  # not deeper, not __init__/__main__
    assert named_files("pkg.gone", FILES) == []


def test_the_most_specific_floor_pattern_wins():
    assert place("slingshot/__main__.py") == (0, "commands")
    assert place("slingshot/commands/plan.py") == (0, "commands")
    assert place("eval/cost.py") == (1, "eval")
    assert place("slingshot/plan.py") == (2, "slingshot")
    assert place("slingshot/tasks/squad.py") == (3, "tasks and metrics")
    assert place("slingshot/io.py") == (4, "foundation")
    floors = ({"top": ["x/*"]}, {"low": ["x/low.py"]})
    assert place("x/low.py", floors) == (1, "low") and place("x/any.py", floors) == (0, "top")
    with pytest.raises(ValueError, match="on no floor"):
        place("elsewhere/a.py")


def test_process_starts_are_library_to_command_with_a_reason():
    for (source, target), why in PROCESS_STARTS.items():
        assert place(source)[0] > 0 and place(target) == (0, "commands") and why


def test_the_drawing_lists_each_file_on_its_floor_with_its_first_line():
    drawn = drawing(["slingshot/io.py", "eval/cost.py", "scripts/x.py"]).splitlines()
    assert drawn[0] == "floor 1: commands (0 modules)"
    assert "floor 2: eval (1 modules)" in drawn and "floor 2: data_prep (0 modules)" in drawn
    assert any(line.split() == ["slingshot/io.py", *first_line("slingshot/io.py").split()] for line in drawn)
    assert drawn[-1].startswith("(scripts/ and bench/ stand on the commands' floor: 1 scripts")
    assert len([line for line in drawn if line.startswith("floor")]) == sum(len(floor) for floor in FLOORS)
    assert len(first_line("slingshot/io.py", width=10)) == 10
