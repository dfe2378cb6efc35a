"""Which split file a command means: a split name (dev-200, or squad/dev-200) or a path to a split JSONL.

A shared split, data/<task>/test/<split>.jsonl, is data prep's: it is used only while its bytes are the
ones data prep recorded in <split>.manifest.json beside it (sha256 and size); otherwise `eval run` and
`eval report` refuse it with the command that rebuilds it. A split given as a path elsewhere (a user's
own JSONL) may be run, and reports say its runs were not scored on a data-prep split. A report finds the
split a store was scored on from the store's task and split name, here, never from a path the store names.
"""
import json
from pathlib import Path

from eval.format import one_line
from slingshot.errors import UserError
from slingshot.io import checked_file, sha256_file
from slingshot.layout import DATA_DIR, display_path, split_of, test_split_manifest_path, test_split_path

SPLIT_MAX_BYTES = 1 << 30  # a split is read whole; no task's split comes near this
MANIFEST_MAX_BYTES = 1 << 20
ANY_SIZE = 1 << 62


def resolve_split(split, task=None):
    path = Path(split)
    if path.suffix == ".jsonl":
        return path
    if "/" in split:
        task, split = split.split("/", 1)
    if task is None:
        candidates = sorted(DATA_DIR.glob(f"*/test/{split}.jsonl"))
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise FileNotFoundError(f"split {split!r} not found under data/*/test/; "
                                    f"run `make prepare` for a recipe that uses it")
        raise UserError(f"split {split!r} exists for several tasks; write <task>/{split}")
    return test_split_path(task, split)


def shared_split(path):
    """(task, split name) when `path` is a shared split, data/<task>/test/<split>.jsonl; else None."""
    task, name = split_of(path)
    shared = test_split_path(task, name)
    if Path(path).suffix == ".jsonl" and Path(path).resolve() == shared.resolve():
        return task, name
    return None


def rebuild_hint(task, name, manifest=None):
    recipe = (manifest or {}).get("recipe")
    if not (isinstance(recipe, str) and recipe):
        recipe = f"<a recipe of task {task} whose test_split is {name}>"
    recipe = one_line(recipe)
    return f"rebuild it with `make prepare RECIPE={recipe}` (or `python -m data_prep {recipe}`)"


def read_manifest(task, name):
    """Data prep's record of the split (task, name), or None when there is none."""
    path = test_split_manifest_path(task, name)
    if not path.exists() and not path.is_symlink():
        return None
    checked_file(path, "a split manifest", MANIFEST_MAX_BYTES)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{display_path(path)}: not valid JSON ({e}); {rebuild_hint(task, name)}") from None
    if not (isinstance(manifest, dict) and isinstance(manifest.get("sha256"), str)
            and isinstance(manifest.get("bytes"), int)):
        raise UserError(f"{display_path(path)}: not a split manifest (needs sha256 and bytes); "
                        f"{rebuild_hint(task, name)}")
    return manifest


def check_against_manifest(path, task, name):
    """The manifest of the shared split at `path` when its bytes are the ones it records; UserError
    (with the command that rebuilds it) when there is no manifest or the bytes differ."""
    manifest = read_manifest(task, name)
    shown = display_path(path)
    if manifest is None:
        missing = display_path(test_split_manifest_path(task, name))
        raise UserError(f"{shown}: a shared split with no manifest ({missing} is missing): data prep did not "
                        f"write it, or wrote it before splits had one; {rebuild_hint(task, name)}")
    size = checked_file(path, "the split", ANY_SIZE)  # its size is compared with the manifest's before any read
    if size == manifest["bytes"] and size > SPLIT_MAX_BYTES:
        checked_file(path, "the split", SPLIT_MAX_BYTES)
    if size != manifest["bytes"] or sha256_file(path) != manifest["sha256"]:
        raise UserError(f"{shown}: the split's bytes are not the ones data prep wrote (its manifest records "
                        f"{manifest['bytes']:,} bytes, sha256 {manifest['sha256'][:12]}...): it was changed by "
                        f"hand or by another tool; {rebuild_hint(task, name, manifest)}")
    return manifest


def check_split_file(path):
    """Before `eval run` reads a split: a shared one must match its manifest (returned); any split
    must be a regular file of a sane size. None for a user's own split (not a data-prep split)."""
    found = shared_split(path)
    if found is not None and (Path(path).exists() or Path(path).is_symlink()):
        return check_against_manifest(path, *found)
    if Path(path).exists() or Path(path).is_symlink():
        checked_file(path, "the split", SPLIT_MAX_BYTES)
    return None


def data_prep_split(task, name):
    """(path, manifest) of data prep's split (task, name) in this workspace, its bytes checked against
    the manifest (UserError when they differ); None when data prep has not built it here."""
    path = test_split_path(task, name)
    if not path.exists() and not path.is_symlink():
        return None
    return path, check_against_manifest(path, task, name)
