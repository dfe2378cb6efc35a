"""The code's shape, read from its syntax trees: backends are known only in eval/backends/, functions and
files stay short. (Which way the packages depend: tests/project/test_architecture.py.)"""
import ast


from slingshot.layout import ROOT

MAX_FUNCTION_LINES = 60
# Functions that may stay longer, each with why. Keep this short: split a function rather than add it.
LONG_FUNCTIONS = {}


def python_files(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path, node):
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def docstrings(module):
    """The string nodes that are docstrings: documentation, not code that branches on anything."""
    nodes = [module] + [n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                        ast.ClassDef))]
    return {id(n.body[0].value) for n in nodes
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def spec_prefix_literals(source, name, prefixes):
    """(name:line, text) of every string in code that starts with a backend's spec prefix ("hf:"), or
    is a bare prefix or backend name compared against (kind == "hf", kind in ("hf", "openai"))."""
    module = ast.parse(source)
    skip = docstrings(module)
    compared = {id(c) for n in ast.walk(module) if isinstance(n, ast.Compare)
                for side in [n.left, *n.comparators]
                for c in ([side] + (list(side.elts) if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else []))}
    return [(f"{name}:{node.lineno}", node.value) for node in ast.walk(module)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and (any(node.value.startswith(p + ":") for p in prefixes)
                 or (id(node) in compared and node.value in prefixes))]


def test_no_backend_is_named_outside_eval_backends():
    from eval.backends import registry

    backends = registry().values()
    prefixes = {b.PREFIX for b in backends} | {b.NAME for b in backends}
    found = [hit for path in python_files("eval") if "backends" not in path.relative_to(ROOT).parts
             for hit in spec_prefix_literals(path.read_text(encoding="utf-8"), path.relative_to(ROOT), prefixes)]
    assert not found, ("backend spec prefixes or names outside eval/backends/ (ask the backend's class "
                       "instead): " + "; ".join(f"{w}: {t!r}" for w, t in found))


def test_the_scan_finds_prefix_branches_and_skips_docstrings():
    # The check above means something only while it can fail.
    source = ('"""hf: in a docstring is documentation."""\n'
              'def pick(spec, meta):\n'
              '    if spec.startswith("openai:"):\n'
              '        return 1\n'
              '    return meta.get("backend") in ("hf", "llama.cpp")\n')
    hits = spec_prefix_literals(source, "probe.py", {"hf", "openai", "llama.cpp"})
    assert sorted(hits) == [("probe.py:3", "openai:"), ("probe.py:5", "hf"), ("probe.py:5", "llama.cpp")]


def long_functions():
    for path in python_files("slingshot", "eval", "data_prep"):
        for node in ast.walk(tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                name = f"{path.relative_to(ROOT)}:{node.name}"
                if lines > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS:
                    yield f"{where(path, node)} {node.name}() is {lines} lines"


def test_no_function_is_longer_than_sixty_lines():
    found = list(long_functions())
    assert not found, (f"functions over {MAX_FUNCTION_LINES} lines (split them into named steps): "
                       + "; ".join(found))


MAX_FILE_LINES = 450


def test_no_source_file_is_longer_than_450_lines():
    found = [f"{path.relative_to(ROOT)} is {n} lines" for path in python_files("slingshot", "eval", "data_prep")
             if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES]
    assert not found, f"source files over {MAX_FILE_LINES} lines (split them by job): " + "; ".join(found)
