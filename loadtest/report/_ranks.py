"""Rank statistics for comparing a few repeated runs: exact null distributions and shift intervals.

Owns the distribution-free machinery behind the between-run verdicts of ``compare`` and ``ab``:

- two independent samples (baseline runs, candidate runs): the Mann–Whitney U statistic, its exact
  null distribution, and the Hodges–Lehmann shift (median of all pairwise differences) with its
  distribution-free confidence interval (order statistics of those differences, cut where the U
  distribution puts at most ``(1 - confidence) / 2`` in each tail);
- paired samples (chunk i of baseline against chunk i of candidate): the Wilcoxon signed-rank
  statistic, its exact null distribution, and the pseudo-median (median of the Walsh averages) with
  its interval.

The intervals assume nothing about the shape of run-to-run noise, only exchangeable runs (and
symmetric paired differences). Their attainable confidence is discrete: with too few runs no cut
reaches the requested level and the functions return None (see :func:`runs_needed` for how many
it takes). Exact distributions up to :data:`EXACT_LIMIT`, a normal approximation beyond. Pure:
numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

EXACT_LIMIT = 400
"""Exact null distributions up to this many pairwise comparisons (n*m) or Walsh averages."""


@dataclass(frozen=True)
class ShiftEstimate:
    """A location shift with its distribution-free confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    """Coverage the interval attains (at least the requested level)."""
    p_value: float
    """Two-sided p-value of "no shift" from the same rank statistic."""


@lru_cache(maxsize=128)
def _u_cdf(n: int, m: int) -> tuple[float, ...]:
    """P(U <= u) for u = 0 .. n*m under the null hypothesis (no ties)."""
    size = n * m + 1
    if n * m > EXACT_LIMIT:
        return _normal_cdf(size, n * m / 2.0, math.sqrt(n * m * (n + m + 1) / 12.0))
    # counts[j][k]: arrangements of j baseline and k candidate values, by U. The largest value is
    # either a candidate value (above all j baseline values: U grows by j) or a baseline value.
    counts = [[np.zeros(0, dtype=np.int64)] * (m + 1) for _ in range(n + 1)]
    for j in range(n + 1):
        for k in range(m + 1):
            row = np.zeros(size, dtype=np.int64)
            if j == 0 or k == 0:
                row[0] = 1
            else:
                row += counts[j - 1][k]
                row[j:] += counts[j][k - 1][: size - j]
            counts[j][k] = row
    total = counts[n][m]
    return tuple(float(x) for x in np.cumsum(total) / total.sum())


@lru_cache(maxsize=128)
def _signed_rank_cdf(n: int) -> tuple[float, ...]:
    """P(T+ <= t) for t = 0 .. n(n+1)/2 under the null hypothesis (no ties, no zeros)."""
    size = n * (n + 1) // 2 + 1
    if size - 1 > EXACT_LIMIT:
        return _normal_cdf(size, (size - 1) / 2.0, math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0))
    counts = np.zeros(size, dtype=np.int64)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return tuple(float(x) for x in np.cumsum(counts) / counts.sum())


def _normal_cdf(size: int, mean: float, sd: float) -> tuple[float, ...]:
    return tuple(0.5 * math.erfc(-((u + 0.5 - mean) / sd) / math.sqrt(2.0)) for u in range(size))


def _cut(cdf: Sequence[float], confidence: float) -> int | None:
    """The largest k >= 1 with P(stat <= k - 1) <= (1 - confidence) / 2, or None when even k = 1 fails."""
    tail = (1.0 - confidence) / 2.0 + 1e-12
    k = 0
    while k < len(cdf) and cdf[k] <= tail:
        k += 1
    return k or None


def _two_sided(cdf: Sequence[float], statistic: float) -> float:
    top = len(cdf) - 1
    lower = cdf[min(max(math.floor(statistic), 0), top)]
    upper = cdf[min(max(math.floor(top - statistic), 0), top)]  # the null distribution is symmetric
    return min(1.0, 2.0 * min(lower, upper))


def shift_interval(
    baseline: Sequence[float] | np.ndarray, candidate: Sequence[float] | np.ndarray, confidence: float
) -> ShiftEstimate | None:
    """Hodges–Lehmann shift ``candidate - baseline`` with its Mann–Whitney confidence interval.

    Returns None when the sample sizes cannot reach ``confidence`` (e.g. fewer than 4 runs per side
    for 95%).
    """
    x, y = np.asarray(baseline, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        return None
    cdf = _u_cdf(n, m)
    k = _cut(cdf, confidence)
    if k is None:
        return None
    differences = np.sort((y[None, :] - x[:, None]).ravel())
    u = float((differences > 0).sum() + 0.5 * (differences == 0).sum())
    return ShiftEstimate(
        estimate=float(np.median(differences)),
        low=float(differences[k - 1]),
        high=float(differences[len(differences) - k]),
        confidence=1.0 - 2.0 * cdf[k - 1],
        p_value=_two_sided(cdf, u),
    )


def paired_interval(differences: Sequence[float] | np.ndarray, confidence: float) -> ShiftEstimate | None:
    """Pseudo-median of paired differences with its Wilcoxon signed-rank confidence interval.

    Returns None when there are too few pairs to reach ``confidence`` (fewer than 6 for 95%).
    """
    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    if n == 0:
        return None
    cdf = _signed_rank_cdf(n)
    k = _cut(cdf, confidence)
    if k is None:
        return None
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2.0)
    nonzero = d[d != 0]
    if len(nonzero):
        ranks = _midranks(np.abs(nonzero))
        p_value = _two_sided(_signed_rank_cdf(len(nonzero)), float(ranks[nonzero > 0].sum()))
    else:
        p_value = 1.0
    return ShiftEstimate(
        estimate=float(np.median(walsh)),
        low=float(walsh[k - 1]),
        high=float(walsh[len(walsh) - k]),
        confidence=1.0 - 2.0 * cdf[k - 1],
        p_value=p_value,
    )


def _midranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def runs_needed(confidence: float, *, paired: bool, limit: int = 100) -> int:
    """The fewest runs per side (or pairs) whose rank interval can reach ``confidence`` at all."""
    for count in range(1, limit + 1):
        cdf = _signed_rank_cdf(count) if paired else _u_cdf(count, count)
        if _cut(cdf, confidence) is not None:
            return count
    return limit
