"""Export: peft merge, llama.cpp's converter and quantizer, and GGUF files scored through a real
llama.cpp server on 127.0.0.1 (slow), plus the fast layer: drop messages and the threshold."""
import os
import json
import threading
import time

import pytest

from eval.exports import ExportDropError, check_drops, compare_to_merged, drop_message
from slingshot.layout import resolve
from slingshot.export import ExportError, export
from slingshot.recipe import load_recipe
from slingshot.runtimes import check_prompts, read_conversations
from tests.helpers import DEFAULT_RECIPE, run_in_process


class FakeStore:  # a stored run's predictions, as RunStore.load_predictions returns them
    def __init__(self, ems, answers=None):
        self.rows = {f"q{i}": {"metrics": {"exact_match": em}, "answer": (answers or {}).get(i, str(em))}
                     for i, em in enumerate(ems)}

    def load_predictions(self):
        return self.rows


def test_drop_is_paired_and_named():
    merged = FakeStore([100.0] * 40)
    q4 = FakeStore([100.0] * 30 + [0.0] * 10)
    tests = compare_to_merged(merged, {"Q4_K_M": q4})
    assert tests["Q4_K_M"]["diff"] == pytest.approx(-25.0) and tests["Q4_K_M"]["answers_differ"] == 10
    message = drop_message("Q4_K_M", tests["Q4_K_M"])
    assert message.startswith("Q4_K_M loses 25.0 EM [") and "p=" in message and "10 of 40" in message
    with pytest.raises(ExportDropError, match="Q4_K_M loses 25.0 EM"):
        check_drops(tests, max_drop=3.0)
    check_drops(tests, max_drop=30.0)  # under the threshold: passes


def test_unknown_quant_type_is_named():
    with pytest.raises(ExportError, match="Q3_X"):
        export(load_recipe(DEFAULT_RECIPE), types=["Q3_X"])


@pytest.fixture(scope="module")
def exported(short_run):
    """The shared 3-step adapter of the default recipe, exported to F32, F16, Q8_0 and the adapter alone."""
    pytest.importorskip("llama_cpp", reason="run `make llamacpp`")
    from slingshot.commands.export import main as export_command
    recipe = short_run
    code, out, err = run_in_process(export_command, recipe.path, "--types", "F32,F16,Q8_0,LORA")
    assert code == 0, out[-3000:] + err[-3000:]
    recipe.export_stdout = out
    return recipe


@pytest.mark.slow
def test_export_files_and_eos(exported):
    folder = exported.output_dir / "export"
    manifest = json.loads((folder / "export.json").read_text())
    assert (folder / "merged" / "model.safetensors").exists()
    assert (folder / "merged" / "chat_template.jinja").exists() or "chat_template" in (
        folder / "merged" / "tokenizer_config.json").read_text()
    for quant in ("F32", "F16", "Q8_0"):
        entry = manifest["gguf"][quant]
        assert resolve(entry["path"]).name == f"{exported.name}-{quant}.gguf"
        assert entry["eos_token"] == "<|im_end|>" and entry["chat_template_matches"]
        assert entry["vocabulary"] == "gpt2" and entry["pre_tokenizer"] == "smollm"  # llama.cpp knows the tokenizer
    sizes = {q: manifest["gguf"][q]["bytes"] for q in ("F32", "F16", "Q8_0")}
    assert sizes["F32"] > sizes["F16"] > sizes["Q8_0"]
    lora = manifest["gguf"]["LORA"]
    assert lora["bytes"] < sizes["F16"] / 10 and lora["base_bytes"] == pytest.approx(sizes["F16"], rel=0.01)
    assert lora["eos_token"] == "<|im_end|>"  # the base GGUF carries the run's tokenizer and template


@pytest.mark.slow
def test_modelfiles_and_commands(exported):
    """Each export gets an Ollama Modelfile whose TEMPLATE reproduces the trained prompt, stops at the
    end of turn, decodes greedily with a context that fits the task, and `make export` prints how to
    run it with Ollama and llama.cpp's servers."""
    folder = exported.output_dir / "export"
    manifest = json.loads((folder / "export.json").read_text())
    n_test = len(read_conversations(exported.paths["test"]))
    for quant, entry in manifest["gguf"].items():
        text = resolve(entry["modelfile"]).read_text()
        model_line = f"FROM ./base-F16.gguf\nADAPTER ./{exported.name}-LORA.gguf" if quant == "LORA" \
            else f"FROM ./{exported.name}-{quant}.gguf"
        assert model_line in text, text
        assert 'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}' \
               '<|im_start|>assistant\n"""' in text
        assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in text
        assert 'PARAMETER stop """<|im_end|>"""' in text and "PARAMETER temperature 0" in text
        assert f"PARAMETER num_ctx {manifest['context_length']}" in text and manifest["context_length"] >= 2048
        assert entry["prompts"]["ollama_prompts_identical"] == entry["prompts"]["n"] == n_test
        for command in entry["commands"]:
            assert command in exported.export_stdout
        assert any(c.startswith("ollama create ") for c in entry["commands"])
        assert any(c.startswith("llama-server -m ") and "--jinja" in c for c in entry["commands"])
    assert " --lora " in " ".join(manifest["gguf"]["LORA"]["commands"])


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["F16", "LORA"])
def test_runtime_prompt_is_the_trained_prompt(exported, quant):
    """On every test question, the prompt llama.cpp's server builds from the GGUF's embedded template,
    and the prompt of the Modelfile's template, equal the model's own chat template byte for byte and
    token for token."""
    manifest = json.loads((exported.output_dir / "export" / "export.json").read_text())
    entry = manifest["gguf"][quant]
    conversations = read_conversations(exported.paths["test"])
    prompts = check_prompts(resolve(entry.get("base_path", entry["path"])), resolve(manifest["merged"]["path"]),
                            conversations)
    assert prompts["n"] == len(conversations) == 200
    assert prompts["llama_cpp_prompts_identical"] == prompts["llama_cpp_tokens_identical"] == 200, prompts
    assert prompts["ollama_layout"] == "chatml" and prompts["ollama_prompts_identical"] == 200, prompts


