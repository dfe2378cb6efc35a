"""The first GPU's check: real Axolotl steps of every GPU recipe, measured beside `plan`'s prediction.

    make gpu-check                                   # on a GPU: full-size shapes, random weights, offline
    python bench/gpu_check.py --shape tiny --out DIR # anywhere: the same pipeline on tiny stand-ins (CI)

For each distinct GPU training (the recipes other than *-cpu; twins that train alike run once) it
builds a random-initialized stand-in of the recipe's base model (slingshot.stand_in: the real
architecture; with --shape full the real sizes too, since memory and speed do not depend on the
weights' values), trains --steps real Axolotl steps at the recipe's own settings (on a machine
without a GPU, with the smoke run's CPU overrides), and records peak memory, tokens/s and plan's
prediction of both, and the MFU the measured tokens/s is by plan's FLOP count (4N+adapter for LoRA)
against the GPU's dense bf16 peak, beside the MFU plan assumes. Then the batched eval backend's questions/s at batch 1 and at its default batch
on the stand-in and adapter of the recipe with the shortest answers (SQuAD; random weights never
stop early, so every answer runs to the recipe's max_new_tokens: a worst case). Writes <out>.json and <out>.md with the machine and commit.
"""
import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import commit  # noqa: E402
from slingshot.io import atomic_write_json, atomic_write_text, read_jsonl  # noqa: E402
from slingshot.layout import display_path, resolve  # noqa: E402
from slingshot.recipe import distinct_trainings, load_recipe, shipped_recipes  # noqa: E402


def machine():
    import torch
    info = {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
            "commit": commit(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 1e9, 1),
                    gpus=torch.cuda.device_count(), cuda=torch.version.cuda)
    return info


def packed_tokens_per_step(config):
    """Tokens one optimizer step feeds the model, padding included (packed rows fill sequence_len)."""
    per_row = config.get("sequence_len", 512) if config.get("sample_packing") or config.get("pad_to_sequence_len") \
        else None
    return per_row and per_row * config.get("micro_batch_size", 1) * config.get("gradient_accumulation_steps", 1)


def check_training(path, shape, steps, cpu):
    """Train one recipe's stand-in for `steps` steps; its measurements beside plan's prediction."""
    import torch

    from slingshot.plan import GPUS, gpu_of_device, gpu_of_recipe, model_config, plan, train_flops_per_token
    from slingshot.commands.smoke import prepare_data
    from slingshot.smoke import prepare_smoke, smoke_overrides, stand_in_override

    recipe = load_recipe(path)
    name = f"gpu-check-{shape}-{recipe.name}"
    check = prepare_smoke(recipe, prepare_data, steps=steps, shape=shape, cpu=cpu, name=name)
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "slingshot", "train", "--force", str(check.path)], cwd=ROOT)
    if result.returncode != 0:
        return {"recipe": display_path(path), "error": f"training failed; see {display_path(check.output_dir)}/train.log"}
    summary = json.loads(check.paths["summary"].read_text())
    overrides = smoke_overrides(recipe.config, shape) if cpu else stand_in_override(recipe.config, shape)
    gpu, no_peak = None, "no GPU peak on a CPU run"
    if torch.cuda.is_available():  # the prediction for the GPU at hand, where the table has it
        props = torch.cuda.get_device_properties(0)
        gpu = gpu_of_device(props.name, props.total_memory / 1e9)
        no_peak = f"no peak for {props.name} in plan's GPU table"
    predicted = plan(recipe, gpu=gpu or gpu_of_recipe(recipe))
    step_tokens = packed_tokens_per_step(check.config)
    runtime = summary.get("train_runtime_s")
    tokens_per_s = step_tokens * summary["steps"] / runtime if step_tokens and runtime else None
    flops = train_flops_per_token(model_config(check.config["base_model"]), check.config)  # what ran: the stand-in
    mfu = tokens_per_s * flops / (GPUS[gpu][1] * 1e12) if gpu and tokens_per_s else None
    no_mfu = None if mfu is not None else no_peak if tokens_per_s else "no tokens/s: rows are not packed"
    return {
        "recipe": display_path(path), "check_recipe": display_path(check.path),
        "stand_in": check.config["base_model"], "shape": shape,
        "overrides": [{"key": k, "value": v, "why": why} for k, v, why in overrides],
        "steps": summary["steps"], "final_train_loss": summary["final_train_loss"],
        "wall_s": round(time.time() - started, 1), "train_runtime_s": runtime,
        "tokens_per_s": round(tokens_per_s, 1) if tokens_per_s else None,
        "train_flops_per_token": flops, "peak_tflops": GPUS[gpu][1] if gpu else None,
        "mfu": round(mfu, 4) if mfu is not None else None, "mfu_missing": no_mfu,
        "plan_mfu": predicted["mfu"], "flop_count": predicted["flop_count"],
        "trainer_tokens_per_s_per_gpu": summary.get("trainer_tokens_per_s_per_gpu"),
        "gpu_peak_memory_used_gb": summary.get("gpu_peak_memory_used_gb"),
        "gpu_max_allocated_gb": summary.get("gpu_max_allocated_gb"),
        "host_peak_memory_gb": summary.get("peak_memory_gb"),
        "plan_gpu": predicted["gpu"], "plan_peak_gpu_memory_gb": predicted["peak_gpu_memory_gb"],
        "plan_tokens_per_s": round(predicted["train_tokens"] / (predicted["hours"] * 3600), 1)
        if predicted["hours"] else None,
    }


