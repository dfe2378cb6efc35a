"""`python -m slingshot.sweep RECIPE --sweep "train_size=32,64,128 lora_r=8,32 seed=0,1"` (make sweep;
also `python -m eval sweep ...`): train and score every cell of a grid derived from one recipe, then
write the sweep report.

Every cell is a derived recipe written out as a file (runs/derived/<recipe>-sweep-<cell>/recipe.yml;
a recipe outside the repo keeps its cells beside it, see slingshot.layout.sweep_home), so any cell can
be rerun or shared alone. Every key and value is checked, as a recipe's own are, before any cell is
written. Cells run one at a time, because one CPU training takes most of the machine's memory. A
finished cell leaves sweep_cell.json in its run folder and is never trained or scored again, so a
killed sweep resumes at the first unfinished cell. The base model is
scored once on the recipe's test split (its stored predictions are shared with `make eval`).

`seed` sets the training seed (LoRA init, data order); `slingshot.seed` would redraw the data.
Every step runs as its own process, as a user would run it: `python -m data_prep`,
`python -m slingshot.train`, `python -m eval run` (which records the run folder it scored into) and
`python -m eval.sweep_report` (given the finished cells in a JSON file).
"""
import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from slingshot.errors import cli
from slingshot.io import atomic_write_json, stable_hash
from slingshot.layout import (RESULTS_DIR, ROOT, RUN_META, TRAIN_SUMMARY, derived_home, display_path, resolve,
                              sweep_home)
from slingshot.recipe import (RecipeError, SweepError, block_where, check_sweep, derive_recipe, derived_recipe,
                              load_recipe, spec_where, sweep_grid, yaml_value)

CELL_RECORD = "sweep_cell.json"
MAX_CELLS = 64


def parse_sweep(text, where="--sweep"):
    """'train_size=32,64,128 lora_r=8,32' -> {'train_size': [32, 64, 128], 'lora_r': [8, 32]}."""
    grid = {}
    for item in text.split():
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise SweepError(f"{where}: {item!r} is not KEY=V1,V2,... (e.g. train_size=32,64,128)")
        if key in grid:
            raise SweepError(f"{where}: {key} is given twice")
        raw = values.split(",")
        if "" in raw:
            raise SweepError(f"{where}: {item!r} has an empty value")
        try:
            parsed = [yaml_value(v) for v in raw]
        except yaml.YAMLError:
            raise SweepError(f"{where}: {item!r}: a value is not a plain number or word (lists and YAML tags "
                             f"cannot be swept from the command line; use the recipe's slingshot.sweep block)") from None
        if any(v is None or isinstance(v, (list, dict)) for v in parsed):
            raise SweepError(f"{where}: {item!r}: values must be numbers, words or true/false (got {parsed})")
        grid[key] = parsed
    if not grid:
        raise SweepError(f"{where}: nothing to sweep; write e.g. SWEEP=\"train_size=32,64,128 seed=0\"")
    return grid


def split_overrides(params, targets):
    """A cell's values as (Axolotl keys, slingshot block keys); targets: check_sweep's {key: recipe key}."""
    config, block = {}, {}
    for key, value in params.items():
        target = targets[key]
        if target.startswith("slingshot."):
            block[target.removeprefix("slingshot.")] = value
        else:
            config[target] = value
    return config, block


def cell_slug(params):
    text = "-".join(f"{k.removeprefix('slingshot.')}{v}" for k, v in params.items())
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("%", "pct"))


def sweep_name(recipe):
    return sweep_home(recipe.path)[0]


