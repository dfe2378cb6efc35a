"""`make eval`: score a recipe's base model and its tuned adapter on the recipe's test split,
then write the report comparing them (and any other finished run on the same split).

The base model is scored twice: with the task's instruction only (0-shot) and with k worked
training examples (eval setting `shots`, default 3 for SQuAD). The report's headline compares
the tuned model with the stronger of the two, and tests it against both.

With `base_url` every row is asked of an OpenAI-compatible server instead (`make serve RECIPE=...`: vLLM on a
GPU, `eval serve` on the CPU), the base model and the adapter each by its served name (eval/serving.py), under
the same labels and settings, so the report reads the same."""
from pathlib import Path

from eval.backends import registry
from eval.backends.local import LocalBackend, recipe_quantization
from eval.run import evaluate
from eval.store import RESULTS_DIR, find_runs, latest_per_label
from slingshot.contamination import check_recipe, contamination_statement
from slingshot.layout import display_path, report_dir
from slingshot.recipe import RecipeError, claim_folders, load_recipe


def reference_runs(task, split, results_dir, limit):
    """Recorded reference runs of the backend the task names for them (the Julia leaderboard's records)."""
    if not task.REFERENCE_BACKEND:
        return []
    return registry()[task.REFERENCE_BACKEND].reference_runs(split, results_dir=results_dir, limit=limit)


def evaluate_recipe(recipe_path, limit=None, out=None, results_dir=RESULTS_DIR, include_others=True, base_url=None,
                    concurrency=None):
    from eval.report import build_report

    recipe = load_recipe(recipe_path)
    split = recipe.paths["test"]
    if not split.exists():
        raise RecipeError(f"{display_path(split)} is missing; run `make prepare RECIPE={recipe.path}`")
    if not recipe.paths["adapter"].exists():
        raise RecipeError(f"{display_path(recipe.output_dir)} holds no trained adapter; "
                          f"run `make train RECIPE={recipe.path}`")
    report_folder = Path(out) if out else report_dir(recipe.name)
    claim_folders(recipe, {recipe.output_dir: "output_dir (the adapter scored)",
                           report_folder: "--out" if out else f"its report folder (from its name {recipe.name})"})
    settings = recipe.eval_settings()
    hardware = recipe.block.get("hardware") or {}
    base_model = recipe.config["base_model"]
    common = dict(results_dir=results_dir, limit=limit, hardware=hardware.get("name"),
                  usd_per_hour=hardware.get("usd_per_hour"))
    overlap = check_recipe(recipe)
    tuned_meta = {"contamination": contamination_statement(overlap), "recipe": display_path(recipe.path)}
    shots = int(settings.get("shots") or 0)
    model_name = Path(base_model).name
    rows = [(None, 0, f"{model_name} (base, 0-shot)")]
    if shots:  # the fair baseline: the same base model shown k worked training examples
        rows.append((None, shots, f"{model_name} (base, {shots}-shot)"))
    rows.append((recipe.output_dir, 0, f"{recipe.name} (tuned)"))
    stores = []
    for adapter, k, label in rows:
        tuned = adapter is not None
        backend = row_backend(recipe, adapter, base_url, concurrency)
        stores.append(evaluate(backend, split, settings["max_new_tokens"], label=label, shots=k,
                               seen_ids=set(overlap["affected_ids"]) if tuned else None,
                               extra_meta=tuned_meta if tuned else None, **common))
        del backend
    baselines = [s.read_meta()["label"] for s in stores[:-1]]
    stores += reference_runs(recipe.task, split, results_dir, limit)
    if include_others:  # API baselines and other recipes scored on the same split join the table
        stores = latest_per_label(find_runs([stores[0].folder.parent]))
    report = build_report(stores, report_folder, baseline=baselines)
    print(f"\n{headline_table(report_folder / 'report.md')}\n")
    print(f"report: {display_path(report_folder / 'report.md')}")
    print(f"every answer beside its question: {display_path(report_folder / 'index.html')} (open it in a browser)")
    return report


def row_backend(recipe, adapter, base_url=None, concurrency=None):
    """The backend that answers a row: the recipe's base model (with `adapter`: tuned) loaded here as `make
    eval` loads it, or, with `base_url`, the same model asked of a server by its served name (`concurrency`
    requests at a time; the client's default where None)."""
    if base_url:
        from eval.backends.openai_api import OpenAIBackend
        from eval.serving import ServingError, check_served_model, served_model
        if served_model(recipe, True) == served_model(recipe, False):
            raise ServingError(f"{recipe.path}: its name {recipe.name!r} is its base model's served name, so a server "
                               f"cannot tell the tuned model from the base; rename the recipe")
        check_served_model(base_url, served_model(recipe, adapter is not None), adapter)
        return OpenAIBackend(served_model(recipe, adapter is not None), base_url=base_url,
                             **({"concurrency": concurrency} if concurrency else {}))
    return LocalBackend(recipe.config["base_model"], adapter=adapter,
                        batch_size=recipe.eval_settings().get("batch_size", "auto"), quantize=eval_quantization(recipe))


def eval_quantization(recipe):
    """A recipe trained on a quantized base is scored on the same quantized base, so its eval
    fits the GPU it trained on (an 8B base in bf16 alone is 16 GB). `slingshot.eval.quantize:
    none` scores it in 16-bit instead; the report keys differ, so the two never mix."""
    setting = recipe.eval_settings().get("quantize", "auto")
    if setting == "auto":
        return recipe_quantization(recipe.config)
    return None if setting in (None, "none") else setting


def headline_table(report_md):
    """The first markdown table of a report, as printed at the end of `make eval`."""
    lines = Path(report_md).read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return ""
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])
