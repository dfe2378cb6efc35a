"""Path ownership: a recipe owns data/<name>/ and runs/<name>/, from its file name
(slingshot.layout.recipe_home). A recipe leaves the path keys out and `own_paths` fills them in, so a
copied and edited recipe writes only into its own folders; a path key that points into another
recipe's folders fails at load time, and `claim_folders` refuses, before anything is written, a
folder that another recipe file already wrote into."""
from pathlib import Path

import yaml

from slingshot import layout
from slingshot.io import atomic_write_text
from slingshot.recipe.core import RecipeError
from slingshot.recipe.yaml_lines import RecipeLoader
from slingshot.tasks import TASKS

# (key as the recipe writes it, how to read it from the config, how to set it)
PATH_KEYS = {
    "datasets[0].path": "train", "test_datasets[0].path": "validation",
    "output_dir": "output_dir", "dataset_prepared_path": "dataset_prepared_path",
}


def _get_path(config, key):
    if "[0]." in key:
        entries = config.get(key.split("[")[0])
        first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
        return first.get("path")
    return config.get(key)


def _set_path(config, key, value):
    if "[0]." in key:
        entries = config.get(key.split("[")[0])
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            entries[0]["path"] = value
    else:
        config[key] = value


def recipe_file_named(name):
    """The recipe under recipes/ whose name is `name`, if there is one."""
    for path in sorted(layout.RECIPES_DIR.glob("**/*.yml")):
        if layout.recipe_name(path) == name:
            return path
    return None


def own_paths(recipe):
    """Fill in the recipe's paths from its name; refuse a path into a folder it does not own.

    Inside the repo a path key must be the one its name gives (or be left out); a path outside
    the repo (a folder of your own) is allowed and guarded by claim_folders when written."""
    if recipe.name in layout.RESERVED_NAMES or recipe.name in TASKS:
        raise RecipeError(f"{recipe.path}: a recipe named {recipe.name!r} would own a folder every recipe shares "
                          f"(data/{recipe.name}/ or runs/{recipe.name}/); rename the file, e.g. my-lora.yml")
    home = layout.recipe_home(recipe.path)
    for key, home_key in PATH_KEYS.items():
        value = _get_path(recipe.config, key)
        if value is None:
            if key == "dataset_prepared_path" and isinstance(recipe.config.get("output_dir"), str):
                _set_path(recipe.config, key, f"{recipe.config['output_dir']}/prepared")  # inside the run, wherever it is
            else:
                _set_path(recipe.config, key, home[home_key])
            continue
        if not isinstance(value, str):
            continue  # Axolotl's schema check names the wrong type
        path = layout.resolve(value).resolve()
        if layout.relative_path(path) is None:
            continue  # outside the workspace and the repository
        if path == layout.resolve(home[home_key]).resolve():
            continue
        where = recipe.where(key)
        owner = layout.owner_of(path)
        if owner and owner != recipe.name:
            owner_file = recipe_file_named(owner)
            whose = f"recipe {owner}" + (f" ({layout.display_path(owner_file)})" if owner_file else "")
            problem = f"{key}: {value} is a folder of {whose}, not of this recipe ({recipe.name})"
        else:
            problem = f"{key}: {value} is not this recipe's folder"
        raise RecipeError(
            f"{where}: {problem}; training or preparing it would overwrite that folder's files. "
            f"Fix: delete the key (slingshot fills in {home[home_key]} from the recipe's file name), "
            f"or set {key}: {home[home_key]}")


def claim_folders(recipe, folders=None):
    """Mark the folders a command writes as this recipe's, before anything is written into them.

    `folders` maps each folder to the key or option that names it; by default the recipe's data and
    run folders (data prep and training). Fails if one of them already belongs to another recipe file
    that still exists (two recipes naming the same output_dir or dataset path, e.g. both outside the
    repo, or two recipe files of one name sharing reports/<name>/)."""
    if folders is None:
        folders = data_and_run_folders(recipe)
    me = layout.display_path(recipe.path)
    for folder, key in sorted(folders.items()):
        marker = folder / layout.OWNER_FILE
        if not marker.exists():
            continue
        owner = marker.read_text(encoding="utf-8").strip()
        owner_path = layout.resolve(owner)
        if owner != me and owner_path.exists() and owner_path.resolve() != recipe.path.resolve():
            raise RecipeError(
                f"{recipe.path}: {key} points at {layout.display_path(folder)}, which belongs to {owner}; "
                f"two recipes cannot share a folder (each would overwrite the other's files). "
                f"Fix: delete the path keys from {recipe.path} (its name then gives it data/<name> and "
                f"runs/<name>), or point them at a folder of its own; rename a recipe file whose name "
                f"another recipe already has")
    for folder in folders:
        atomic_write_text(folder / layout.OWNER_FILE, me + "\n")


def data_and_run_folders(recipe):
    """The folders data prep and training write, by the key that names them."""
    paths = recipe.paths
    train, validation = paths["train"].resolve(), paths["validation"].resolve()
    if train == validation:
        raise RecipeError(f"{recipe.path}: datasets[0].path and test_datasets[0].path are the same file "
                          f"({layout.display_path(train)}); validation rows would replace the training rows")
    if recipe.path.resolve() in (train, validation):
        raise RecipeError(f"{recipe.path}: a dataset path names the recipe file itself; it would be overwritten")
    data_key = "datasets[0].path / test_datasets[0].path"
    return {paths["train"].parent: data_key, paths["validation"].parent: data_key, paths["run"]: "output_dir"}


def shipped_recipes(gpu_only=False):
    """The recipes under recipes/<task>/<model>/; `gpu_only` leaves out the *-cpu ones."""
    paths = sorted(layout.RECIPES_DIR.glob("*/*/*.yml"))
    return [p for p in paths if not (gpu_only and "cpu" in p.stem)]


def distinct_trainings(paths):
    """One recipe per distinct training: recipes whose Axolotl settings are the same (paths aside),
    like the Julia cheater and unseen twins, which differ only in what they are scored on, train alike."""
    seen, distinct = set(), []
    for path in paths:
        config = yaml.load(Path(path).read_text(), Loader=RecipeLoader)
        settings = yaml.safe_dump({k: v for k, v in config.items() if k != "slingshot" and k not in PATH_KEYS},
                                  sort_keys=True)
        if settings not in seen:
            seen.add(settings)
            distinct.append(path)
    return distinct
