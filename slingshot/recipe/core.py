"""The Recipe object: an Axolotl YAML file plus a `slingshot:` block that Axolotl ignores.

A recipe owns its paths: data/<name>/ and runs/<name>/, from its file name (slingshot.layout.
recipe_home); slingshot.recipe.paths fills them in and guards them. Loading and checking a recipe
file is slingshot.recipe.load's job.
"""
import re
from dataclasses import dataclass
from pathlib import Path

from slingshot import layout
from slingshot.errors import UserError
from slingshot.recipe.settings import setting
from slingshot.tasks import TASKS, get_task

# Keys every task's `slingshot:` block may hold, besides the task's RECIPE_DEFAULTS.
COMMON_KEYS = {
    "task": f"which task module builds the data and scores the model ({', '.join(TASKS)})",
    "eval": "generation settings for the eval, e.g. max_new_tokens, batch_size, quantize (auto|none|4bit|8bit)",
    "hardware": "name and usd_per_hour of the machine the recipe is sized for (for cost per answer)",
    "allow_test_contamination": "true to train on data that holds test examples (reports mark them seen)",
    "sweep": "values to try, e.g. {train_size: [32, 64, 128], lora_r: [8, 32]} (make sweep)",
}


class RecipeError(UserError):
    """A recipe problem; the message names the file, the line and the key."""


@dataclass
class Recipe:
    path: Path
    config: dict          # the whole YAML, as Axolotl reads it
    lines: dict           # top-level key -> line number
    deprecations: tuple = ()  # what Axolotl's validation says is deprecated in this recipe

    @property
    def name(self):
        return layout.recipe_name(self.path)

    @property
    def block(self):
        return self.config.get("slingshot") or {}

    @property
    def task(self):
        return get_task(self.block["task"])

    def params(self):
        """The task's data parameters: the block's values over the task's defaults."""
        task = self.task
        return {k: self.block.get(k, v) for k, v in task.RECIPE_DEFAULTS.items()}

    def eval_settings(self):
        return {**self.task.EVAL_DEFAULTS, **(self.block.get("eval") or {})}

    @property
    def paths(self):
        """Where the recipe's data, run, summary, adapter and exports are (see slingshot.layout)."""
        params = self.params()
        split = layout.test_split_name(params["test_split"], params["source"])
        return layout.recipe_paths(self.config, self.block["task"], split)

    @property
    def output_dir(self):
        return self.paths["run"]

    def where(self, key):
        """file:line of a key ('lora_r', 'slingshot.eval.shots'); a key the file lacks: its parent's line."""
        while key and key not in self.lines:
            key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key) if re.search(r"[.\[]", key) else ""
        return f"{self.path}:{self.lines[key]}" if key else str(self.path)


    def setting(self, key):
        """An Axolotl setting: the recipe's value, or Axolotl's default (slingshot.recipe.settings)."""
        return setting(self.config, key)
