"""Many LoRA adapters behind one OpenAI-compatible server (`make serve RECIPE=...` or `SWEEP=...`).

The adapters are a recipe's tuned run, or every trained cell of a recipe's sweep. Each is served under its
recipe's name (a sweep cell's derived recipe name), and the base model under its folder's name, the very
names `eval recipe --base-url` and `eval sweep --base-url` ask for (served_model). With an NVIDIA GPU the
server is vLLM, from its own venv (.venv-vllm, `make vllm`; docs/locks.md):

    vllm serve <base model> --served-model-name <base name> --enable-lora --max-loras N --max-lora-rank R
        --lora-modules <name>=<run folder> ... --host H --port P --seed 0 --generation-config vllm

Without one, the same names and requests go to the project's own server, eval serve with one
`--adapter name=path` per adapter (eval/serve.py: per-request adapter selection, greedy). This module only
builds the command lines; eval/commands/serve.py runs them.
"""
import json
from pathlib import Path

from slingshot.errors import UserError
from slingshot.layout import ROOT, display_path

VLLM_VENV = ".venv-vllm"
# vLLM accepts only these LoRA ranks for --max-lora-rank (its LoRAConfig); the largest adapter's rank is
# rounded up to the next one.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class ServingError(UserError):
    """Nothing to serve, or an adapter that cannot be served; the message names the recipe or folder."""


def served_model(recipe, tuned):
    """The model name a client asks the server for: the recipe's name for its adapter, else the base
    model's folder name (the name `python -m eval serve` gives a base model)."""
    return recipe.name if tuned else Path(str(recipe.config["base_model"]).rstrip("/")).name


def recipe_adapters(recipe):
    """[(served name, run folder)] of a recipe's trained adapter."""
    if not recipe.paths["adapter"].exists():
        raise ServingError(f"{display_path(recipe.output_dir)} holds no trained adapter; "
                           f"run `make train RECIPE={display_path(recipe.path)}` first")
    return [(served_model(recipe, True), recipe.output_dir)]


def sweep_adapters(recipe, spec=None):
    """[(served name, run folder)] of every trained cell of the recipe's sweep (its slingshot.sweep block, or
    `spec` as `make sweep SWEEP=...` took it); cells not trained yet are left out, but not all of them."""
    from slingshot.recipe import block_where, spec_where, sweep_grid
    from slingshot.sweep import SweepError, make_cells, parse_sweep

    grid = parse_sweep(spec) if spec else sweep_grid(recipe)
    if grid is None:
        raise SweepError(f"{recipe.path}: no slingshot.sweep block; pass the grid the sweep was run with (GRID=...)")
    cells = make_cells(recipe, grid, spec_where if spec else block_where(recipe))
    trained = [c["recipe"] for c in cells if c["recipe"].paths["adapter"].exists()]
    if not trained:
        raise ServingError(f"{recipe.path}: none of its {len(cells)} sweep cells is trained; "
                           f"run `make sweep RECIPE={display_path(recipe.path)}` first")
    return [(served_model(cell, True), cell.output_dir) for cell in trained]


def lora_rank(folder):
    """The LoRA rank `r` of a run folder's adapter_config.json."""
    config = Path(folder) / "adapter_config.json"
    try:
        rank = json.loads(config.read_text())["r"]
    except (OSError, ValueError, KeyError) as e:
        raise ServingError(f"{display_path(config)}: no LoRA rank 'r' to read ({type(e).__name__}: {e})") from None
    if not isinstance(rank, int) or rank < 1:
        raise ServingError(f"{display_path(config)}: 'r' is {rank!r}, expected a positive whole number")
    return rank


def vllm_max_lora_rank(adapters):
    """The --max-lora-rank vLLM needs for these adapters: the largest rank, rounded up to one it accepts."""
    rank = max(lora_rank(folder) for _, folder in adapters)
    fitting = [r for r in VLLM_LORA_RANKS if r >= rank]
    if not fitting:
        raise ServingError(f"LoRA rank {rank}: vLLM serves ranks up to {VLLM_LORA_RANKS[-1]}")
    return fitting[0]


def vllm_command(base_model, adapters, host="127.0.0.1", port=8000, vllm=None):
    """The argv of `vllm serve` for the base model and [(name, folder)] adapters. Greedy answers come from
    the request (temperature 0); `--generation-config vllm` keeps the model's generation_config.json from
    changing a request's defaults, and max_tokens is always sent by the eval client."""
    vllm = vllm or str(Path(VLLM_VENV) / "bin" / "vllm")
    modules = [f"{name}={path_arg(folder)}" for name, folder in adapters]
    return [vllm, "serve", path_arg(base_model), "--served-model-name", Path(str(base_model).rstrip("/")).name,
            "--enable-lora", "--max-loras", str(len(adapters)), "--max-lora-rank", str(vllm_max_lora_rank(adapters)),
            "--lora-modules", *modules, "--host", host, "--port", str(port), "--seed", "0",
            "--generation-config", "vllm"]


def eval_serve_arguments(base_model, adapters, host="127.0.0.1", port=8000):
    """The arguments of the project's own server (`python -m eval serve ...`) with the same names: the CPU path
    of `make serve`."""
    from eval.backends.local import LocalBackend

    argv = ["--model", f"{LocalBackend.PREFIX}:{path_arg(base_model)}"]
    for name, folder in adapters:
        argv += ["--adapter", f"{name}={path_arg(folder)}"]
    return argv + ["--host", host, "--port", str(port)]


def path_arg(path):
    """A path as the command line shows it: relative to the repository where it lies inside it."""
    text = str(path)
    candidate = Path(text)
    if candidate.is_absolute() and candidate.is_relative_to(ROOT):
        return str(candidate.relative_to(ROOT))
    return text


def has_gpu(nvidia_smi=None):
    """True where nvidia-smi exists and reports a driver version: vLLM's path."""
    from slingshot.locks import driver_version, parse_driver

    return parse_driver(driver_version(nvidia_smi)) is not None


def parse_adapter_args(values):
    """--adapter values as (single run folder or None, {name: folder} or None). `name=path` (any number) asks
    for per-request adapters; one bare path keeps the old single-adapter form (merged, served as base+run)."""
    values = list(values or [])
    named = [v for v in values if "=" in v]
    if not values:
        return None, None
    if not named:
        if len(values) > 1:
            raise UserError("--adapter: several adapters need names: --adapter name=runs/<run> for each")
        return values[0], None
    if len(named) != len(values):
        raise UserError("--adapter: name every adapter (name=runs/<run>) or pass one bare run folder, not both")
    adapters = {}
    for value in values:
        name, _, folder = value.partition("=")
        if not name or not folder or name in adapters:
            raise UserError(f"--adapter {value!r}: expected a new name=runs/<run> (names must differ)")
        adapters[name] = folder
    return None, adapters
