"""python -m eval serve, in process, on what it refuses before a model is loaded."""
import pytest

from eval.commands.serve import main


def test_only_a_servable_backend_is_served(capsys):
    assert main(["--model", "openai:gpt-4o-mini"]) == 2
    assert "--model 'openai:gpt-4o-mini': only hf:<folder or hub id> models can be served" in capsys.readouterr().err


def test_a_port_out_of_range_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "hf:m", "--port", "70000"])
    assert stop.value.code == 2 and "from 0 to 65535" in capsys.readouterr().err


def trained_recipe(folder, rank=8):
    """A recipe copy whose run folder holds an adapter (config and a weights file: nothing is loaded)."""
    import json
    from tests.helpers import write_recipe
    path = write_recipe(folder)
    (folder / "run").mkdir()
    (folder / "run" / "adapter_config.json").write_text(json.dumps({"r": rank}))
    (folder / "run" / "adapter_model.safetensors").write_bytes(b"weights")
    return path


def test_make_serve_prints_vllms_command_on_a_gpu_and_eval_serves_without(tmp_path, capsys):
    from slingshot.recipe import load_recipe
    path = trained_recipe(tmp_path)
    recipe = load_recipe(path)
    assert main(["--recipe", str(path), "--gpu", "yes", "--print-command", "--port", "8001"]) == 0
    assert capsys.readouterr().out.strip() == (
        f".venv-vllm/bin/vllm serve {recipe.config['base_model']} --served-model-name smollm2-135m-instruct "
        f"--enable-lora --max-loras 1 --max-lora-rank 8 --lora-modules {recipe.name}={tmp_path / 'run'} "
        f"--host 127.0.0.1 --port 8001 --seed 0 --generation-config vllm")
    assert main(["--recipe", str(path), "--gpu", "no", "--print-command"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"python -m eval serve --model hf:{recipe.config['base_model']} --adapter {recipe.name}={tmp_path / 'run'} "
        f"--host 127.0.0.1 --port 8000")


def test_make_serve_names_what_is_missing(tmp_path, capsys, monkeypatch):
    path = trained_recipe(tmp_path)
    monkeypatch.chdir(tmp_path)  # no .venv-vllm here
    assert main(["--recipe", str(path), "--gpu", "yes"]) == 2
    assert ".venv-vllm/bin/vllm is missing: `make vllm`" in capsys.readouterr().err
    assert main(["--recipe", str(path), "--sweep", str(path)]) == 2
    assert "--recipe or --sweep, not both" in capsys.readouterr().err
    assert main(["--recipe", str(path), "--model", "hf:m"]) == 2
    assert "drop --model/--adapter" in capsys.readouterr().err
    assert main(["--model", "hf:m", "--adapter", "a=runs/x", "--adapter", "runs/y"]) == 2
    assert "name every adapter" in capsys.readouterr().err


@pytest.mark.parametrize("variables, command", [
    ([], '-m eval serve --recipe "recipes/squad/smollm2-135m/lora-cpu.yml" --port 8000'),
    (["SWEEP=r.yml", "PORT=9000"], '-m eval serve --sweep "r.yml" --port 9000'),
    (["SWEEP=r.yml", "GRID=lora_r=8,16"], '-m eval serve --sweep "r.yml" --grid "lora_r=8,16" --port 8000'),
    (["RECIPE=r.yml", "SWEEP=lora_r=8,16"], '-m eval serve --sweep "r.yml" --grid "lora_r=8,16" --port 8000'),
    (["RECIPE=my recipes/r 1.yml"], '-m eval serve --recipe "my recipes/r 1.yml" --port 8000')])
def test_make_serve_runs_eval_serve_with_the_recipe_or_the_sweep(variables, command):
    import subprocess
    from slingshot.layout import ROOT
    dry = subprocess.run(["make", "--no-print-directory", "-n", "serve", *variables], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert " ".join(dry.stdout.strip().splitlines()[-1].replace("\\", "").split()).endswith(command), dry.stdout
