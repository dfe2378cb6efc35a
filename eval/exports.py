"""`python -m eval exports RECIPE` (eval/commands/exports.py): score a recipe's exports as rows of its report.

The merged HF model is scored with the local backend; each GGUF file is served by a real
llama.cpp server (llama-cpp-python's, on 127.0.0.1, with the GGUF's own chat template; an
adapter-only GGUF over its base with the server's --lora_path) and
scored through the same OpenAI-compatible backend the API models use, on the recipe's test
split with the recipe's prompt. Each GGUF row gets a paired test against the merged model's
row; a drop larger than --max-drop (points of the primary metric) fails the command.
Predictions are stored as they come: a killed server or command resumes where it stopped.
"""

from eval import stats
from eval.backends.llamacpp import GGUFBackend, LlamaServer
from eval.backends.local import LocalBackend
from eval.run import evaluate
from eval.store import RESULTS_DIR
from slingshot import layout
from slingshot.errors import UserError

class ExportDropError(UserError):
    """An exported file scores worse than the merged model by more than the allowed drop."""


def score_exports(recipe, limit=None, results_dir=RESULTS_DIR, threads=None, on_server=None):
    """Score the merged model and every GGUF of the recipe's export; returns (merged store, {quant: store})."""
    from slingshot.export import (EXPORT_MANIFEST, MERGED_DIR, base_gguf_path, export_dir, gguf_path, is_made,
                                  read_manifest)

    manifest_path = export_dir(recipe) / EXPORT_MANIFEST
    manifest = read_manifest(manifest_path)
    again = f"run `make export RECIPE={layout.display_path(recipe.path)}`"
    if not manifest:
        raise UserError(f"{layout.display_path(manifest_path)} not found or unreadable; {again} first")
    for quant, entry in manifest["gguf"].items():  # a file changed since export is never scored
        if not is_made(recipe, quant, entry):
            raise UserError(f"{layout.display_path(gguf_path(recipe, quant))}: missing or changed since export "
                            f"(its sha256 differs from {layout.display_path(manifest_path)}'s); {again} again")
    split = recipe.paths["test"]
    settings = recipe.eval_settings()
    hardware = recipe.block.get("hardware") or {}
    common = dict(results_dir=results_dir, limit=limit, hardware=hardware.get("name"),
                  usd_per_hour=hardware.get("usd_per_hour"))
    merged_dir = export_dir(recipe) / MERGED_DIR
    backend = LocalBackend(str(merged_dir), batch_size=settings.get("batch_size", "auto"))
    merged = evaluate(backend, split, settings["max_new_tokens"], label=f"{recipe.name} (merged)", **common)
    del backend
    stores = {}
    for quant, entry in manifest["gguf"].items():
        gguf = gguf_path(recipe, quant)
        adapter_only = "base_sha256" in entry
        model = base_gguf_path(recipe) if adapter_only else gguf
        with LlamaServer(model, threads=threads, lora=gguf if adapter_only else None,
                         n_ctx=manifest.get("context_length", 2048)) as server:
            if on_server:
                on_server(server)
            sha = f"{entry['base_sha256']}+{entry['sha256']}" if adapter_only else entry["sha256"]
            backend = GGUFBackend(gguf, sha, server.base_url, base=model if adapter_only else None)
            label = "LoRA GGUF over the F16 base" if adapter_only else f"{quant} GGUF"
            size = entry["bytes"] + entry.get("base_bytes", 0)
            stores[quant] = evaluate(backend, split, settings["max_new_tokens"], label=f"{recipe.name} ({label})",
                                     extra_meta={"gguf_bytes": size, "quantization": quant}, **common)
    return merged, stores


def compare_to_merged(merged_store, stores, metric="exact_match"):
    """Paired bootstrap of each GGUF row against the merged model's row, on the questions both answered."""
    base = merged_store.load_predictions()
    rows = {}
    for quant, store in stores.items():
        preds = store.load_predictions()
        ids = sorted(set(base) & set(preds))
        a = [preds[i]["metrics"][metric] for i in ids]
        b = [base[i]["metrics"][metric] for i in ids]
        test = stats.paired_bootstrap(a, b)
        test["answers_differ"] = sum(preds[i]["answer"] != base[i]["answer"] for i in ids)
        rows[quant] = test
    return rows


def drop_message(quant, test, metric="EM"):
    low, high = test["ci"]
    verb = "loses" if test["diff"] < 0 else "gains" if test["diff"] > 0 else "neither gains nor loses:"
    return (f"{quant} {verb} {abs(test['diff']):.1f} {metric} [{low:+.1f}, {high:+.1f}], "
            f"p={test['p_value']:.2f} vs the merged model ({test['answers_differ']} of {test['n']} answers differ)")


def check_drops(tests, max_drop):
    """Raise if any export loses more than max_drop points against the merged model."""
    failed = [drop_message(q, t) for q, t in tests.items() if -t["diff"] > max_drop]
    if failed:
        raise ExportDropError(f"exports drop more than --max-drop {max_drop} EM: " + "; ".join(failed))
