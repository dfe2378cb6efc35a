"""Bootstrap CIs, paired bootstrap and exact McNemar against answers derived by hand."""
import numpy as np
import pytest

from eval.stats import binomial_two_sided, bootstrap_ci, mcnemar_exact, paired_bootstrap


def test_constant_scores_have_no_spread():
    assert bootstrap_ci([42.0] * 30) == (42.0, 42.0, 42.0)


def test_two_point_sample():
    # resample means of [0, 100] are 0, 50, 100 with probability 1/4, 1/2, 1/4:
    # both 2.5% tails fall inside the point masses at 0 and 100
    mean, low, high = bootstrap_ci([0, 100])
    assert (mean, low, high) == (50.0, 0.0, 100.0)


def test_binary_ci_matches_normal_approximation():
    # 400 coin flips at exactly 50%: half-width ~ 1.96 * sqrt(0.25 / 400) * 100 = 4.9
    scores = [100.0, 0.0] * 200
    mean, low, high = bootstrap_ci(scores)
    assert mean == 50.0
    assert low == pytest.approx(50 - 4.9, abs=1.0) and high == pytest.approx(50 + 4.9, abs=1.0)


def test_seeded_and_reproducible():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 100, 120)
    assert bootstrap_ci(scores, seed=3) == bootstrap_ci(scores, seed=3)
    assert bootstrap_ci(scores, seed=3) != bootstrap_ci(scores, seed=4)
    assert bootstrap_ci(scores, confidence=0.5)[1] > bootstrap_ci(scores, confidence=0.99)[1]


def test_paired_identical_systems():
    scores = [0, 100, 100, 0, 100]
    result = paired_bootstrap(scores, scores)
    assert result["diff"] == 0 and result["ci"] == [0.0, 0.0] and result["p_value"] == 1.0


def test_paired_constant_shift_is_certain():
    b = np.random.default_rng(2).uniform(0, 90, 50)
    result = paired_bootstrap(b + 5, b, n_boot=999)
    assert result["diff"] == pytest.approx(5)
    assert result["ci"] == pytest.approx([5, 5])
    assert result["p_value"] == pytest.approx(1 / 1000)  # every resample as far out as observed: only the +1


def test_paired_sign_and_noise():
    rng = np.random.default_rng(3)
    a = (rng.random(300) < 0.7) * 100.0
    b = (rng.random(300) < 0.5) * 100.0
    forward, backward = paired_bootstrap(a, b), paired_bootstrap(b, a)
    assert forward["diff"] == pytest.approx(a.mean() - b.mean())
    assert backward["diff"] == pytest.approx(-forward["diff"])
    assert forward["ci"][0] > 0 and forward["p_value"] < 0.01
    noise = paired_bootstrap(a, np.roll(a, 1))  # same accuracy, shuffled: no real difference
    assert noise["p_value"] > 0.2 and noise["ci"][0] < 0 < noise["ci"][1]


def test_paired_needs_equal_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1, 2], [1])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([1, float("nan")])


@pytest.mark.parametrize("a_only, b_only, p", [
    (0, 5, 2 / 32),                      # 2 * P(X <= 0), X ~ Bin(5, 1/2)
    (2, 8, 2 * (1 + 10 + 45) / 1024),    # 2 * P(X <= 2), X ~ Bin(10, 1/2)
    (8, 2, 2 * (1 + 10 + 45) / 1024),
    (1, 1, 1.0),                         # 2 * 3/4, capped at 1
    (0, 0, 1.0),
    (0, 20, 2 / 2**20),
])
def test_binomial_two_sided(a_only, b_only, p):
    assert binomial_two_sided(a_only, b_only) == pytest.approx(p)


def test_mcnemar_counts_only_discordant_pairs():
    # 3 both right, 4 both wrong, a-only 2, b-only 8
    a = [1] * 3 + [0] * 4 + [1] * 2 + [0] * 8
    b = [1] * 3 + [0] * 4 + [0] * 2 + [1] * 8
    result = mcnemar_exact(a, b)
    assert (result["a_only"], result["b_only"]) == (2, 8)
    assert result["p_value"] == pytest.approx(112 / 1024)


def test_mcnemar_large_counts_stay_exact():
    assert 0 < binomial_two_sided(4000, 4300) < 0.05
    assert binomial_two_sided(5000, 5000) == pytest.approx(1.0)
