"""Bad recipe values end in `error: <file>:<line>: <key>: ...` (the value's own line, and the fix) from
`python -m data_prep` and `python -m eval recipe`, never a traceback or a silently different training."""
import re

import pytest
import yaml

from data_prep.__main__ import main as prepare
from slingshot.errors import UserError
from slingshot.recipe import axolotl_keys, load_recipe, shipped_recipes
from slingshot.recipe.values import AXOLOTL_VALUES, recipe_values, value_checks, value_problem
from slingshot.train import axolotl_config
from tests.helpers import run_module, write_recipe

BOMB = "".join(f"bomb{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9 if i else ['x'] * 9)}]\n" for i in range(9))


def line_of(text, pattern):
    return next(i for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line))


def edit_text(path, old, new):
    text = path.read_text()
    assert re.search(old, text, flags=re.M), old
    path.write_text(re.sub(old, new, text, count=1, flags=re.M))
    return path.read_text()


# (name, text replaced (regex), replacement, the line the error names (regex), what the message says)
CASES = [
    ("validation_size as a percentage", r"validation_size: .*", "validation_size: 10%", r"validation_size",
     r"slingshot.validation_size: expected a count >= 1.*'10%'"),
    ("validation_size zero", r"validation_size: .*", "validation_size: 0", r"validation_size",
     r"slingshot.validation_size: expected a count >= 1.*got 0"),
    ("infinite percentage", r"train_size: .*", "train_size: inf%", r"train_size",
     r"slingshot.train_size: 'inf%': a percentage must be a number above 0 and at most 100"),
    ("percentage above 100", r"train_size: .*", "train_size: 150%", r"train_size", r"at most 100"),
    ("seed not a number", r"^  seed: .*", "  seed: abc", r"^  seed", r"slingshot.seed: expected an integer, got 'abc'"),
    ("Axolotl's seed not a number", r"^seed: .*", "seed: abc", r"^seed",
     r": seed: expected an integer >= 0, got 'abc'"),
    ("numeric top-level key", r"^lora_r: .*", "lora_r: 32\n123: x", r"^123", r"key 123 is not a name"),
    ("duplicated key", r"^lora_r: .*", "lora_r: 32\nlora_r: 8", r"^lora_r: 8",
     r"key 'lora_r' is given twice \(first at line \d+\)"),
    ("duplicated slingshot key", r"^  seed: .*", "  seed: 0\n  seed: 1", r"^  seed: 1", r"key 'seed' is given twice"),
    ("alias bomb", r"^lora_r: .*", "lora_r: 32\n" + BOMB.rstrip(), r"^bomb5:",  # the first anchor past the bound
     r"YAML aliases here expand to more than 100,000 values"),
    ("prepared path is the repository", r"^dataset_prepared_path: .*", "dataset_prepared_path: .",
     r"^dataset_prepared_path", r"dataset_prepared_path: \. is not this recipe's folder.*Fix: delete the key"),
    ("prepared path is the data folder", r"^dataset_prepared_path: .*", "dataset_prepared_path: data",
     r"^dataset_prepared_path", r"dataset_prepared_path: data is not this recipe's folder.*Fix: delete the key"),
    ("hub source while offline", r"source: .*", "source: hub:rajpurkar/squad", r"source:",
     r"slingshot.source: hub:rajpurkar/squad needs the Hugging Face hub.*offline.*source: local"),
    # Axolotl's schema takes these and training fails later, or trains something else
    ("negative rank", r"^lora_r: .*", "lora_r: -8", r"^lora_r",
     r": lora_r: expected an integer >= 1 and <= 65536, got -8; e.g. lora_r: 16"),
    ("absurd rank", r"^lora_r: .*", "lora_r: 99999999999999999999999999999", r"^lora_r",
     r": lora_r: expected an integer >= 1 and <= 65536, got 99999999999999999999999999999"),
    ("fractional alpha", r"^lora_alpha: .*", "lora_alpha: 0.5", r"^lora_alpha",
     r"lora_alpha: expected an integer >= 1 and <= 4194304, got 0.5"),
    ("dropout of one", r"^lora_dropout: .*", "lora_dropout: 1", r"^lora_dropout",
     r"lora_dropout: expected a number >= 0 and < 1, got 1"),
    ("zero epochs", r"^num_epochs: .*", "num_epochs: 0", r"^num_epochs", r"num_epochs: expected a number > 0, got 0"),
    ("negative learning rate", r"^learning_rate: .*", "learning_rate: -1", r"^learning_rate",
     r"learning_rate: expected a number > 0, got -1; e.g. learning_rate: 0.0002"),
    ("learning rate nan", r"^learning_rate: .*", "learning_rate: .nan", r"^learning_rate",
     r"learning_rate: .* got nan"),
    ("quoted learning rate", r"^learning_rate: .*", "learning_rate: '1e-4'", r"^learning_rate",
     r"learning_rate: .* got '1e-4' \(text, because it is quoted; write the number without quotes\)"),
    ("batch size as a word", r"^micro_batch_size: .*", "micro_batch_size: eight", r"^micro_batch_size",
     r"micro_batch_size: expected an integer >= 1, got 'eight'"),
    ("no accumulation", r"^gradient_accumulation_steps: .*", "gradient_accumulation_steps: 0",
     r"^gradient_accumulation_steps", r"gradient_accumulation_steps: expected an integer >= 1, got 0"),
    ("one eval over one epoch (Axolotl would run none)", r"^evals_per_epoch: .*", "evals_per_epoch: 1",
     r"^evals_per_epoch", r"evals_per_epoch: 1 with num_epochs: 1 makes Axolotl skip validation"),
    ("zero sequence length", r"^sequence_len: .*", "sequence_len: 0", r"^sequence_len",
     r"sequence_len: expected an integer >= 1"),
    ("negative warmup", r"^warmup_steps: .*", "warmup_steps: -2", r"^warmup_steps",
     r"warmup_steps: expected an integer >= 0"),
    ("negative weight decay", r"^weight_decay: .*", "weight_decay: -0.1", r"^weight_decay",
     r"weight_decay: expected a number >= 0"),
    ("seed true", r"^seed: .*", "seed: true", r"^seed", r": seed: expected an integer >= 0, got True"),
    # the slingshot block: every key, nested ones included, at its own line
    ("slingshot typo", r"^  validation_size: .*", "  validation_size: 32\n  train_sise: 64", r"train_sise",
     r"unknown slingshot key 'train_sise' .*did you mean 'train_size'"),
    ("eval typo", r"^    max_new_tokens: .*", "    max_new_token: 32", r"max_new_token:",
     r"unknown slingshot.eval key 'max_new_token' \(it would be silently ignored\); did you mean 'max_new_tokens'"),
    ("hardware typo", r"^    usd_per_hour: .*", "    usd_per_hr: 0.1", r"usd_per_hr",
     r"unknown slingshot.hardware key 'usd_per_hr'.*did you mean 'usd_per_hour'"),
    ("shots as a word", r"^    max_new_tokens: .*", "    max_new_tokens: 32\n    shots: lots", r"shots:",
     r"slingshot.eval.shots: expected an integer >= 0, got 'lots'; e.g. shots: 3"),
    ("eval batch size zero", r"^    max_new_tokens: .*", "    max_new_tokens: 32\n    batch_size: 0", r"^    batch_size:",
     r"slingshot.eval.batch_size: expected 'auto' or an integer >= 1, got 0"),
    ("unknown quantization", r"^    max_new_tokens: .*", "    max_new_tokens: 32\n    quantize: 3bit", r"quantize:",
     r"slingshot.eval.quantize: expected one of auto, none, 4bit, 8bit, got '3bit'"),
    ("max_new_tokens zero", r"^    max_new_tokens: .*", "    max_new_tokens: 0", r"max_new_tokens:",
     r"slingshot.eval.max_new_tokens: expected an integer >= 1, got 0"),
    ("eval not a mapping", r"^  eval:\n    max_new_tokens: .*", "  eval: fast", r"^  eval:",
     r"slingshot.eval: expected a mapping such as \{max_new_tokens: 32, shots: 3\}, got 'fast'"),
    ("no gpus", r"^    usd_per_hour: .*", "    usd_per_hour: 0.1\n    gpus: 0", r"gpus:",
     r"slingshot.hardware.gpus: expected an integer >= 1, got 0"),
    ("negative price", r"^    usd_per_hour: .*", "    usd_per_hour: -1", r"usd_per_hour:",
     r"slingshot.hardware.usd_per_hour: expected a number >= 0, got -1"),
    # the recipe's own sweep block: checked when the recipe is read, not when the sweep runs
    ("null in a sweep", r"^  task: squad", "  task: squad\n  sweep:\n    train_size: [32]\n    lora_r: [8, null]", r"^    lora_r:",
     r"slingshot.sweep.lora_r: null is not a value to train with"),
]

