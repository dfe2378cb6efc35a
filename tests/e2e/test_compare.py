"""The real lm-evaluation-harness asks this project's question and `python -m eval compare` reads what it wrote.

lm-eval runs eval/lm_eval_tasks/slingshot_squad_dev200.yaml on the embedded model (3 questions, 8 new tokens,
offline) from a workspace holding data prep's dev-200; `python -m eval run` answers the same 3 questions; the
compare re-scores lm-eval's samples file with the project's metric and sets it beside the store."""
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import MODEL_DIR, ROOT, run_module, squad_test_rows, write_squad_split

N = 3
NEW_TOKENS = 8


@pytest.mark.slow
def test_an_lm_eval_samples_file_against_an_eval_run_store(model_dir, tmp_path):
    workspace = tmp_path / "ws"
    rows = squad_test_rows("dev-200")
    write_squad_split(workspace, rows, "dev-200")
    env = {"SLINGSHOT_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_CACHE": str(tmp_path / "hf-ds")}
    run_module("eval", "run", "--model", "hf:models/smollm2-135m-instruct", "--split", "dev-200",
               "--limit", N, "--max-new-tokens", NEW_TOKENS, check=True, env=env)
    store = next((workspace / "results").glob("dev-200*/hf_*"))
    lm_eval = subprocess.run(
        [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={MODEL_DIR},dtype=float32",
         "--include_path", str(ROOT / "eval" / "lm_eval_tasks"), "--tasks", "slingshot_squad_dev200",
         "--apply_chat_template", "--limit", str(N), "--gen_kwargs", f"max_gen_toks={NEW_TOKENS}",
         "--batch_size", "1", "--device", "cpu", "--log_samples", "--output_path", str(tmp_path / "lm-eval-out")],
        cwd=workspace, capture_output=True, text=True, timeout=900, env={**os.environ, **env})
    assert lm_eval.returncode == 0, lm_eval.stderr[-3000:]
    samples_file = next((tmp_path / "lm-eval-out").rglob("samples_slingshot_squad_dev200_*.jsonl"))
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]

    # lm-eval asked exactly the project's prompt: the split row's messages under the model's chat template
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    assert [s["doc"]["id"] for s in samples] == [r["id"] for r in rows[:N]]
    for sample, row in zip(samples, rows):
        prompt = tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True)
        assert sample["arguments"]["gen_args_0"]["arg_0"] == prompt

    out = tmp_path / "compare"
    result = run_module("eval", "compare", store, samples_file, "--out", out, "--n-boot", 200, check=True, env=env)
    assert f"On the {N} questions every file answered (of {len(rows)}" in result.stdout
    compared = json.loads((out / "compare.json").read_text())
    assert [f["kind"] for f in compared["files"]] == ["store", "lm-eval samples"]
    # the same question, greedy decoding: the same answers, so no question is scored differently
    stored = {json.loads(line)["id"]: json.loads(line)["answer"] for line in (store / "predictions.jsonl").open()}
    assert {q: a["answer"] for q, a in compared["answers"][1].items()} == stored
    assert compared["pairs"][0]["disagree_ids"] == [] and (out / "index.html").is_file()