def make_cells(recipe, grid, where=spec_where):
    """One derived recipe per point of the grid, in grid order (the last key varies fastest).
    where(key=None) says where the grid was given (spec_where: --sweep; block_where: the recipe's lines)."""
    targets = check_sweep(recipe, grid, where)
    keys = list(grid)
    size = 1
    for values in grid.values():
        size *= len(values)
    if size > MAX_CELLS:
        raise SweepError(f"{where()}: {size} cells; a sweep trains one cell at a time, so at most {MAX_CELLS}")
    name, beside, _ = sweep_home(recipe.path)
    planned, names = [], {}
    for values in itertools.product(*(grid[k] for k in keys)):  # check every cell before writing any
        params = dict(zip(keys, values))
        cell = f"{name}-{cell_slug(params)}"
        if cell in names:
            raise SweepError(f"{where()}: cells {names[cell]} and {params} would share the folder name {cell[:80]}; "
                             f"use values that differ in letters and digits")
        if len(cell) > 200:
            raise SweepError(f"{where()}: the cell name {cell[:60]}... is too long for a folder; use shorter values")
        names[cell] = params
        overrides = split_overrides(params, targets)
        try:
            derived_recipe(recipe, cell, *overrides, beside=beside)
        except RecipeError as e:
            problem = str(e).removeprefix(f"{derived_home(cell, beside)[0]}: ")  # a file not written yet
            raise SweepError(f"{where()}: the cell {params} is not a valid recipe: {problem}") from None
        planned.append((params, cell, overrides))
    return [{"params": params, "recipe": derive_recipe(recipe, cell, *overrides, beside=beside)}
            for params, cell, overrides in planned]


def cell_record(cell):
    return cell["recipe"].output_dir / CELL_RECORD


def run_is_done(folder):
    """A scored run folder whose meta.json says it finished (eval.store writes it)."""
    meta = resolve(folder) / RUN_META
    return meta.exists() and json.loads(meta.read_text()).get("status") == "done"


def is_finished(cell, limit):
    """The cell was trained and scored with exactly this recipe and limit, and nothing changed since."""
    record_file, summary_file = cell_record(cell), cell["recipe"].paths["summary"]
    if not (record_file.exists() and summary_file.exists()):
        return False
    record = json.loads(record_file.read_text())
    summary = json.loads(summary_file.read_text())
    return (record.get("config") == stable_hash(cell["recipe"].config) and record.get("limit") == limit
            and record.get("fingerprint") == summary.get("fingerprint") and run_is_done(record["store"]))


def run_step(args, what, cell_name):
    """A step of a cell in its own process, its output passed through."""
    result = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT)
    if result.returncode != 0:
        raise SweepError(f"cell {cell_name}: {what} failed (exit {result.returncode}, see above); "
                         f"fix it and run the sweep again: finished cells are kept")


def score(recipe, adapter, label, split, limit, results_dir):
    """Score the recipe's base model (with `adapter`: the tuned one) through `python -m eval run`;
    returns {"store": its run folder, "wall_s": its scoring wall time}."""
    settings = recipe.eval_settings()
    hardware = recipe.block.get("hardware") or {}
    options = {"--adapter": adapter, "--limit": limit, "--hardware": hardware.get("name"),
               "--usd-per-hour": hardware.get("usd_per_hour"), "--batch-size": settings.get("batch_size")}
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "run.json"
        args = ["eval", "run", "--model", f"hf:{recipe.config['base_model']}", "--split", split, "--label", label,
                "--max-new-tokens", settings["max_new_tokens"], "--results-dir", results_dir, "--record", record]
        args += [str(x) for option, value in options.items() if value is not None for x in (option, value)]
        run_step(args, f"scoring {label}", recipe.name)
        return json.loads(record.read_text())


def base_label(recipe):
    return f"{Path(recipe.config['base_model']).name} (base)"  # as eval/recipe.py names it: one shared store


def run_cell(cell, limit, results_dir, base):
    recipe = cell["recipe"]
    run_step(["data_prep", recipe.path], "data preparation", recipe.name)
    run_step(["slingshot.train", recipe.path], "training", recipe.name)
    scored = score(recipe, recipe.output_dir, f"{recipe.name} (tuned)", recipe.paths["test"], limit, results_dir)
    summary = json.loads((recipe.output_dir / TRAIN_SUMMARY).read_text())
    atomic_write_json(cell_record(cell), {
        "params": cell["params"], "name": recipe.name, "recipe": display_path(recipe.path),
        "config": stable_hash(recipe.config), "fingerprint": summary["fingerprint"], "limit": limit,
        "store": scored["store"], "base_store": base["store"], "train_wall_s": summary.get("wall_s"),
        "eval_wall_s": scored["wall_s"],
    })