@pytest.mark.slow
def test_served_export_stops_at_end_of_turn(exported):
    """Served by llama.cpp with the GGUF's own template, answers end at <|im_end|>: a generous token
    budget is never used up and no answer runs on into another turn."""
    from openai import OpenAI

    from eval.exports import LlamaServer

    manifest = json.loads((exported.output_dir / "export" / "export.json").read_text())
    entry = manifest["gguf"]["Q8_0"]
    conversations = read_conversations(exported.paths["test"], limit=8)
    with LlamaServer(resolve(entry["path"]), n_ctx=manifest["context_length"]) as server:
        client = OpenAI(base_url=server.base_url, api_key="not-needed")
        for messages in conversations:
            reply = client.chat.completions.create(model="export", messages=messages, max_tokens=300, temperature=0)
            choice = reply.choices[0]
            assert choice.finish_reason == "stop" and reply.usage.completion_tokens < 300, choice
            for marker in ("<|im_end|>", "<|im_start|>", "\nuser\n", "\nassistant\n"):
                assert marker not in choice.message.content, choice.message.content


@pytest.mark.slow
def test_exports_agree_with_adapter(exported, tmp_path):
    """The merged model and the F32/F16 GGUFs answer as the adapter does on nearly every question;
    the few that differ come from float rounding of the merged weights (and fp16 in the GGUF)."""
    from eval.backends.local import LocalBackend
    from eval.exports import score_exports
    from eval.run import evaluate
    from slingshot.layout import test_split_path

    n = 12
    split = test_split_path("squad", exported.params()["test_split"])
    adapter = evaluate(LocalBackend(exported.config["base_model"], adapter=exported.output_dir), split, 32,
                       results_dir=tmp_path, limit=n, label="adapter", quiet=True)
    merged, stores = score_exports(exported, limit=n, results_dir=tmp_path)
    tests = compare_to_merged(adapter, {"merged": merged, **stores})
    assert tests["merged"]["answers_differ"] <= 1, tests
    assert tests["F32"]["answers_differ"] <= 2 and tests["F16"]["answers_differ"] <= 2, tests
    assert tests["LORA"]["answers_differ"] <= 2, tests  # the adapter applied at load time, over the F16 base
    assert len(stores["Q8_0"].load_predictions()) == n


@pytest.mark.slow
def test_killed_server_resumes_without_asking_twice(exported, tmp_path):
    from eval.exports import GGUFBackend, LlamaServer
    from eval.run import evaluate
    from slingshot.layout import test_split_path

    n = 10
    split = test_split_path("squad", exported.params()["test_split"])
    manifest = json.loads((exported.output_dir / "export" / "export.json").read_text())
    entry = manifest["gguf"]["Q8_0"]
    gguf = resolve(entry["path"])

    server = LlamaServer(gguf)
    backend = GGUFBackend(gguf, entry["sha256"], server.base_url, max_retries=0)
    predictions = []

    def kill_after_three():
        while len(predictions) < 3:
            time.sleep(0.05)
        server.process.kill()

    original = backend.generate

    def counting(items, max_new_tokens, on_result):
        def record(item_id, generation):
            predictions.append(item_id)
            on_result(item_id, generation)
        return original(items, max_new_tokens, record)

    backend.generate = counting
    threading.Thread(target=kill_after_three, daemon=True).start()
    with pytest.raises(Exception):
        evaluate(backend, split, 32, results_dir=tmp_path, limit=n, label="q8", quiet=True)
    server.stop()
    first = len(predictions)
    assert 3 <= first < n

    with LlamaServer(gguf) as again:  # another port: the stored run is found by the file's hash
        backend = GGUFBackend(gguf, entry["sha256"], again.base_url)
        store = evaluate(backend, split, 32, results_dir=tmp_path, limit=n, label="q8", quiet=True)
        assert backend.requests == n - first  # only the questions not yet answered were asked
    lines = [json.loads(line) for line in store.predictions_path.read_text().splitlines() if line.strip()]
    ids = [row["id"] for row in lines]
    assert len(ids) == len(set(ids)) == n


@pytest.mark.parametrize("config, weights, message", [
    ("{}", os.urandom(4096), "not a LoRA adapter's config"),
    ('{"peft_type": "LORA", "r": 8}', os.urandom(4096), "not a safetensors file"),
    ('{"peft_type": "LORA", "r": 8}', (2 ** 60).to_bytes(8, "little") + b"{}", "not a safetensors file"),
    ("not json", b"", "not a readable adapter config"),
    ('[1, 2]', b"", "not a LoRA adapter's config"),
])
def test_a_broken_adapter_is_named_before_anything_is_loaded(tmp_path, config, weights, message):
    from slingshot.export import check_adapter
    (tmp_path / "adapter_config.json").write_text(config)
    (tmp_path / "adapter_model.safetensors").write_bytes(weights)
    with pytest.raises(ExportError, match=message):
        check_adapter(tmp_path)
