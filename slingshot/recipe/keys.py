"""Axolotl key checks: a key Axolotl does not know (Axolotl silently drops it, so `lora_rank` would
train with the default rank) is an error naming the file, the key's line and the key meant; the
rest is validated with Axolotl's own pydantic schema."""
import difflib
import logging
import warnings

from slingshot.recipe.core import RecipeError


def axolotl_keys():
    from axolotl.utils.schemas.config import AxolotlConfigWCapabilities

    return _field_names(AxolotlConfigWCapabilities)


def dataset_keys():
    from axolotl.utils.schemas.datasets import SFTDataset

    return _field_names(SFTDataset)


def _field_names(model):
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        if field.alias:
            names.add(field.alias)
    return names


# Names people carry over from other trainers, mapped to Axolotl's.
COMMON_MISTAKES = {"lora_rank": "lora_r", "rank": "lora_r", "lr": "learning_rate", "epochs": "num_epochs",
                   "batch_size": "micro_batch_size", "max_seq_length": "sequence_len", "model": "base_model"}


def suggest(key, known):
    """The known key a typo most likely meant: same first word first, then closest spelling."""
    if COMMON_MISTAKES.get(key) in known:
        return COMMON_MISTAKES[key]
    close = difflib.get_close_matches(key, sorted(known), n=5, cutoff=0.6)
    same_prefix = [c for c in close if c.split("_")[0] == key.split("_")[0]]
    return (same_prefix or close or [None])[0]


def unknown_key(key, known, where, what):
    close = suggest(key, known)
    hint = f"; did you mean '{close}'?" if close else ""
    return RecipeError(f"{where}: unknown {what} '{key}' (it would be silently ignored){hint}")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def validate_with_axolotl(recipe):
    """Axolotl's own schema, offline (no GPU capability probe, no hub access).

    Returns the deprecation warnings Axolotl logs while validating (a deprecated key still
    trains today, and silently stops working in a later Axolotl)."""
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault
    from pydantic import ValidationError

    config = {k: v for k, v in recipe.config.items() if k != "slingshot"}
    collect = _Collect()
    axolotl_log = logging.getLogger("axolotl")
    axolotl_log.addHandler(collect)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            validate_config(DictDefault(config))
        return [m for m in collect.messages + [str(w.message) for w in caught] if "deprecat" in m.lower()]
    except ValidationError as e:
        errors = e.errors()
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in errors)
        where = recipe.where(str(errors[0]["loc"][0])) if errors and errors[0]["loc"] else recipe.path
        raise RecipeError(f"{where}: Axolotl rejects the config: {problems}") from None
    except ValueError as e:
        raise RecipeError(f"{recipe.path}: Axolotl rejects the config: {e}") from None
    finally:
        axolotl_log.removeHandler(collect)


def check_key_types(recipe):
    for key in list(recipe.config) + list(recipe.block if isinstance(recipe.block, dict) else {}):
        if not isinstance(key, str):
            where = recipe.where(str(key)) if str(key) in recipe.lines else recipe.where(f"slingshot.{key}")
            raise RecipeError(f"{where}: key {key!r} is not a name; recipe keys are words like 'lora_r'")
