"""numpy statistics of HdrHistograms against the hdrhistogram package's own methods, on fixed data.

Fast companions of the property test in ``test_recorder.py``: a few fixed data sets chosen to reach
every branch (large values whose buckets are wider than 1, a coarser lowest value, percentile 0 and
100, one value only), each compared with the package's own (slow, pure Python) answers.
"""

from __future__ import annotations

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import nonzero_buckets, summary_stats, value_at_percentiles

PERCENTILES = [0.0, 0.1, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0]


def _histogram(lowest: int, highest: int, values: list[int]) -> HdrHistogram:
    histogram = HdrHistogram(lowest, highest, 3)
    for value in values:
        histogram.record_value(value)
    return histogram


DATA_SETS = {
    "small exact values": (1, 21_000_000, [1, 2, 3, 3, 3, 900, 2047]),
    "wide buckets": (1, 21_000_000, [5_000, 5_001, 123_456, 123_999, 7_654_321, 20_999_999]),
    "one value": (1, 60_000_000, [30_000_000]),
    "coarse lowest value": (1_000, 60_000_000, [1_000, 1_999, 25_000, 3_333_333, 59_000_000]),
    "repeated tail": (1, 1_000_000, [10] * 97 + [500_000] * 3),
}


@pytest.mark.parametrize("name", list(DATA_SETS))
def test_statistics_equal_the_package_own(name: str) -> None:
    histogram = _histogram(*DATA_SETS[name])
    stats = summary_stats(histogram, PERCENTILES)
    assert stats["count"] == histogram.get_total_count()
    assert stats["min"] == histogram.get_min_value()
    assert stats["max"] == histogram.get_max_value()
    assert stats["mean"] == round(histogram.get_mean_value(), 3)
    assert stats["stddev"] == round(histogram.get_stddev(), 3)
    expected = [histogram.get_value_at_percentile(p) for p in PERCENTILES]
    assert [stats[f"p{p:g}"] for p in PERCENTILES] == expected
    assert value_at_percentiles(histogram, PERCENTILES) == expected
    assert isinstance(stats["count"], int) and isinstance(stats["min"], int) and isinstance(stats["max"], int)


def test_percentile_zero_is_the_lowest_equivalent_value_and_others_the_highest() -> None:
    histogram = _histogram(1, 21_000_000, [123_456])  # a bucket 64 wide at this magnitude
    low = histogram.get_lowest_equivalent_value(123_456)
    high = histogram.get_highest_equivalent_value(123_456)
    assert high - low == 63
    assert value_at_percentiles(histogram, [0.0, 50.0, 100.0]) == [low, high, high]


def test_percentiles_above_100_read_as_100() -> None:
    histogram = _histogram(1, 1_000_000, [10, 20, 999_000])
    assert value_at_percentiles(histogram, [100.0, 150.0]) == [histogram.get_max_value()] * 2


def test_nonzero_buckets_give_each_bucket_top_and_count_in_order() -> None:
    histogram = _histogram(1, 21_000_000, [5, 5, 123_456, 123_500, 9_000_000])
    values, counts = nonzero_buckets(histogram)
    top = histogram.get_highest_equivalent_value
    assert values.tolist() == [5, top(123_456), top(9_000_000)]
    assert counts.tolist() == [2, 2, 1]
    assert values.dtype == np.int64 and counts.dtype == np.int64
    empty_values, empty_counts = nonzero_buckets(HdrHistogram(1, 1_000, 3))
    assert empty_values.size == 0 and empty_counts.size == 0
