"""The house's floors, read from the code: every file-level import (at the top of a module or inside a function),
every module named in a string ("pkg.module", "pkg.module:function", or after "-m" in a command list), the
layers those arrows must respect, and the drawing of them docs/layout.md shows.

A floor may use the floors below it and its own group; two groups on one floor (eval and data_prep) never use
each other. Imports no arrow can be drawn for (exec of code, import_module of a variable) are named by
hidden_imports, and the architecture test allows only the ones ALLOWED_HIDDEN lists. A module's import of
pkg.sub.mod is an arrow to that module only, not to the package __init__.py files Python runs first: those
hold registries that import their members lazily, by name. A library module may start a process that runs a command (a training's ranks, the sandbox's
inside) only where PROCESS_STARTS says why: that arrow is a process boundary, not an import, so it is
left out of the circle search; every other arrow, strings included, is in it.
"""
import ast
import fnmatch
from pathlib import Path

from slingshot.layout import ROOT

PACKAGES = ("slingshot", "eval", "data_prep")
TOOLS = ("scripts", "bench")
# Floors from the top; each floor is {group: file patterns}. The first pattern that matches a file wins.
FLOORS = (
    {"commands": ["*/__main__.py", "slingshot/commands/*", "eval/commands/*", "scripts/*", "bench/*"]},
    {"eval": ["eval/*"], "data_prep": ["data_prep/*"]},
    {"slingshot": ["slingshot/*"]},
    {"tasks and metrics": ["slingshot/tasks/*", "slingshot/metrics/*"]},
    {"foundation": ["slingshot/errors.py", "slingshot/io.py", "slingshot/layout.py", "slingshot/quiet.py",
                    "slingshot/dispatch.py", "slingshot/__init__.py"]},
)
# "file: what" -> why an import no arrow can be drawn for is there
ALLOWED_HIDDEN = {
    "slingshot/dispatch.py: import_module": "the dispatcher imports the command its package's COMMANDS table "
                                             "names (those tables' values are arrows)",
    "slingshot/doctor.py: find_spec": "asks whether the third-party packages a recipe needs are installed",
}
# (library file, command file it starts as a process): why the process boundary buys something
PROCESS_STARTS = {
    ("slingshot/train.py", "slingshot/__main__.py"):
        "torchrun starts each CPU rank as `python -m slingshot cpu-rank` (one process per rank)",
    ("slingshot/metrics/julia/process.py", "slingshot/__main__.py"):
        "the sandbox's first process (`python -m slingshot julia-exec`) runs in new namespaces and builds the "
        "sandbox from inside, before it runs the sample",
}


def source_files(root=ROOT):
    files = [p for name in PACKAGES + TOOLS for p in sorted((root / name).rglob("*.py"))]
    return [p.relative_to(root).as_posix() for p in files if "__pycache__" not in p.parts]


def module_file(name, files):
    """The file of a dotted module name (a package's __init__.py), or None if it is not the project's."""
    parts = name.split(".")
    for candidate in ("/".join(parts) + ".py", "/".join(parts) + "/__init__.py"):
        if candidate in files:
            return candidate
    return None


def named_files(name, files):
    """The files a module name in a string means: `-m package` runs its __main__.py; "package.*" (a name
    built at run time under a package) may be any module directly in that package."""
    if name.endswith(".*"):
        folder = name[:-2].replace(".", "/") + "/"
        return [f for f in files if f.startswith(folder) and "/" not in f[len(folder):]
                and not f.endswith(("__init__.py", "__main__.py"))]
    target = module_file(f"{name}.__main__", files) or module_file(name, files)
    return [target] if target else []


def _imported(node, path, files):
    """The project files an import node brings in: `from package import submodule` is the submodule, `from
    module import name` the module (a package: its __init__.py), `import a.b` the module a.b."""
    if isinstance(node, ast.Import):
        return [module_file(alias.name, files) for alias in node.names]
    if node.level:
        package = Path(path).parent.parts[: len(Path(path).parent.parts) - node.level + 1]
        base = ".".join(package + ((node.module,) if node.module else ()))
    else:
        base = node.module or ""
    return [module_file(f"{base}.{alias.name}", files) or module_file(base, files) for alias in node.names]


def _called(call):
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)


