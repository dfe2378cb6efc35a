"""python -m eval sweep RECIPE --sweep "train_size=32,64,128 lora_r=8,32 seed=0,1" (make sweep): train and
score every cell of a grid derived from one recipe (slingshot/sweep.py), then write the sweep report.

A cell's steps are the table STEPS, each a function call: data prep, training (which runs Axolotl in its own
process, as `make train` does), scoring the tuned model. Cells run one at a time, because one CPU training
takes most of the machine's memory. The base model is scored once on the recipe's test split (its stored
predictions are shared with `make eval`).

With --base-url the cells are scored through a server that serves the base model and every cell's adapter by name
(`make serve SWEEP=<recipe>`: vLLM on a GPU, `eval serve` on the CPU); every cell must be trained already.
"""
import argparse
import json
import time
from pathlib import Path

from slingshot.errors import cli, whole_number

HELP = "train and score a grid of variants of a recipe, then report"


def prepare(recipe, cell, context):
    from data_prep.prepare import prepare_recipe
    from slingshot.recipe import data_errors_located

    with data_errors_located(recipe):
        prepare_recipe(recipe)


def train(recipe, cell, context):
    from slingshot.train import train as train_recipe

    context["summary"] = train_recipe(recipe)


def score_tuned(recipe, cell, context):
    context["scored"] = score(recipe, recipe.output_dir, f"{recipe.name} (tuned)", recipe.paths["test"],
                              context["limit"], context["results_dir"], context.get("base_url"), context.get("concurrency"))


STEPS = (("data preparation", prepare), ("training", train), ("scoring", score_tuned))


def score(recipe, adapter, label, split, limit, results_dir, base_url=None, concurrency=None):
    """Score the recipe's base model (with `adapter`: the tuned one) as `make eval` does (the same backend,
    quantization and settings; with `base_url`, through that server by its served name); returns
    {"store": its run folder, "wall_s": its scoring wall time}."""
    from eval.recipe import row_backend
    from eval.run import evaluate
    from slingshot.layout import display_path

    settings = recipe.eval_settings()
    hardware = recipe.block.get("hardware") or {}
    backend = row_backend(recipe, adapter, base_url, concurrency)
    store = evaluate(backend, Path(split), settings["max_new_tokens"], results_dir=results_dir, label=label,
                     limit=limit, hardware=hardware.get("name"), usd_per_hour=hardware.get("usd_per_hour"))
    return {"store": display_path(store.folder), "wall_s": store.read_meta().get("wall_s")}


def run_cell(cell, context):
    from slingshot.io import atomic_write_json, stable_hash
    from slingshot.layout import display_path
    from slingshot.sweep import SweepError, cell_record

    recipe = cell["recipe"]
    for what, step in STEPS:
        try:
            step(recipe, cell, context)
        except Exception as e:
            raise SweepError(f"cell {recipe.name}: {what} failed ({e}); fix it and run the sweep again: "
                             f"finished cells are kept") from e
    summary = context.pop("summary")
    atomic_write_json(cell_record(cell), {
        "params": cell["params"], "name": recipe.name, "recipe": display_path(recipe.path),
        "config": stable_hash(recipe.config), "fingerprint": summary["fingerprint"], "limit": context["limit"],
        "store": context["scored"]["store"], "base_store": context["base"]["store"],
        "train_wall_s": summary.get("wall_s"), "eval_wall_s": context["scored"]["wall_s"],
        **({"base_url": context["base_url"]} if context.get("base_url") else {}),
    })


def run_cells(cells, context):
    """Train and score every unfinished cell, one at a time, with an ETA from the cells run so far."""
    from slingshot.layout import display_path
    from slingshot.sweep import fmt_duration, is_finished

    durations, total = [], len(cells)
    for i, cell in enumerate(cells, 1):
        name = cell["recipe"].name
        if is_finished(cell, context["limit"]) and scored_by(cell) == context.get("base_url"):
            print(f"cell {i} of {total}: {name}: finished earlier, kept")
            continue
        eta = f", ETA {fmt_duration((total - i + 1) * sum(durations) / len(durations))}" if durations else ""
        print(f"cell {i} of {total}: {name} ({display_path(cell['recipe'].path)}){eta}", flush=True)
        cell_started = time.time()
        run_cell(cell, context)
        durations.append(time.time() - cell_started)
        print(f"cell {i} of {total} finished in {fmt_duration(durations[-1])}", flush=True)


def scored_by(cell):
    """The server a finished cell was scored through (None: here), as its record says."""
    from slingshot.sweep import cell_record
    return json.loads(cell_record(cell).read_text()).get("base_url")