# Checked after Axolotl's schema is imported (seconds a process): read in this one
IN_PROCESS = [
    ("dataset typo", r"^  field_messages: .*", "  feild_messages: messages", r"feild_messages",
     r"unknown key in datasets\[0\] 'feild_messages'.*did you mean 'field_messages'"),
    ("typo in a sweep", r"^  task: squad", "  task: squad\n  sweep:\n    lora_rank: [8, 16]", r"lora_rank:",
     r"slingshot.sweep.lora_rank: unknown key 'lora_rank' .*did you mean 'lora_r'.*a sweep varies"),
    ("bad value in a sweep", r"^  task: squad", "  task: squad\n  sweep:\n    num_epochs: [1, 0]", r"num_epochs: \[",
     r"slingshot.sweep.num_epochs: expected a number > 0, got 0"),
    ("the same value twice in a sweep", r"^  task: squad", "  task: squad\n  sweep:\n    learning_rate: [1e-4, 0.0001]",
     r"learning_rate: \[", r"slingshot.sweep.learning_rate: repeats a value: 0.0001 and 0.0001 are the same"),
    ("datasets in a sweep", r"^  task: squad", "  task: squad\n  sweep:\n    test_datasets: [a, b]", r"test_datasets: \[",
     r"slingshot.sweep.test_datasets: cannot be swept: .*; a sweep varies Axolotl training settings .* train_size"),
]


