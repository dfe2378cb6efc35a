"""Hostile review of many adapters on one server (eval/serving.py, eval/serve.py, eval serve --recipe, eval recipe
--base-url): names a server cannot tell apart or a command line cannot carry, adapters of another base model, a
tokenizer that fails, and vLLM run from outside the repository."""
import http.client
import json
import os

import pytest

from eval import serving
from eval.backends.local import check_adapter_base
from slingshot.errors import UserError
from tests.helpers import write_recipe
from tests.helpers.servers import WordBackend, start_server, stop_server


def call(server, method, path, body):
    """(status, parsed JSON) of one request to a server."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request(method, path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    status, payload = response.status, json.loads(response.read())
    connection.close()
    return status, payload


def adapter(folder, rank=8, base="models/smollm2-135m-instruct"):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "base_model_name_or_path": base}))
    return folder


@pytest.mark.parametrize("name", ["a=b", "line\nbreak", "tab\there", " "])
def test_a_served_name_that_name_eq_path_cannot_carry_is_refused_for_both_servers(tmp_path, name):
    adapters = [(name, adapter(tmp_path / "run"))]
    with pytest.raises(serving.ServingError, match="served name"):
        serving.vllm_command("models/smollm2-135m-instruct", adapters)
    with pytest.raises(serving.ServingError, match="served name"):
        serving.eval_serve_arguments("models/smollm2-135m-instruct", adapters)


def test_an_adapter_named_as_the_base_is_refused_for_vllm_too(tmp_path):
    """eval serve refused it; vLLM's command took it, and the tuned row would have asked the base."""
    with pytest.raises(serving.ServingError, match="is the base model's"):
        serving.vllm_command("models/smollm2-135m-instruct", [("smollm2-135m-instruct", adapter(tmp_path / "r"))])


def test_an_adapter_trained_on_another_base_is_refused_naming_its_config(tmp_path):
    other = adapter(tmp_path / "other", base="models/smollm2-360m-instruct")
    with pytest.raises(UserError, match=r"adapter_config.json: base_model_name_or_path is 'models/smollm2-360m"):
        serving.vllm_command("models/smollm2-135m-instruct", [("tuned", other)])
    with pytest.raises(UserError, match="base_model_name_or_path"):
        check_adapter_base(other, "models/smollm2-135m-instruct")
    # the same model by its hub id, an absolute folder, or a config without the key: served
    check_adapter_base(adapter(tmp_path / "hub"), "HuggingFaceTB/SmolLM2-135M-Instruct")
    check_adapter_base(adapter(tmp_path / "abs", base="/somewhere/models/smollm2-135m-instruct/"),
                       "models/smollm2-135m-instruct")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "adapter_config.json").write_text(json.dumps({"r": 8}))
    check_adapter_base(tmp_path / "bare", "models/smollm2-135m-instruct")


def test_a_named_adapter_with_a_control_character_is_refused_on_the_command_line():
    with pytest.raises(UserError, match="control character"):
        serving.parse_adapter_args(["a\x1b[2Jb=runs/x"])


def test_eval_recipe_through_a_server_refuses_a_recipe_named_as_its_base(tmp_path):
    from eval.recipe import row_backend
    from slingshot.recipe import load_recipe
    folder = tmp_path / "smollm2-135m-instruct"  # recipe.yml: the recipe's name is its folder's
    folder.mkdir()
    recipe = load_recipe(write_recipe(folder))
    assert recipe.name == serving.served_model(recipe, False)
    with pytest.raises(serving.ServingError, match="cannot tell the tuned model from the base"):
        row_backend(recipe, recipe.output_dir, base_url="http://127.0.0.1:9/v1")


class FailingRender(WordBackend):
    def render(self, messages, adapter=None):
        raise ValueError("the chat template failed")


def test_a_tokenizer_that_fails_is_a_500_answer_not_a_dropped_connection():
    server = start_server(FailingRender())
    try:
        status, body = call(server, "POST", "/tokenize", {"model": "word-model", "messages": [
            {"role": "user", "content": "hi"}]})
    finally:
        stop_server(server)
    assert status == 500 and "the chat template failed" in body["error"]["message"]


