"""A sweep's grid: every cell a derived recipe written out as a file, checked before any is written, and
each cell's record of what it finished. `python -m eval sweep` (eval/commands/sweep.py) runs the cells.

Every cell is a derived recipe written out as a file (runs/derived/<recipe>-sweep-<cell>/recipe.yml;
a recipe outside the repo keeps its cells beside it, see slingshot.layout.sweep_home), so any cell can
be rerun or shared alone. Every key and value is checked, as a recipe's own are, before any cell is
written. A finished cell leaves sweep_cell.json in its run folder and is never trained or scored
again, so a killed sweep resumes at the first unfinished cell.

`seed` sets the training seed (LoRA init, data order); `slingshot.seed` would redraw the data.
"""
import itertools
import json
import re
from pathlib import Path

import yaml

from slingshot.io import stable_hash
from slingshot.layout import RUN_META, derived_home, resolve, sweep_home
from slingshot.recipe import (RecipeError, SweepError, check_sweep, derive_recipe, derived_recipe,
                              spec_where, yaml_value)

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


def base_label(recipe):
    return f"{Path(recipe.config['base_model']).name} (base)"  # as eval/recipe.py names it: one shared store


def fmt_duration(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
