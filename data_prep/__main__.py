"""`python -m data_prep RECIPE`: build the recipe's training, validation and test JSONL.

Outputs go where the recipe's paths say (slingshot.layout.recipe_paths): training and validation
files with manifest.json beside them, the test split to data/<task>/test/<split>.jsonl.
Re-running with the same inputs is a no-op; any change of inputs rebuilds everything.
"""
import argparse
import importlib
import json
import sys
import time

from slingshot import contamination
from slingshot.errors import UserError, cli
from slingshot.io import atomic_write_json, atomic_write_jsonl, sha256_file, stable_hash
from slingshot.layout import display_path, resolve
from slingshot.recipe import claim_folders, data_errors_located, load_recipe

OUTPUTS = ("train", "validation", "test")


def is_up_to_date(manifest_file, fingerprint):
    if not manifest_file.exists():
        return False
    manifest = json.loads(manifest_file.read_text())
    if manifest.get("fingerprint") != fingerprint or "contamination" not in manifest:
        return False
    return all(resolve(out["path"]).exists() and sha256_file(resolve(out["path"])) == out["sha256"]
               for out in manifest["outputs"].values())


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


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m data_prep", description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="path to a recipe YAML")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    with data_errors_located(recipe):
        prepare_recipe(recipe, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