@pytest.mark.parametrize("name, old, new, line, message", CASES, ids=[c[0] for c in CASES])
def test_bad_value_is_an_error_naming_file_and_line(tmp_path, capsys, name, old, new, line, message):
    path = write_recipe(tmp_path)
    text = edit_text(path, old, new)
    assert prepare([str(path)]) == 2  # data prep's command, in this process (the suite runs offline)
    stderr = capsys.readouterr().err
    error = stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: {path}:{line_of(text, line)}: "), error
    assert re.search(message, error), error
    assert len(stderr) < 2000  # a short message, not the expanded document
    assert not (tmp_path / "data").exists()  # nothing written


@pytest.mark.parametrize("name, old, new, line, message", IN_PROCESS, ids=[c[0] for c in IN_PROCESS])
def test_bad_key_found_with_axolotls_schema_names_its_own_line(tmp_path, name, old, new, line, message):
    path = write_recipe(tmp_path)
    text = edit_text(path, old, new)
    with pytest.raises(UserError) as error:
        load_recipe(path)
    assert str(error.value).startswith(f"{path}:{line_of(text, line)}: "), str(error.value)
    assert re.search(message, str(error.value)), str(error.value)


def test_yaml_1_1_exponents_are_numbers_up_to_what_axolotl_reads(tmp_path):
    """PyYAML reads `1e-4` (no dot) as text; a recipe reads it as the number, and so does Axolotl."""
    path = write_recipe(tmp_path)
    edit_text(path, r"^learning_rate: .*", "learning_rate: 1e-4")
    text = edit_text(path, r"^weight_decay: .*", "weight_decay: 5E-5")
    assert yaml.safe_load(text)["learning_rate"] == "1e-4"  # the quirk itself
    recipe = load_recipe(path)
    assert recipe.config["learning_rate"] == 0.0001 and recipe.config["weight_decay"] == 0.00005
    runnable = yaml.safe_load(yaml.safe_dump(axolotl_config(recipe), sort_keys=False))  # as train() writes axolotl.yml
    assert runnable["learning_rate"] == 0.0001 and isinstance(runnable["weight_decay"], float)
    assert recipe.block["hardware"]["name"] == "2-core x86-64 CPU, 24 GB"  # words stay words


def test_eval_recipe_names_a_bad_eval_setting_instead_of_a_traceback(tmp_path):
    path = write_recipe(tmp_path)
    text = edit_text(path, r"^    max_new_tokens: .*", "    max_new_tokens: 32\n    shots: lots")
    result = run_module("eval", "recipe", path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip() == (f"error: {path}:{line_of(text, r'shots:')}: slingshot.eval.shots: expected an "
                                     f"integer >= 0, got 'lots'; e.g. shots: 3")


def test_value_problem_says_why_and_gives_an_example():
    checks = value_checks("squad")
    assert value_problem(checks, "lora_r", 16) is None and value_problem(checks, "not_checked", -1) is None
    assert value_problem(checks, "lora_r", True) == "expected an integer >= 1 and <= 65536, got True; e.g. lora_r: 16"
    assert value_problem(checks, "slingshot.eval.shots", "lots") == "expected an integer >= 0, got 'lots'; e.g. shots: 3"
    assert ("slingshot.eval.shots", 3) in recipe_values({"lora_r": 8, "slingshot": {"eval": {"shots": 3}}})


def test_shipped_recipes_hold_only_checked_values():
    for path in shipped_recipes():
        recipe = load_recipe(path)
        checks = value_checks(recipe.block["task"])
        assert not [key for key, value in recipe_values(recipe.config) if value_problem(checks, key, value)]
    assert set(AXOLOTL_VALUES) <= axolotl_keys()  # every checked key is one Axolotl reads


def test_a_prepared_path_outside_the_repo_must_lie_in_the_run(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c.update(dataset_prepared_path=str(tmp_path / "elsewhere")))
    with pytest.raises(UserError, match=r"recipe.yml:\d+: dataset_prepared_path: .* is outside the run folder"):
        load_recipe(path)


def test_good_values_pass(tmp_path):
    path = write_recipe(tmp_path, edit=lambda c: c["slingshot"].update(train_size="4%", seed=7))
    recipe = load_recipe(path)
    assert recipe.block["train_size"] == "4%" and recipe.lines["slingshot.seed"] > recipe.lines["slingshot"]
