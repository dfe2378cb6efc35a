"""The local backend's parts that need no model: quantization settings as Axolotl's, batches cut by length
under the budgets, the shared prefix, and the weights digest."""
import pytest

from eval.backends.local import (DEFAULT_BATCH_TOKENS, MIN_SHARED_PREFIX, LocalBackend, quantization_config,
                                 recipe_quantization, weights_digest)
from slingshot.errors import UserError


def backend(batch_size="auto", batch_tokens=DEFAULT_BATCH_TOKENS, reuse_prefix=True):
    """The real class with the settings its batching reads, without loading a model."""
    made = LocalBackend.__new__(LocalBackend)
    made.batch_size, made.batch_tokens, made.reuse_prefix = batch_size, batch_tokens, reuse_prefix
    return made


def test_quantization_as_the_recipe_trained():
    assert recipe_quantization({"adapter": "qlora"}) == "4bit" and recipe_quantization({"load_in_4bit": True}) == "4bit"
    assert recipe_quantization({"load_in_8bit": True}) == "8bit" and recipe_quantization({"adapter": "lora"}) is None
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        quantization_config("4bit", "cpu")
    with pytest.raises(ValueError, match="expected '4bit' or '8bit'"):
        quantization_config("2bit", "cuda")


def test_batches_are_length_sorted_under_the_token_budget():
    encoded = [(f"q{n}", [0] * n) for n in (50, 10, 30, 20, 40)]
    batches = list(backend(batch_tokens=80).batches(encoded))
    assert [[i for i, _ in b] for b in batches] == [["q10", "q20"], ["q30", "q40"], ["q50"]]
    assert all(len(b[-1][1]) * len(b) <= 80 for b in batches)
    assert sorted(i for b in batches for i, _ in b) == sorted(i for i, _ in encoded)


def test_a_fixed_batch_size_ignores_the_budget_and_a_cached_prefix_is_not_counted():
    encoded = [(f"q{n}", [0] * n) for n in range(100, 105)]
    assert [len(b) for b in backend(batch_size=2, batch_tokens=1).batches(encoded)] == [2, 2, 1]
    assert [len(b) for b in backend(batch_tokens=250).batches(encoded)] == [2, 2, 1]
    assert [len(b) for b in backend(batch_tokens=250).batches(encoded, skip=90)] == [5]


def test_the_shared_prefix_leaves_each_prompt_a_token_of_its_own():
    prefix = list(range(MIN_SHARED_PREFIX + 4))
    prompts = [prefix + [1, 2], prefix + [3], prefix + [1, 5]]
    assert backend().shared_prefix(prompts) == len(prefix)
    assert backend().shared_prefix([prefix, prefix + [7]]) == len(prefix) - 1
    assert backend(reuse_prefix=False).shared_prefix(prompts) == 0
    assert backend().shared_prefix([[1, 2, 3], [1, 2, 4]]) == 0  # too short to be worth a cache copy
    assert backend().shared_prefix(prompts[:1]) == 0


def test_the_weights_digest_is_cached_until_a_file_changes(tmp_path):
    with pytest.raises(UserError, match="no weight files"):
        weights_digest(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"a")
    first = weights_digest(tmp_path)
    assert weights_digest(tmp_path) == first and (tmp_path / ".slingshot-weights.json").exists()
    (tmp_path / "model.safetensors").write_bytes(b"bb")
    assert weights_digest(tmp_path) != first
