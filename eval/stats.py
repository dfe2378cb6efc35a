"""Error bars and significance tests over per-example scores.

- bootstrap_ci: percentile bootstrap CI of a mean.
- paired_bootstrap: CI and two-sided p-value of the mean difference of two systems
  scored on the same examples (resampling examples, keeping the pairs together).
- mcnemar_exact: exact McNemar test on binary outcomes (binomial on discordant pairs).

All resampling is seeded, so a report is reproducible to the last digit.
"""
from math import comb

import numpy as np

N_BOOT = 2000
CONFIDENCE = 0.95
SEED = 0
_CHUNK = 4_000_000  # resampled indices held in memory at once


def _scores(values, name="scores"):
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{name}: need a non-empty 1-d list of numbers")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return values


def bootstrap_means(values, n_boot=N_BOOT, seed=SEED):
    """Means of `n_boot` resamples (with replacement) of `values`."""
    values = _scores(values)
    rng = np.random.default_rng(seed)
    n = len(values)
    rows = max(1, _CHUNK // n)
    means = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    return means


def _percentiles(samples, confidence):
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(values, confidence=CONFIDENCE, n_boot=N_BOOT, seed=SEED):
    """(mean, low, high): the mean and its percentile-bootstrap confidence interval."""
    values = _scores(values)
    low, high = _percentiles(bootstrap_means(values, n_boot, seed), confidence)
    return float(values.mean()), low, high


def paired_bootstrap(a, b, confidence=CONFIDENCE, n_boot=N_BOOT, seed=SEED):
    """Difference mean(a) - mean(b) over paired examples, with its bootstrap CI and p-value.

    The p-value is two-sided: the share of resampled differences at least as far from
    the observed one as the observed one is from zero (the bootstrap distribution
    shifted to the null of no difference), with the usual +1 so it is never 0.
    """
    a, b = _scores(a, "a"), _scores(b, "b")
    if len(a) != len(b):
        raise ValueError(f"paired test needs equal lengths, got {len(a)} and {len(b)}")
    diffs = a - b
    observed = float(diffs.mean())
    boot = bootstrap_means(diffs, n_boot, seed)
    low, high = _percentiles(boot, confidence)
    extreme = np.sum(np.abs(boot - observed) >= abs(observed) - 1e-12)
    p_value = float((extreme + 1) / (n_boot + 1))
    return {"diff": observed, "ci": [low, high], "p_value": p_value, "n": len(a)}


def mcnemar_exact(a_correct, b_correct):
    """Exact McNemar test of two systems' right/wrong outcomes on the same examples.

    Only discordant pairs carry information: `a_only` (a right, b wrong) and `b_only`.
    Under the null each discordant pair goes either way with probability 1/2, so the
    two-sided p-value is 2 * P(Binomial(a_only + b_only, 1/2) <= min), capped at 1.
    """
    a_correct = [bool(x) for x in a_correct]
    b_correct = [bool(x) for x in b_correct]
    if len(a_correct) != len(b_correct):
        raise ValueError(f"McNemar test needs equal lengths, got {len(a_correct)} and {len(b_correct)}")
    a_only = sum(x and not y for x, y in zip(a_correct, b_correct))
    b_only = sum(y and not x for x, y in zip(a_correct, b_correct))
    return {"a_only": a_only, "b_only": b_only, "p_value": binomial_two_sided(a_only, b_only)}


def binomial_two_sided(k1, k2):
    """Two-sided exact p-value of a k1 : k2 split under a fair coin (exact integer arithmetic)."""
    n = k1 + k2
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(k1, k2) + 1))
    return min(1.0, 2 * tail / 2**n)


def holm(p_values):
    """Holm's step-down adjustment of a family of p-values (same order as given).

    The i-th smallest p is multiplied by (m - i), kept monotone, capped at 1; rejecting where
    the adjusted p < alpha controls the family-wise error rate at alpha for any dependence."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