def _string_names(tree):
    """Module names in strings where code uses them as modules: after "-m" in a command list, as
    "pkg.module:function", as a dict's values (a table of commands), or given to import_module (an f-string
    "pkg.sub.{name}" may be any module of pkg.sub). A plain "pkg.word" elsewhere is text (a recipe key)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else None for e in node.elts]
            found += [items[i + 1] for i, item in enumerate(items[:-1]) if item == "-m" and items[i + 1]]
        elif isinstance(node, ast.Dict):
            found += [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
                      and _dotted(v.value)]
        elif isinstance(node, ast.Call) and _called(node) in DYNAMIC_IMPORTS and _first_argument(node):
            name = _first_argument(node)
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.append(name.value)
            elif isinstance(name, ast.JoinedStr) and name.values and isinstance(name.values[0], ast.Constant):
                prefix = str(name.values[0].value)
                if prefix.endswith(".") and prefix.split(".")[0] in PACKAGES:
                    found.append(prefix + "*")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
            module, _, function = node.value.partition(":")
            if _dotted(module) and function.isidentifier():
                found.append(module)
    return found


DYNAMIC_IMPORTS = ("import_module", "__import__", "run_module", "find_spec")
UNFOLLOWED = ("run_path", "resolve_name", "spec_from_file_location")  # a module by path or resolved name: never drawn


def _first_argument(call):
    return call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in ("name", "mod_name")), None)


def hidden_imports(files=None, read=lambda path: (ROOT / path).read_text(encoding="utf-8")):
    """Imports no arrow can be drawn for: exec/eval of code, or a dynamic import whose module is neither a
    string nor an f-string "pkg.sub.{...}" (a variable, a call). ["file:line what"]."""
    found = []
    for path in files if files is not None else source_files():
        for node in ast.walk(ast.parse(read(path), filename=path)):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                    a.asname and (a.name in DYNAMIC_IMPORTS or a.name in ("importlib", "runpy")) for a in node.names):
                found.append(f"{path}:{node.lineno} import_module() under another name")
            if not isinstance(node, ast.Call):
                continue
            called, name = _called(node), _first_argument(node)
            if called in ("exec", "eval") and isinstance(node.func, ast.Name):
                found.append(f"{path}:{node.lineno} {called}() of code")
            elif called in UNFOLLOWED or (called == "getattr" and any(
                    isinstance(a, ast.Constant) and a.value in DYNAMIC_IMPORTS for a in node.args)):
                found.append(f"{path}:{node.lineno} {called}() of a module named at run time")
            elif called in DYNAMIC_IMPORTS and not (
                    isinstance(name, ast.Constant) or (isinstance(name, ast.JoinedStr) and name.values
                                                       and isinstance(name.values[0], ast.Constant))):
                found.append(f"{path}:{node.lineno} {called}() of a module named at run time")
    return found


def _dotted(text):
    return text.split(".")[0] in PACKAGES and "." in text and all(part.isidentifier() for part in text.split("."))


def arrows(files=None, read=lambda path: (ROOT / path).read_text(encoding="utf-8")):
    """{(from file, to file): "import" or "string"} between the project's own files."""
    files = files if files is not None else source_files()
    found = {}
    for path in files:
        tree = ast.parse(read(path), filename=path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(node, path, files):
                    if target and target != path:
                        found.setdefault((path, target), "import")
        for name in _string_names(tree):
            for target in named_files(name, files):
                if target != path:
                    found.setdefault((path, target), "string")
    return found


def place(path, floors=FLOORS):
    """(floor number, group) of a file: 0 is the top floor."""
    matches = [(len(pattern), number, group) for number, floor in enumerate(floors) for group, patterns in floor.items()
               for pattern in patterns if fnmatch.fnmatch(path, pattern)]
    if not matches:
        raise ValueError(f"{path}: on no floor of slingshot/architecture.py FLOORS")
    _, number, group = max(matches)  # the most specific pattern wins
    return number, group


def wrong_way(found, floors=FLOORS, process_starts=PROCESS_STARTS):
    """Arrows that go up a floor or across to another group of the same floor (declared process starts aside)."""
    bad = []
    for (source, target), kind in sorted(found.items()):
        (up, group), (down, target_group) = place(source, floors), place(target, floors)
        if (source, target) in process_starts:
            continue
        if down < up or (down == up and group != target_group):
            bad.append(f"{source} -> {target} ({kind}; {group} must not use {target_group})")
    return bad


def circles(found, process_starts=PROCESS_STARTS):
    """Every import circle (as a list of files), arrows named in strings included, process starts excluded."""
    graph = {}
    for (source, target) in found:
        if (source, target) not in process_starts:
            graph.setdefault(source, set()).add(target)
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node):  # Tarjan's strongly connected components, iteratively deep enough for this graph
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def first_line(path, width=84):
    doc = ast.get_docstring(ast.parse((ROOT / path).read_text(encoding="utf-8"))) or ""
    line = doc.strip().split("\n")[0].strip().strip("`")
    return line if len(line) <= width else line[:width - 3] + "..."


def drawing(files=None):
    """The floors and their modules, top floor first, each module with its docstring's first line."""
    files = files if files is not None else source_files()
    lines = []
    for number, floor in enumerate(FLOORS):
        for group in floor:
            members = [p for p in files if place(p) == (number, group) and not p.startswith(TOOLS)]
            lines.append(f"floor {number + 1}: {group} ({len(members)} modules)")
            lines += [f"    {p:38} {first_line(p)}".rstrip() for p in members]
    lines.append(f"(scripts/ and bench/ stand on the commands' floor: {len([p for p in files if p.startswith(TOOLS)])} "
                 f"scripts and benchmarks, not listed)")
    return "\n".join(lines)
