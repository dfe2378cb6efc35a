"""A recipe's training, validation and test JSONL and their manifest (`python -m data_prep RECIPE` runs it).

Outputs go where the recipe's paths say (slingshot.layout.recipe_paths): training and validation
files with manifest.json beside them, the test split to data/<task>/test/<split>.jsonl with
<split>.manifest.json beside it: the split's sha256 and size, the sources (and their sha256) it was
built from, the prompt version and the recipe that rebuilds it. `eval run` and `eval report` find a
task's split by its name and check its bytes against that record (eval.splits), never trusting a
path a store names. Re-running with the same inputs is a no-op; any change of inputs rebuilds everything.
"""
import importlib
import json
import sys
import time

from slingshot import contamination
from slingshot.errors import UserError
from slingshot.io import atomic_write_json, atomic_write_jsonl, sha256_file, stable_hash
from slingshot.layout import display_path, resolve, split_of, test_split_manifest_path
from slingshot.recipe import claim_folders

OUTPUTS = ("train", "validation", "test")


def is_up_to_date(manifest_file, fingerprint):
    if not manifest_file.exists():
        return False
    manifest = json.loads(manifest_file.read_text())
    if manifest.get("fingerprint") != fingerprint or "contamination" not in manifest:
        return False
    if not all(resolve(out["path"]).exists() and sha256_file(resolve(out["path"])) == out["sha256"]
               for out in manifest["outputs"].values()):
        return False
    split_manifest = test_split_manifest_path(*split_of(resolve(manifest["outputs"]["test"]["path"])))
    try:  # a split written before data prep recorded its manifest is rebuilt, so it gets one
        return json.loads(split_manifest.read_text())["sha256"] == manifest["outputs"]["test"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def write_test_split(path, rows, sources, prompt_version, recipe_path, manifest_path=None):
    """The shared test split and its manifest (what eval checks the split's bytes against; beside the split
    in this workspace unless manifest_path says where); returns the manifest."""
    atomic_write_jsonl(path, rows)
    task_name, split = split_of(path)
    recipe = display_path(recipe_path)
    manifest = {"task": task_name, "split": split, "path": display_path(path), "sha256": sha256_file(path),
                "bytes": path.stat().st_size, "rows": len(rows), "prompt_version": prompt_version,
                "sources": sources, "recipe": recipe,
                "rebuild": f"make prepare RECIPE={recipe}"}
    atomic_write_json(manifest_path or test_split_manifest_path(task_name, split), manifest)
    return manifest


BUILDER_NAMES = ("prepare", "source_fingerprint")  # what data_prep/<task>.py defines


def data_builder(task_name):
    """data_prep/<task>.py, checked to define BUILDER_NAMES."""
    module = importlib.import_module(f"data_prep.{task_name}")
    missing = [name for name in BUILDER_NAMES if not callable(getattr(module, name, None))]
    if missing:
        raise UserError(f"data_prep/{task_name}.py: missing {', '.join(missing)}; a task's data builder defines "
                        f"prepare(params) -> (rows, sources, stats) and source_fingerprint(params)")
    return module


def prepare_recipe(recipe, force=False):
    """Write the recipe's data files and manifest; returns the manifest."""
    task = recipe.task
    params = recipe.params()
    paths = {split: recipe.paths[split] for split in OUTPUTS}
    module = data_builder(recipe.block["task"])
    fingerprint = stable_hash({"task": recipe.block["task"], "params": params,
                               "sources": module.source_fingerprint(params),
                               "prompt_version": task.PROMPT_VERSION,
                               "paths": {k: display_path(p) for k, p in paths.items()}})
    manifest_file = recipe.paths["manifest"]
    if not force and is_up_to_date(manifest_file, fingerprint):
        manifest = json.loads(manifest_file.read_text())
        print(f"{display_path(manifest_file)}: up to date")
        print(contamination.contamination_statement(manifest["contamination"]))
        return manifest
    started = time.time()
    rows, sources, stats = module.prepare(params)
    overlap = contamination.check(recipe.block["task"], rows["train"] + rows["validation"], rows["test"])
    claim_folders(recipe)  # before anything is written: fails if another recipe file wrote these folders
    outputs = {}
    for split, path in paths.items():
        if split == "test":
            write_test_split(path, rows[split], sources, task.PROMPT_VERSION, recipe.path)
        else:
            atomic_write_jsonl(path, rows[split])
        outputs[split] = {"path": display_path(path), "rows": len(rows[split]), "sha256": sha256_file(path)}
    manifest = {
        "recipe": display_path(recipe.path), "task": recipe.block["task"], "prompt_version": task.PROMPT_VERSION,
        "params": params, "sources": sources, "outputs": outputs, "stats": stats, "contamination": overlap,
        "fingerprint": fingerprint, "seconds": round(time.time() - started, 2),
    }
    atomic_write_json(manifest_file, manifest)
    counts = ", ".join(f"{k} {v['rows']}" for k, v in outputs.items())
    print(f"{display_path(manifest_file)}: wrote {counts}")
    print(contamination.contamination_statement(overlap))
    if overlap["contaminated"] and recipe.block.get("allow_test_contamination") is not True:
        print(f"warning: {recipe.where('slingshot')}: training will refuse this data unless the recipe "
              f"sets allow_test_contamination: true", file=sys.stderr)
    return manifest
