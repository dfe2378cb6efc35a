"""Reading a recipe's YAML: every key's line kept; duplicate keys and alias bombs are errors, not
silent surprises; `1e-4` is a number, as YAML 1.2 and every other reader says."""
import re

import yaml

from slingshot.recipe.core import RecipeError

MAX_YAML_VALUES = 100_000  # a recipe holds a few hundred; aliases may not expand beyond this


class RecipeLoader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `1e-4` and `5e-5` (no dot) are text, not numbers: Axolotl would get
    learning_rate '1e-4'. Here they are numbers, as YAML 1.2 and every other reader says."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def yaml_value(text):
    """One value written as in a recipe (a --sweep value): `1e-4` is a number, as in a recipe file."""
    return yaml.load(text, Loader=RecipeLoader)


MAX_RECIPE_BYTES = 1 << 20


def read_yaml_mapping(path):
    """(config, lines) of a recipe file. lines maps every key, nested ones included
    ('slingshot.eval.shots', 'datasets[0].path'), to its line. Checked on the node graph before any
    value is built: a key given twice, or aliases expanding past MAX_YAML_VALUES, raise RecipeError
    naming the line."""
    if path.stat().st_size > MAX_RECIPE_BYTES:
        raise RecipeError(f"{path}: {path.stat().st_size:,} bytes; a recipe is a few kB of YAML (at most "
                          f"{MAX_RECIPE_BYTES:,} bytes)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise RecipeError(f"{path}:{line}: not UTF-8 text (byte {e.object[e.start]:#x}); save the recipe as UTF-8") from None
    loader = RecipeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, path)
            _check_duplicate_keys(node, path)
        config = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    except RecursionError:
        raise RecipeError(f"{path}: values nested too deeply to read (a recipe nests a few levels)") from None
    finally:
        loader.dispose()
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping of Axolotl keys")
    return config, key_lines(node)


def key_lines(node, prefix="", depth=4):
    """Line of every key down to `depth` levels: {'lora_r': 3, 'slingshot.eval.shots': 60, 'datasets[0].path': 8}."""
    lines = {}
    if depth == 0:
        return lines
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            name = f"{prefix}.{key.value}" if prefix else key.value
            lines.setdefault(name, key.start_mark.line + 1)
            lines.update({k: v for k, v in key_lines(value, name, depth - 1).items() if k not in lines})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(key_lines(item, f"{prefix}[{i}]", depth - 1))
    return lines


def _children(node):
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []


def _check_expansion(root, path):
    """Count the values the document expands to (an alias repeats its anchor's whole subtree)."""
    size = {}
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in size:
            continue
        if expanded:
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_YAML_VALUES:
                raise RecipeError(
                    f"{path}:{node.start_mark.line + 1}: YAML aliases here expand to more than "
                    f"{MAX_YAML_VALUES:,} values; write the values out instead of nesting aliases")
            size[id(node)] = total
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in size)


def _check_duplicate_keys(root, path):
    seen_nodes, stack = set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                if key.value in first:
                    raise RecipeError(f"{path}:{line}: key '{key.value}' is given twice (first at line "
                                      f"{first[key.value]}); YAML would silently keep the later value")
                first[key.value] = line
        stack.extend(_children(node))
