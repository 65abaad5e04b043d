"""The rank machinery behind between-run verdicts: exact null distributions and shift intervals.

The distributions are checked against brute-force enumeration; the intervals' coverage by
simulation with a fixed seed. Sample sizes: 2,000 simulated comparisons give a binomial standard
error of 0.4% on the coverage, so the asserted floor (95%) sits about 4 standard errors below the
attained confidence (96.8% for 5 vs 5, 96.1% for 8 pairs): the assertions hold for any seed in
practice, and the fixed seeds make them deterministic.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from loadtest.report._ranks import _signed_rank_cdf, _u_cdf, paired_interval, runs_needed, shift_interval


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 3), (3, 4), (4, 4), (5, 3)])
def test_the_u_distribution_matches_enumeration(n: int, m: int) -> None:
    counts = np.zeros(n * m + 1)
    for baseline_slots in itertools.combinations(range(n + m), n):
        # U counts (baseline, candidate) pairs with the candidate larger: candidates after each baseline slot.
        u = sum(sum(1 for c in range(n + m) if c not in baseline_slots and c > b) for b in baseline_slots)
        counts[u] += 1
    expected = np.cumsum(counts) / counts.sum()
    assert np.allclose(_u_cdf(n, m), expected)


@pytest.mark.parametrize("n", [1, 2, 5, 7])
def test_the_signed_rank_distribution_matches_enumeration(n: int) -> None:
    totals = [
        sum(r for r, positive in zip(range(1, n + 1), signs, strict=True) if positive)
        for signs in itertools.product([False, True], repeat=n)
    ]
    counts = np.bincount(totals, minlength=n * (n + 1) // 2 + 1)
    assert np.allclose(_signed_rank_cdf(n), np.cumsum(counts) / counts.sum())


def test_a_known_shift_gives_the_textbook_interval() -> None:
    estimate = shift_interval([1, 2, 3, 4], [5, 6, 7, 8], 0.95)
    assert estimate is not None
    assert (estimate.estimate, estimate.low, estimate.high) == (4.0, 1.0, 7.0)
    assert estimate.confidence == pytest.approx(1 - 2 / 70)
    assert estimate.p_value == pytest.approx(2 / 70)  # the most extreme of C(8, 4) = 70 arrangements


def test_identical_samples_show_no_shift() -> None:
    estimate = shift_interval([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0], 0.95)
    assert estimate is not None
    assert estimate.estimate == 0.0 and estimate.low < 0 < estimate.high
    assert estimate.p_value == 1.0


def test_too_few_runs_cannot_reach_the_confidence() -> None:
    assert shift_interval([1, 2, 3], [4, 5, 6], 0.95) is None  # 2 / C(6, 3) = 10% > 5%
    assert shift_interval([1, 2, 3], [4, 5, 6], 0.90) is not None
    assert paired_interval([1, 2, 3, 4, 5], 0.95) is None  # 2 / 2**5 = 6.25% > 5%
    assert paired_interval([1, 2, 3, 4, 5, 6], 0.95) is not None
    assert runs_needed(0.95, paired=False) == 4
    assert runs_needed(0.95, paired=True) == 6
    assert runs_needed(0.99, paired=False) == 5


def test_the_shift_interval_covers_the_true_shift_at_least_as_often_as_promised() -> None:
    rng = np.random.default_rng(20240611)
    covered, attained = 0, []
    for _ in range(2000):
        estimate = shift_interval(rng.normal(0, 1, 5), rng.normal(1.0, 1, 5), 0.95)
        assert estimate is not None
        covered += estimate.low <= 1.0 <= estimate.high
        attained.append(estimate.confidence)
    assert min(attained) >= 0.95
    assert covered / 2000 >= 0.95


def test_the_paired_interval_covers_the_true_shift_at_least_as_often_as_promised() -> None:
    rng = np.random.default_rng(20240612)
    covered = 0
    for _ in range(2000):
        estimate = paired_interval(rng.normal(0.5, 1, 8), 0.95)
        assert estimate is not None
        covered += estimate.low <= 0.5 <= estimate.high
    assert covered / 2000 >= 0.95


def test_large_samples_use_the_normal_approximation_and_still_cover() -> None:
    # 30 vs 30 runs (900 pairs) is beyond the exact limit. 1,000 trials: standard error 0.7%, so the
    # 93% floor is about 3 standard errors below the nominal 95%.
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(1000):
        estimate = shift_interval(rng.normal(0, 1, 30), rng.normal(2, 1, 30), 0.95)
        assert estimate is not None
        covered += estimate.low <= 2.0 <= estimate.high
    assert covered / 1000 >= 0.93