def fmt_duration(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def run_cells(cells, limit, results_dir, base):
    """Train and score every unfinished cell, one at a time, with an ETA from the cells run so far."""
    durations, total = [], len(cells)
    for i, cell in enumerate(cells, 1):
        name = cell["recipe"].name
        if is_finished(cell, limit):
            print(f"cell {i} of {total}: {name}: finished earlier, kept")
            continue
        left = total - i + 1
        eta = f", ETA {fmt_duration(left * sum(durations) / len(durations))}" if durations else ""
        print(f"cell {i} of {total}: {name} ({display_path(cell['recipe'].path)}){eta}", flush=True)
        cell_started = time.time()
        run_cell(cell, limit, results_dir, base)
        durations.append(time.time() - cell_started)
        print(f"cell {i} of {total} finished in {fmt_duration(durations[-1])}", flush=True)


def run_sweep(recipe_path, spec=None, limit=None, out=None, results_dir=RESULTS_DIR, report_only=False):
    """Train and score every unfinished cell, one at a time, then write the report.
    report_only: train nothing, report the cells finished so far (e.g. of a sweep still running)."""
    recipe = load_recipe(recipe_path)
    grid = parse_sweep(spec) if spec else sweep_grid(recipe)
    where = spec_where if spec else block_where(recipe)
    if grid is None:
        raise SweepError(f"{recipe.path}: nothing to sweep: pass SWEEP=\"train_size=32,64,128 seed=0\" "
                         f"(--sweep) or add a slingshot.sweep block to the recipe")
    cells = make_cells(recipe, grid, where)
    print(f"sweep of {recipe.name}: {len(cells)} cells ({', '.join(f'{k}={v}' for k, v in grid.items())}); "
          f"cell recipes under {display_path(cells[0]['recipe'].path.parent.parent)}/{sweep_name(recipe)}-*")
    split = recipe.paths["test"]
    if not split.exists():  # the first cell's data prep writes the shared test split
        run_step(["data_prep", cells[0]["recipe"].path], "data preparation", cells[0]["recipe"].name)
    started = time.time()
    out = Path(out) if out else sweep_home(recipe.path)[2]
    if report_only:
        return report_finished(recipe, grid, cells, limit, out)
    print(f"base model on {split.stem}" + (f" (first {limit} questions)" if limit else "") + ": scored once for every cell")
    base = score(recipe, None, base_label(recipe), split, limit, results_dir)
    run_cells(cells, limit, results_dir, base)
    write_report(recipe, grid, cells, base["store"], out, wall_s=time.time() - started)


def report_finished(recipe, grid, cells, limit, out):
    finished = [c for c in cells if is_finished(c, limit)]
    if not finished:
        raise SweepError(f"{recipe.path}: no finished cell to report on yet (0 of {len(cells)})")
    base = json.loads(cell_record(finished[0]).read_text())["base_store"]
    write_report(recipe, grid, finished, base, out, unfinished=[c["recipe"].name for c in cells if c not in finished],
                 n_cells=len(cells))


def write_report(recipe, grid, cells, base_store, out, wall_s=None, unfinished=(), n_cells=None):
    """The sweep report of the finished `cells`, by `python -m eval.sweep_report` (eval owns reports)."""
    report = {"recipe": str(recipe.path), "grid": grid, "base_store": base_store, "out": str(Path(out).absolute()),
              "wall_s": wall_s, "unfinished": list(unfinished), "n_cells": n_cells or len(cells),
              "cells": [{"recipe": str(c["recipe"].path), "params": c["params"],
                         "record": json.loads(cell_record(c).read_text())} for c in cells]}
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "sweep_cells.json"
        atomic_write_json(plan, report)
        run_step(["eval.sweep_report", plan], "the sweep report", recipe.name)


def add_arguments(parser):
    parser.add_argument("recipe")
    parser.add_argument("--sweep", help='values to try, e.g. "train_size=32,64,128 lora_r=8,32 seed=0,1" '
                                        "(default: the recipe's slingshot.sweep block)")
    parser.add_argument("--limit", type=int, help="score only the first N test questions (quick checks)")
    parser.add_argument("--out", help="report folder (default reports/<recipe>-sweep; beside a recipe outside the repo)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: report the cells finished so far")


def cmd_sweep(args):
    run_sweep(args.recipe, args.sweep, limit=args.limit, out=args.out, report_only=args.report_only)
    return 0


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m slingshot.sweep", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return cmd_sweep(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
