"""Bootstrap machinery of ``compare``: histograms as count matrices, resampled percentiles.

Owns the numpy side of the statistics: grouping interval histograms into blocks, merging them into
count vectors over a common support, drawing seeded bootstrap resamples (by block or by request) and
taking percentiles with hdrhistogram's rounding rule. Pure: no I/O, no verdicts, no run directories.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import nonzero_buckets

MAX_CELLS = 4_000_000
"""Resampled count matrices are built in chunks of at most this many cells (memory bound)."""


def blocks_of(count: int, max_blocks: int) -> list[np.ndarray]:
    """Indexes of ``count`` consecutive intervals split into at most ``max_blocks`` contiguous blocks."""
    return [b for b in np.array_split(np.arange(count), min(count, max_blocks)) if len(b)] if count else []


def block_matrix(histograms: Sequence[HdrHistogram], max_blocks: int, support: np.ndarray) -> np.ndarray:
    """Counts per block (rows) over ``support`` (the union of bucket values, columns)."""
    blocks = blocks_of(len(histograms), max_blocks)
    matrix = np.zeros((len(blocks), len(support)), dtype=np.float64)
    for row, indexes in enumerate(blocks):
        for index in indexes:
            values, counts = nonzero_buckets(histograms[index])
            np.add.at(matrix[row], np.searchsorted(support, values), counts)
    return matrix


def percentiles_of(counts: np.ndarray, support: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
    """Percentiles of each row of ``counts`` (rows x support), with hdrhistogram's rounding rule."""
    totals = counts.sum(axis=1)
    cumulative = np.cumsum(counts, axis=1)
    result = np.empty((counts.shape[0], len(percentiles)))
    for column, percentile in enumerate(percentiles):
        target = np.maximum(np.floor(percentile * totals / 100.0 + 0.5), 1.0)
        position = (cumulative < target[:, None]).sum(axis=1)
        result[:, column] = support[np.minimum(position, len(support) - 1)]
    return result


def seeded_rng(seed: int, *key: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and a key, so each row's draws do not depend on the others."""
    return np.random.default_rng([seed, zlib.crc32("/".join(key).encode("utf-8"))])


def resampled_percentiles(
    matrix: np.ndarray,
    support: np.ndarray,
    percentiles: Sequence[float],
    resamples: int,
    rng: np.random.Generator,
    by_block: bool,
) -> np.ndarray:
    """``resamples`` x percentiles: the percentiles of each bootstrap resample of one run."""
    out = np.empty((resamples, len(percentiles)))
    chunk = max(1, MAX_CELLS // max(matrix.shape[1], 1))
    blocks = matrix.shape[0]
    total = matrix.sum(axis=0)
    n = int(total.sum())
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        if by_block:
            weights = rng.multinomial(blocks, np.full(blocks, 1.0 / blocks), size=size).astype(np.float64)
            counts = weights @ matrix
        else:
            counts = rng.multinomial(n, total / n, size=size).astype(np.float64)
        out[start : start + size] = percentiles_of(counts, support, percentiles)
    return out


def central_interval(differences: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` share of bootstrap differences (the percentile interval)."""
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(differences, [alpha, 1.0 - alpha])
    return float(low), float(high)


def resampled_rates(
    ok: np.ndarray, seconds: np.ndarray, resamples: int, rng: np.random.Generator, by_block: bool
) -> np.ndarray:
    """Bootstrap throughputs (requests/s) from per-block successes and durations.

    By block: blocks drawn with replacement, successes over seconds of the drawn blocks. Otherwise
    the success count is drawn from a Poisson law with the observed count as its mean.
    """
    if by_block:
        weights = rng.multinomial(len(ok), np.full(len(ok), 1.0 / len(ok)), size=resamples)
        return np.asarray((weights @ ok) / np.maximum(weights @ seconds, 1e-9))
    return np.asarray(rng.poisson(ok.sum(), size=resamples) / max(float(seconds.sum()), 1e-9))
