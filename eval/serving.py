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
from slingshot.io import has_control_characters
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
    """The largest LoRA rank of a run folder's adapter_config.json: its `r`, or a module's in `rank_pattern`."""
    config = Path(folder) / "adapter_config.json"
    try:
        settings = json.loads(config.read_text())
        pattern = settings.get("rank_pattern") or {}
        ranks = [("r", settings["r"])] + [(f"rank_pattern.{k}", v) for k, v in pattern.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ServingError(f"{display_path(config)}: no LoRA rank 'r' to read ({type(e).__name__}: {e})") from None
    for key, rank in ranks:
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ServingError(f"{display_path(config)}: '{key}' is {rank!r}, expected a positive whole number")
    return max(rank for _, rank in ranks)


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
    check_served(base_model, adapters)
    modules = [f"{name}={path_arg(folder)}" for name, folder in adapters]
    return [vllm, "serve", path_arg(base_model), "--served-model-name", Path(str(base_model).rstrip("/")).name,
            "--enable-lora", "--max-loras", str(len(adapters)), "--max-lora-rank", str(vllm_max_lora_rank(adapters)),
            "--lora-modules", *modules, "--host", host, "--port", str(port), "--seed", "0",
            "--generation-config", "vllm"]


def eval_serve_arguments(base_model, adapters, host="127.0.0.1", port=8000):
    """The arguments of the project's own server (`python -m eval serve ...`) with the same names: the CPU path
    of `make serve`."""
    from eval.backends.local import LocalBackend

    check_served(base_model, adapters)
    argv = ["--model", f"{LocalBackend.PREFIX}:{path_arg(base_model)}"]
    for name, folder in adapters:
        argv += ["--adapter", f"{name}={path_arg(folder)}"]
    return argv + ["--host", host, "--port", str(port)]


def check_served(base_model, adapters):
    """Every adapter servable under its name beside this base: a name `name=path` can carry (no '=', no
    control character), not the base's own name (the tuned row would get the base's answers), and an adapter
    trained on this base (its adapter_config.json's base_model_name_or_path names the same model folder)."""
    from eval.backends.local import check_adapter_base

    base_name = Path(str(base_model).rstrip("/")).name
    for name, folder in adapters:
        if "=" in name or has_control_characters(name) or not name.strip():
            raise ServingError(f"{display_path(folder)}: the served name {name!r} holds '=' or a control character "
                               f"(name=path could not carry it); rename the recipe")
        if name == base_name:
            raise ServingError(f"{display_path(folder)}: the adapter's served name {name!r} is the base model's; "
                               f"rename the recipe so the two can be told apart")
        check_adapter_base(folder, base_model)


def check_served_model(base_url, name, expected):
    """Before a row is scored through a server: ServingError where its /models list (when it answers one) lacks
    `name`, or says `name` is loaded from elsewhere than `expected` (the base model or the adapter's run folder:
    vLLM's and eval serve's `root`; None: not compared), so another recipe's adapter is never scored under this
    one's label."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    if urlsplit(base_url).username:  # basic auth: the OpenAI client's to send; no listing to check
        return
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=10) as response:
            listed = {m["id"]: m for m in json.loads(response.read())["data"] if isinstance(m, dict) and "id" in m}
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
        return  # no listing: the requests themselves say what is wrong (404, refused connection)
    if name not in listed:
        raise ServingError(f"--base-url {base_url} does not serve {name!r} (it serves {', '.join(map(repr, sorted(listed)[:20]))}); "
                           f"start make serve with this recipe")
    root = listed[name].get("root")  # compared where it names a folder here (not a remote host's, not a hub id)
    if expected is not None and isinstance(root, str) and Path(same_place(root)).exists() \
            and same_place(root) != same_place(expected):
        raise ServingError(f"--base-url {base_url} serves {name!r} from {root}, not {path_arg(expected)}; "
                           f"start make serve with this recipe")


def same_place(path):
    """A model or run folder as one comparable text: an absolute path resolved, a relative one from the repository."""
    candidate = Path(str(path).rstrip("/"))
    return str((candidate if candidate.is_absolute() else ROOT / candidate).resolve())


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
    named = [v for v in values if "=" in v and "/" not in v.partition("=")[0]]  # runs/lr=1e-4 is a path
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
        if not name.strip() or not folder or name in adapters or has_control_characters(name):
            raise UserError(f"--adapter {value!r}: expected a new name=runs/<run> (names must differ, "
                            f"hold no control character)")
        adapters[name] = folder
    return None, adapters