def check_trained(recipe, cells, base_url):
    """Through a server every cell must be trained already: the server serves only existing adapters."""
    from slingshot.layout import display_path
    from slingshot.sweep import SweepError
    untrained = [c["recipe"].name for c in cells if not c["recipe"].paths["adapter"].exists()]
    if base_url and untrained:
        raise SweepError(f"--base-url {base_url}: {len(untrained)} of {len(cells)} cells are not trained "
                         f"({', '.join(untrained[:3])}{', ...' if len(untrained) > 3 else ''}); train them first "
                         f"(make sweep RECIPE={display_path(recipe.path)}), then serve them (make serve SWEEP=...)")


def run_sweep(recipe_path, spec=None, limit=None, out=None, results_dir=None, report_only=False, base_url=None,
              concurrency=None):
    """Train and score every unfinished cell, one at a time, then write the report.
    report_only: train nothing, report the cells finished so far (e.g. of a sweep still running)."""
    from eval.store import RESULTS_DIR
    from slingshot.layout import display_path, sweep_home
    from slingshot.recipe import block_where, load_recipe, spec_where, sweep_grid
    from slingshot.sweep import SweepError, base_label, make_cells, parse_sweep, sweep_name

    recipe = load_recipe(recipe_path)
    grid = parse_sweep(spec) if spec else sweep_grid(recipe)
    where = spec_where if spec else block_where(recipe)
    if grid is None:
        raise SweepError(f"{recipe.path}: nothing to sweep: pass SWEEP=\"train_size=32,64,128 seed=0\" "
                         f"(--sweep) or add a slingshot.sweep block to the recipe")
    cells = make_cells(recipe, grid, where)
    print(f"sweep of {recipe.name}: {len(cells)} cells ({', '.join(f'{k}={v}' for k, v in grid.items())}); "
          f"cell recipes under {display_path(cells[0]['recipe'].path.parent.parent)}/{sweep_name(recipe)}-*")
    out = Path(out) if out else sweep_home(recipe.path)[2]
    if report_only:
        return report_finished(recipe, grid, cells, limit, out)
    started, split = time.time(), recipe.paths["test"]
    if not split.exists():  # the first cell's data prep writes the shared test split
        prepare(cells[0]["recipe"], cells[0], {})
    check_trained(recipe, cells, base_url)
    context = {"limit": limit, "results_dir": results_dir or RESULTS_DIR, "base_url": base_url, "concurrency": concurrency}
    print(f"base model on {split.stem}" + (f" (first {limit} questions)" if limit else "") + ": scored once for every cell"
          + (f", through {base_url}" if base_url else ""))
    context["base"] = score(recipe, None, base_label(recipe), split, limit, context["results_dir"], base_url, concurrency)
    run_cells(cells, context)
    write_report(recipe, grid, cells, context["base"]["store"], out, wall_s=time.time() - started)


def report_finished(recipe, grid, cells, limit, out):
    from slingshot.sweep import SweepError, cell_record, is_finished

    finished = [c for c in cells if is_finished(c, limit)]
    if not finished:
        raise SweepError(f"{recipe.path}: no finished cell to report on yet (0 of {len(cells)})")
    base = json.loads(cell_record(finished[0]).read_text())["base_store"]
    return write_report(recipe, grid, finished, base, out, unfinished=[c["recipe"].name for c in cells if c not in finished],
                        n_cells=len(cells))


def write_report(recipe, grid, cells, base_store, out, wall_s=None, unfinished=(), n_cells=None):
    """The sweep report of the finished `cells` (eval/sweep_report.py)."""
    from eval.store import RunStore
    from eval.sweep_report import print_sweep_report, build_sweep_report
    from slingshot.layout import resolve
    from slingshot.sweep import cell_record

    results = [{"recipe": c["recipe"], "params": c["params"], "record": json.loads(cell_record(c).read_text())}
               for c in cells]
    report = build_sweep_report(recipe, grid, results, RunStore(resolve(base_store)), Path(out), wall_s=wall_s,
                                unfinished=list(unfinished))
    print_sweep_report(report, Path(out), len(results), n_cells or len(cells), unfinished)
    return report


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m eval sweep", description=HELP)
    parser.add_argument("recipe")
    parser.add_argument("--sweep", help='values to try, e.g. "train_size=32,64,128 lora_r=8,32 seed=0,1" '
                                        "(default: the recipe's slingshot.sweep block)")
    parser.add_argument("--limit", type=whole_number(1), help="score only the first N test questions (quick checks)")
    parser.add_argument("--out", help="report folder (default reports/<recipe>-sweep; beside a recipe outside the repo)")
    parser.add_argument("--report-only", action="store_true", help="train nothing: report the cells finished so far")
    parser.add_argument("--base-url", help="score through a server serving the base model and every trained cell by "
                        "name (make serve SWEEP=<recipe>), e.g. http://127.0.0.1:8000/v1; trains nothing new")
    parser.add_argument("--concurrency", type=whole_number(1), help="with --base-url: requests in flight (default 8)")
    args = parser.parse_args(argv)
    run_sweep(args.recipe, args.sweep, limit=args.limit, out=args.out, report_only=args.report_only,
              base_url=args.base_url, concurrency=args.concurrency)
    return 0