def check_eval(model, adapter, split, n, max_new_tokens):
    """The batched eval backend's questions/s at batch 1 and at its default batch, on the stand-in with
    the adapter its check trained (as `make eval` scores a run: the run's tokenizer and template)."""
    from eval.backends.local import LocalBackend

    rows = read_jsonl(split)[:n]
    backend = LocalBackend(str(model), adapter=str(adapter))
    runs = {}
    for batch_size in (1, "auto"):
        backend.batch_size = batch_size
        answered = []
        started = time.perf_counter()
        backend.generate([(r["id"], r["messages"]) for r in rows], max_new_tokens,
                         lambda item_id, generation: answered.append(generation.tokens_out))
        seconds = time.perf_counter() - started
        runs[f"batch {batch_size}"] = {"questions_per_s": round(len(rows) / seconds, 3),
                                       "generated_tokens_per_s": round(sum(answered) / seconds, 1),
                                       "seconds": round(seconds, 2)}
    return {"model": display_path(model), "questions": len(rows), "max_new_tokens": max_new_tokens,
            "device": backend.device, "dtype": str(backend.dtype), "runs": runs}


def shown(value):
    return "n/a" if value is None else value


def percent(value):
    return "n/a" if value is None else f"{value:.1%}"


def render(result):
    m = result["machine"]
    lines = [f"# GPU check ({result['shape']} stand-ins, {result['steps']} steps each)", "",
             f"Machine: {m.get('gpu') or 'no GPU'}{' x' + str(m['gpus']) if m.get('gpus', 1) > 1 else ''}, "
             f"CPU {m['cpu']}, torch {m['torch']}{', CUDA ' + m['cuda'] if m.get('cuda') else ''}; "
             f"commit {m['commit']}, {m['date']}. Random weights: memory and speed only, no accuracy.", "",
             "| recipe | steps | loss | tokens/s | MFU | plan's MFU | plan tokens/s | peak GPU GB (NVML) | "
             "max allocated GB | plan peak GB | overrides |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["trainings"]:
        if "error" in r:
            lines.append(f"| {r['recipe']} | {r['error']} |" + "|" * 9)
            continue
        lines.append(f"| {r['recipe']} | {r['steps']} | {r['final_train_loss']} | {shown(r['tokens_per_s'])} | "
                     f"{percent(r['mfu'])} | {percent(r['plan_mfu'])} | "
                     f"{shown(r['plan_tokens_per_s'])} ({r['plan_gpu']}) | {shown(r['gpu_peak_memory_used_gb'])} | "
                     f"{shown(r['gpu_max_allocated_gb'])} | {r['plan_peak_gpu_memory_gb']} | {len(r['overrides'])} |")
    trained = [r for r in result["trainings"] if "error" not in r]
    if trained:
        missing = sorted({r["mfu_missing"] for r in trained if r["mfu_missing"]})
        lines += ["", "MFU: measured tokens/s x the stand-in's model FLOPs a token, by plan's count (LoRA: 4N for the "
                      "frozen base of N parameters, forward 2N and input gradients 2N, plus 6 per adapter parameter; "
                      "full fine-tuning 6N), over the GPU's dense bf16 peak in plan's table. plan's MFU: what `plan` "
                      "assumes for the recipe (gradient checkpointing's second forward pass is not model FLOPs)."
                  + "".join(f" MFU n/a: {m}." for m in missing)]
    e = result.get("eval")
    if e:
        lines += ["", f"Eval backend on {e['model']} ({e['device']}, {e['dtype']}), {e['questions']} questions, "
                      f"{e['max_new_tokens']} new tokens each:", "",
                  "| batch | questions/s | generated tokens/s |", "|---|---|---|"]
        lines += [f"| {k} | {v['questions_per_s']} | {v['generated_tokens_per_s']} |" for k, v in e["runs"].items()]
    overrides = {(o["key"], o["why"]) for r in result["trainings"] for o in r.get("overrides", [])}
    if overrides:
        lines += ["", "Overrides (each only where a recipe needs it):", ""]
        lines += [f"- `{key}`: {why}" for key, why in sorted(overrides)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpu = torch.cuda.is_available()
    parser.add_argument("--shape", choices=("tiny", "full"), default="full" if gpu else "tiny")
    parser.add_argument("--steps", type=int, default=4 if gpu else 1)
    parser.add_argument("--eval-questions", type=int, default=64 if gpu else 8)
    parser.add_argument("--recipes", nargs="+", help="default: every distinct GPU training")
    parser.add_argument("--out", help="output path without suffix (default bench/results/gpu_check_<shape>)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.eval_questions < 1:
        parser.error("--steps and --eval-questions must be at least 1")
    from slingshot.errors import UserError

    paths = [Path(p) for p in args.recipes] if args.recipes else distinct_trainings(shipped_recipes(gpu_only=True))
    try:  # every recipe is read before anything runs: a typo in the last one costs no GPU time
        for path in paths:
            if resolve(load_recipe(path).config["base_model"]).exists():
                raise UserError(f"{path}: not a GPU recipe (its base model is local); gpu_check runs GPU recipes")
    except UserError as e:
        parser.error(str(e))
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"gpu_check_{args.shape}"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"shape": args.shape, "steps": args.steps, "machine": machine(), "trainings": []}

    def save():  # after every recipe: minutes of GPU time are never lost to a later failure
        atomic_write_json(out.with_suffix(".json"), result)
        atomic_write_text(out.with_suffix(".md"), render(result))

    for path in paths:
        print(f"== {display_path(path)}: {args.steps} step(s) on a {args.shape} stand-in", flush=True)
        try:
            result["trainings"].append(check_training(path, args.shape, args.steps, cpu=not gpu))
        except UserError as e:
            result["trainings"].append({"recipe": display_path(path), "error": str(e)})
        r = result["trainings"][-1]
        if "error" not in r:
            print(f"== {r['recipe']}: {shown(r['tokens_per_s'])} tokens/s, MFU {percent(r['mfu'])} by the "
                  f"{r['flop_count']} count ({r['mfu_missing'] or r['plan_gpu']}); plan assumes "
                  f"{percent(r['plan_mfu'])}", flush=True)
        save()
    done = [load_recipe(resolve(r["check_recipe"])) for r in result["trainings"] if "error" not in r]
    if done:  # the eval check on the shortest answers (SQuAD's 32 tokens, not Julia's 512)
        check = min(done, key=lambda c: c.eval_settings()["max_new_tokens"])
        first = next(r for r in result["trainings"] if r.get("check_recipe") == display_path(check.path))
        result["eval"] = check_eval(resolve(first["stand_in"]), check.output_dir, check.paths["test"],
                                    args.eval_questions, check.eval_settings()["max_new_tokens"])
        save()
    print(render(result))
    return 1 if any("error" in r for r in result["trainings"]) else 0


if __name__ == "__main__":
    sys.exit(main())