def test_vllm_runs_from_the_repository_whose_relative_paths_its_command_holds(tmp_path, monkeypatch):
    """Started from another folder, vLLM would read runs/<run> and models/<base> relative to it."""
    from eval.commands import serve as command
    (tmp_path / "recipe").mkdir()
    path = write_recipe(tmp_path / "recipe")
    (adapter(tmp_path / "recipe" / "run") / "adapter_model.safetensors").write_bytes(b"weights")
    root = tmp_path / "repo"
    (root / ".venv-vllm" / "bin").mkdir(parents=True)
    (root / ".venv-vllm" / "bin" / "vllm").write_text("")
    monkeypatch.setattr("slingshot.layout.ROOT", root)
    monkeypatch.chdir(tmp_path)
    seen = {}

    class Exec(Exception):
        pass

    def execv(program, argv):
        seen.update(program=str(program), argv=argv, cwd=os.getcwd())
        raise Exec

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(Exec):
        command.serve_recipe(command_args(path))
    assert seen["cwd"] == str(root) and seen["program"] == str(root / ".venv-vllm" / "bin" / "vllm")


def command_args(path):
    import argparse
    from eval.commands.serve import add_arguments
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--recipe", str(path), "--gpu", "yes"])


class PathAdapters(WordBackend):
    """A backend whose adapters say where they were loaded from, as LocalBackend's do."""

    def __init__(self, adapters):
        super().__init__()
        self.adapters, self.active = {name: {"path": path} for name, path in adapters.items()}, None

    def select_adapter(self, name):
        self.active = name


def test_eval_recipe_through_a_server_refuses_a_missing_adapter_or_another_recipes_run_folder(tmp_path):
    """Two recipes of one name (lora.yml in two folders): the server started for one must not score the other."""
    ours, theirs = adapter(tmp_path / "a" / "run"), adapter(tmp_path / "b" / "run")
    server = start_server(PathAdapters({"lora": theirs, "remote": "/elsewhere/runs/lora"}), served_name="base",
                          models={"base": None, "lora": "lora", "remote": "remote"})
    try:
        with pytest.raises(serving.ServingError, match=r"serves 'lora' from .*b/run, not .*a/run"):
            serving.check_served_model(server.url, "lora", ours)
        with pytest.raises(serving.ServingError, match=r"does not serve 'other' \(it serves 'base', 'lora', 'remote'\)"):
            serving.check_served_model(server.url, "other", ours)
        serving.check_served_model(server.url, "lora", theirs)
        serving.check_served_model(server.url, "remote", ours)  # a folder on the server's host: not comparable here
        serving.check_served_model(server.url, "base", None)
    finally:
        stop_server(server)
    serving.check_served_model("http://127.0.0.1:9/v1", "lora", ours)  # no listing: the requests will say


def test_the_largest_rank_of_an_adapters_rank_pattern_sets_vllms_max_lora_rank(tmp_path):
    """peft's rank_pattern gives some modules a larger rank than r: vLLM must be sized for it."""
    folder = adapter(tmp_path / "run", rank=8)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "rank_pattern": {"q_proj": 48}}))
    assert serving.vllm_max_lora_rank([("a", folder)]) == 64
    (folder / "adapter_config.json").write_text(json.dumps({"r": True}))
    with pytest.raises(serving.ServingError, match="'r' is True"):
        serving.lora_rank(folder)


def test_make_serve_refuses_a_recipe_and_a_sweep_recipe_at_once():
    """RECIPE=a.yml SWEEP=b.yml served b's sweep and dropped a without a word."""
    import subprocess
    from slingshot.layout import ROOT
    dry = subprocess.run(["make", "--no-print-directory", "-n", "serve", "RECIPE=a.yml", "SWEEP=b.yml"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode != 0 and "RECIPE= or SWEEP=<recipe>, not both" in dry.stderr
