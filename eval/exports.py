"""`python -m eval.exports RECIPE`: score a recipe's exports as rows of its report.

The merged HF model is scored with the local backend; each GGUF file is served by a real
llama.cpp server (llama-cpp-python's, on 127.0.0.1, with the GGUF's own chat template; an
adapter-only GGUF over its base with the server's --lora_path) and
scored through the same OpenAI-compatible backend the API models use, on the recipe's test
split with the recipe's prompt. Each GGUF row gets a paired test against the merged model's
row; a drop larger than --max-drop (points of the primary metric) fails the command.
Predictions are stored as they come: a killed server or command resumes where it stopped.
"""
import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from eval import stats
from eval.backends.local import LocalBackend
from eval.backends.openai_api import OpenAIBackend
from eval.run import evaluate
from eval.store import RESULTS_DIR
from slingshot import layout
from slingshot.errors import UserError, cli

SERVER_START_TIMEOUT_S = 300


class ExportDropError(UserError):
    """An exported file scores worse than the merged model by more than the allowed drop."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server over one GGUF file, on loopback."""

    def __init__(self, gguf, port=None, threads=None, log=None, lora=None, n_ctx=2048):
        self.gguf, self.port = Path(gguf), port or free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf),
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx)]
        if lora:  # an adapter-only GGUF, applied over the base at load time
            command += ["--lora_path", str(lora)]
        # No --chat_format: the server then formats prompts with the GGUF's own chat template.
        if threads:
            command += ["--n_threads", str(threads)]
        self.log = open(log or Path(lora or self.gguf).with_suffix(".server.log"), "w", encoding="utf-8")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + SERVER_START_TIMEOUT_S
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}; "
                                   f"see {layout.display_path(self.log.name)}")
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama.cpp server did not answer within {SERVER_START_TIMEOUT_S} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class GGUFBackend(OpenAIBackend):
    """The OpenAI backend, identified by the GGUF file it talks to rather than the server's port,
    so a restarted server on another port resumes the same stored run."""

    def __init__(self, gguf, sha256, base_url, concurrency=1, base=None, **options):
        super().__init__(Path(gguf).name, base_url=base_url, concurrency=concurrency, **options)
        self.sha256 = sha256  # of the file; for an adapter alone, "<base's sha256>+<adapter's>"
        self.files = [layout.display_path(f) for f in (base, gguf) if f is not None]
        self.spec = f"gguf:{Path(gguf).name}"

    def identity(self):
        return {"backend": "llama.cpp", "model": self.model, "gguf_sha256": self.sha256, "temperature": 0}

    def info(self):  # gguf_files: what the report re-hashes before it shows the row (eval.verify)
        return {**super().info(), "backend": "llama.cpp", "device": "cpu", "gguf_files": self.files}


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


@cli
def main(argv=None):
    from eval.recipe import evaluate_recipe
    from slingshot.recipe import load_recipe

    parser = argparse.ArgumentParser(prog="python -m eval.exports", description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--max-drop", type=float, default=3.0,
                        help="fail if an export loses more EM points than this against the merged model")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    merged, stores = score_exports(recipe, limit=args.limit, threads=args.threads)
    tests = compare_to_merged(merged, stores)
    for quant, test in tests.items():
        print(drop_message(quant, test))
    evaluate_recipe(args.recipe, limit=args.limit)  # the report now holds the export rows beside base and tuned
    check_drops(tests, args.max_drop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
