"""The rank machinery behind between-run verdicts: exact null distributions and shift intervals.

The distributions are checked against brute-force enumeration; the intervals' coverage by
simulation with a fixed seed. Sample sizes: 2,000 simulated comparisons give a binomial standard
error of 0.4% on the coverage, so the asserted floor (95%) sits about 4 standard errors below the
attained confidence (96.8% for 5 vs 5, 96.1% for 8 pairs): the assertions hold for any seed in
practice, and the fixed seeds make them deterministic.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest

from loadtest.report._ranks import (
    ShiftEstimate,
    _cut,
    _signed_rank_cdf,
    _u_cdf,
    paired_interval,
    runs_needed,
    shift_interval,
)


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


# Exact values below come from counting arrangements by hand: C(8, 4) = 70 equally likely splits of
# 4 vs 4 runs, 2**6 = 64 equally likely sign patterns of 6 pairs (P(T+ <= t) for t = 0, 1, 2, 5 is
# 1, 2, 3, 10 out of 64: the subsets of {1..6} with those rank sums).


@pytest.fixture(autouse=True)
def _fresh_distributions() -> None:
    """Recompute the cached null distributions in every test, so each test exercises their code."""
    _u_cdf.cache_clear()
    _signed_rank_cdf.cache_clear()


def _exact_u_cdf(n: int, m: int) -> np.ndarray:
    """P(U <= u) by counting size-n subsets of ranks 1..n+m by rank sum (U = sum - n(n+1)/2)."""
    most = sum(range(m + 1, n + m + 1))
    ways = [[0] * (most + 1) for _ in range(n + 1)]
    ways[0][0] = 1
    for rank in range(1, n + m + 1):
        for size in range(min(rank, n), 0, -1):
            for total in range(most, rank - 1, -1):
                ways[size][total] += ways[size - 1][total - rank]
    counts = ways[n][n * (n + 1) // 2 : n * (n + 1) // 2 + n * m + 1]
    cumulative = np.cumsum(np.array(counts, dtype=object))
    return np.array([float(c / cumulative[-1]) for c in cumulative])


def _exact_signed_rank_cdf(n: int) -> np.ndarray:
    counts = [1] + [0] * (n * (n + 1) // 2)
    for rank in range(1, n + 1):
        for total in range(len(counts) - 1, rank - 1, -1):
            counts[total] += counts[total - rank]
    cumulative = np.cumsum(np.array(counts, dtype=object))
    return np.array([float(c / cumulative[-1]) for c in cumulative])


@pytest.mark.parametrize(
    ("paired", "n"),
    [(False, 21), (True, 28)],  # 21 x 20 = 420 pairs, 28 * 29 / 2 = 406 Walsh averages: past the exact limit
    ids=["mann-whitney 21x20", "signed-rank 28"],
)
def test_the_normal_approximation_tracks_the_exact_distribution(paired: bool, n: int) -> None:
    if paired:
        cdf, expected = np.array(_signed_rank_cdf(n)), _exact_signed_rank_cdf(n)
    else:
        cdf, expected = np.array(_u_cdf(n, n - 1)), _exact_u_cdf(n, n - 1)
    assert len(cdf) == len(expected)
    assert np.abs(cdf - expected).max() < 0.005  # measured: 0.0021 and 0.0030
    # The continuity correction keeps the approximation exactly as symmetric as the null:
    # P(stat <= u) = P(stat >= top - u) = 1 - P(stat <= top - u - 1).
    assert np.allclose(cdf[:-1] + cdf[-2::-1], 1.0, rtol=0, atol=1e-12)


def test_a_shift_down_mirrors_the_shift_up() -> None:
    estimate = shift_interval([5, 6, 7, 8], [1, 2, 3, 4], 0.95)  # U = 0: the other extreme
    assert estimate == ShiftEstimate(-4.0, -7.0, -1.0, pytest.approx(1 - 2 / 70), pytest.approx(2 / 70))


def test_the_p_value_is_capped_at_one() -> None:
    # 2 vs 2, U = 2 (the centre): 2 * P(U <= 2) = 2 * 4/6 > 1.
    estimate = shift_interval([1, 4], [2, 3], 0.5)
    assert estimate is not None
    assert estimate.p_value == 1.0
    assert estimate.confidence == pytest.approx(1 - 2 / 6)


def test_a_tie_between_runs_counts_half() -> None:
    # One zero difference (30 - 30), the other 15 positive: U = 15.5 of 16, so P(U >= 15.5) = P(U = 16).
    estimate = shift_interval([0, 10, 20, 30], [30, 40, 50, 60], 0.95)
    assert estimate is not None
    assert (estimate.estimate, estimate.low, estimate.high) == (30.0, 0.0, 60.0)
    assert estimate.p_value == pytest.approx(2 / 70)


def test_a_single_run_on_one_side_still_gives_an_interval() -> None:
    # 1 vs 3: U is uniform on 0..3, so the widest interval (all differences) has confidence 1 - 2/4.
    up = shift_interval([10], [11, 13, 17], 0.5)
    assert up == ShiftEstimate(3.0, 1.0, 7.0, 0.5, 0.5)
    down = shift_interval([11, 13, 17], [10], 0.5)
    assert down == ShiftEstimate(-3.0, -7.0, -1.0, 0.5, 0.5)
    assert shift_interval([], [1, 2, 3], 0.5) is None
    assert shift_interval([1, 2, 3], [], 0.5) is None


def test_exact_decimal_values_are_taken_as_numbers() -> None:
    estimate = shift_interval([Decimal("1.5")] * 4, [Decimal("2.5")] * 4, 0.9)
    assert estimate is not None
    assert (estimate.estimate, estimate.low, estimate.high) == (1.0, 1.0, 1.0)


def test_the_paired_interval_of_a_known_sample() -> None:
    # 6 positive pairs: T+ = 21, the top; the widest cut (k = 1) has P(T+ <= 0) = 1/64 <= 2.5%.
    estimate = paired_interval([1, 2, 3, 4, 5, 6], 0.95)
    assert estimate == ShiftEstimate(3.5, 1.0, 6.0, 1 - 2 / 64, 2 / 64)


def test_zero_paired_differences_are_dropped_from_the_test() -> None:
    assert paired_interval([0, 0, 0, 0, 0, 0], 0.95) == ShiftEstimate(0.0, 0.0, 0.0, 1 - 2 / 64, 1.0)
    # The zero stays in the interval (7 pairs) but the test ranks only the 6 others, all positive.
    estimate = paired_interval([0, 1, 2, 3, 4, 5, 6], 0.95)
    assert estimate is not None
    assert estimate.p_value == pytest.approx(2 / 64)
    assert (estimate.estimate, estimate.low, estimate.high) == (3.0, 1.0, 5.0)


def test_paired_differences_are_ranked_by_magnitude() -> None:
    # |d| ranks 3, 1, 2, 4, 5, 6; the positive ones sum to T+ = 16, so p = 2 * P(T+ <= 21 - 16) = 2 * 10/64.
    estimate = paired_interval([3, -1, 2, -4, 5, 6], 0.5)
    assert estimate is not None
    assert estimate.p_value == pytest.approx(20 / 64)


def test_tied_paired_magnitudes_share_their_mean_rank() -> None:
    # |d| = 1, 1, 2, 2, 3, 4 rank 1.5, 1.5, 3.5, 3.5, 5, 6; T+ = 19.5, so p = 2 * P(T+ <= 1) = 2 * 2/64.
    estimate = paired_interval([1, -1, 2, 2, 3, 4], 0.5)
    assert estimate is not None
    assert estimate.p_value == pytest.approx(4 / 64)


def test_small_integer_differences_do_not_overflow() -> None:
    estimate = paired_interval(np.full(6, 100, dtype=np.int8), 0.95)
    assert estimate is not None
    assert (estimate.estimate, estimate.low, estimate.high) == (100.0, 100.0, 100.0)


def test_a_tail_exactly_at_the_bound_is_accepted() -> None:
    bound = (1.0 - 0.9) / 2.0 + 1e-12  # "at most (1 - confidence) / 2", with the rounding slack
    assert _cut([bound, 1.0], 0.9) == 1
    assert _cut([bound * 1.01, 1.0], 0.9) is None


def test_runs_needed_at_its_boundaries() -> None:
    assert runs_needed(0.0, paired=False) == 1
    assert runs_needed(0.0, paired=True) == 1
    assert runs_needed(0.95, paired=True, limit=7) == 6
    assert runs_needed(0.95, paired=True, limit=6) == 6
    assert runs_needed(0.95, paired=True, limit=5) == 5  # not reachable within the limit: the limit
    assert runs_needed(1.0, paired=True) == 66  # past the exact limit: the normal tail reaches 1e-12
    assert runs_needed(1.0, paired=False) == 34
