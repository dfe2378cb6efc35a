"""Many adapters behind one server, on the CPU: `python -m eval serve` (a real process) with the session's trained
adapter and a second one, `eval recipe --base-url` through a recording proxy, and the same rows scored here.
Every row's answers equal the local backend's (greedy), every message the server got equals the one the local
path built, and the prompt the server renders (its /tokenize) equals the local backend's, byte for byte."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from eval.backends.local import LocalBackend
from eval.run import prompt_hash
from eval.store import find_runs
from tests.helpers import ROOT, run_module
from tests.helpers.recording_proxy import RecordingProxy


def second_adapter(run, folder):
    """Another adapter without training: the session's, its LoRA B matrices scaled by 3."""
    from safetensors.torch import load_file, save_file
    folder.mkdir()
    for name in ("adapter_config.json",):
        shutil.copy(run / name, folder / name)
    weights = load_file(run / "adapter_model.safetensors")
    save_file({k: v * 3 if "lora_B" in k else v for k, v in weights.items()}, folder / "adapter_model.safetensors")
    return folder


def start(argv):
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    found = re.match(r"serving (.+) at (http://\S+)", line)
    if not found:
        process.kill()
        raise AssertionError(f"the server did not start: {line!r} {process.stderr.read()[-2000:]}")
    return process, found.group(1).split(", "), found.group(2)


def rows_by_label(results):
    return {store.read_meta()["label"]: store for store in find_runs([results])}


def post(url, path, body):
    import urllib.request
    request = urllib.request.Request(url.removesuffix("/v1") + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_one_server_scores_each_adapter_as_the_local_backend_does(short_run, tmp_path):
    recipe = short_run
    base = recipe.config["base_model"]
    second = second_adapter(recipe.output_dir, tmp_path / "second")
    process, served, url = start([sys.executable, "-m", "eval", "serve", "--model", f"hf:{base}", "--quiet",
                                  "--adapter", f"{recipe.name}={recipe.output_dir}", "--adapter", f"second={second}",
                                  "--port", "0"])
    proxy = RecordingProxy(url).start()
    try:
        assert served == ["smollm2-135m-instruct", recipe.name, "second"]
        listed = json.loads(__import__("urllib.request").request.urlopen(url + "/models", timeout=30).read())
        assert [m["id"] for m in listed["data"]] == served
        remote, local = tmp_path / "remote", tmp_path / "local"
        run_module("eval", "recipe", recipe.path, "--limit", "3", "--out", tmp_path / "report-remote",
                   "--base-url", proxy.url, env={"SLINGSHOT_RESULTS_DIR": str(remote)}, check=True)
        run_module("eval", "recipe", recipe.path, "--limit", "3", "--out", tmp_path / "report-local",
                   env={"SLINGSHOT_RESULTS_DIR": str(local)}, check=True)
        asked = [json.loads(body) for path, body in proxy.bodies if path == "/v1/chat/completions"]
        rendered = [post(url, "/tokenize", {"model": b["model"], "messages": b["messages"]}) for b in asked]
        on_second = [post(proxy.url, "/v1/chat/completions", {**b, "model": "second"}) for b in asked
                     if b["model"] == recipe.name]
    finally:
        proxy.stop()
        process.terminate()
        process.wait(timeout=60)

    remote_rows, local_rows = rows_by_label(remote), rows_by_label(local)
    assert sorted(remote_rows) == sorted(local_rows) == sorted([
        "smollm2-135m-instruct (base, 0-shot)", "smollm2-135m-instruct (base, 3-shot)", f"{recipe.name} (tuned)"])
    assert {label: store.read_meta()["backend"] for label, store in remote_rows.items()} == dict.fromkeys(remote_rows, "openai")
    for label in local_rows:  # the same questions, the same prompts (hash of the messages), the same answers
        mine, theirs = local_rows[label].load_predictions(), remote_rows[label].load_predictions()
        assert sorted(mine) == sorted(theirs) and len(mine) == 3
        for qid in mine:
            assert theirs[qid]["prompt_hash"] == mine[qid]["prompt_hash"], (label, qid)
            assert theirs[qid]["raw_output"] == mine[qid]["raw_output"], (label, qid)
            assert theirs[qid]["tokens_in"] == mine[qid]["tokens_in"], (label, qid)
    assert len(asked) == 9 and {b["model"] for b in asked} == {"smollm2-135m-instruct", recipe.name}
    local_hashes = {p["prompt_hash"] for store in local_rows.values() for p in store.load_predictions().values()}
    assert {prompt_hash(b["messages"]) for b in asked} == local_hashes  # what the server got: the local messages
    assert all(b["temperature"] == 0 for b in asked)

    # the prompt the server renders for each message list is the local backend's, text and token ids
    for adapter, models in ((None, {"smollm2-135m-instruct"}), (recipe.output_dir, {recipe.name})):
        backend = LocalBackend(base, adapter=adapter)
        for body, server_side in zip(asked, rendered):
            if body["model"] in models:
                text = backend.tokenizer.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
                assert server_side["prompt"].encode() == text.encode()
                assert server_side["tokens"] == list(backend.encode(body["messages"]))
        del backend
    # the second adapter answers as the local backend with that adapter does
    tuned = [b["messages"] for b in asked if b["model"] == recipe.name]
    answers = {}
    LocalBackend(base, adapter=second).generate(list(enumerate(tuned)), recipe.eval_settings()["max_new_tokens"],
                                                lambda i, g: answers.__setitem__(i, g.text))
    assert [r["choices"][0]["message"]["content"] for r in on_second] == [answers[i] for i in range(len(tuned))]
