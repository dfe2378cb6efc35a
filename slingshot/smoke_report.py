"""What a GPU recipe's CPU smoke run changed and which attention path it took: what
`python -m slingshot smoke` prints, and records in the run's train_summary.json."""
from slingshot.attention_path import describe
from slingshot.layout import display_path
from slingshot.smoke import CPU_ACCUMULATION, SMOKE_RUN_LENGTH, smoke_overrides

LOCAL_DATA = "the carried local data, enough rows for the run"


def smoke_changes(recipe, smoke):
    """[{key, recipe, smoke, why}]: every key the smoke recipe has of other value than the recipe, its
    slingshot block's included (the dataset paths, output_dir and dataset_prepared_path, which every
    derived recipe has of its own, aside). Keys a recipe leaves unset are None."""
    why = {**{k: "only shortens the run" for k in SMOKE_RUN_LENGTH},
           "gradient_accumulation_steps": f"at most {CPU_ACCUMULATION} micro batches a step on the CPU",
           **{k: reason for k, _, reason in smoke_overrides(recipe.config)}}
    old, new = settings(recipe), settings(smoke)
    return [{"key": k, "recipe": old.get(k), "smoke": new.get(k),
             "why": why.get(k, LOCAL_DATA if k.startswith("slingshot.") else "")}
            for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]


def settings(recipe):
    """The recipe's keys (slingshot block keys as slingshot.<key>), its own folders left out."""
    config = {k: v for k, v in recipe.config.items() if k not in ("slingshot", "output_dir", "dataset_prepared_path")}
    for key in ("datasets", "test_datasets"):
        config[key] = [{**d, "path": None} for d in config.get(key) or []]
    return {**config, **{f"slingshot.{k}": v for k, v in recipe.block.items()}}


def smoke_lines(recipe, summary):
    changes = summary.get("smoke_overrides") or []
    return "\n".join([describe(summary.get("attention") or {"path": "not recorded (trained before it was)"}),
                      f"the smoke run changed {len(changes)} key(s) of {display_path(recipe.path)}:"] +
                     [f"  {c['key']}: {c['recipe']!r} -> {c['smoke']!r} ({c['why']})" for c in changes])
