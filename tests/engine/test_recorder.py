"""The recorder and the interval log: pure, no server."""

from __future__ import annotations

import gc
import io
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.recording.hdrstats import summary_stats, value_at_percentiles
from loadtest.recording.hlog import IntervalLogWriter, read_intervals, read_totals
from loadtest.recording.recorder import (
    Recorder,
    RequestOutcome,
    add_value,
    decode,
    encode,
    key_of,
    merge_into,
    new_histogram,
    tag_of,
)

HIGHEST_US = 21_000_000


def _reference_stats(histogram: HdrHistogram, percentiles: list[float]) -> dict[str, object]:
    stats: dict[str, object] = {
        "count": histogram.get_total_count(),
        "min": histogram.get_min_value(),
        "mean": round(histogram.get_mean_value(), 3),
        "max": histogram.get_max_value(),
        "stddev": round(histogram.get_stddev(), 3),
    }
    stats.update({f"p{p:g}": histogram.get_value_at_percentile(p) for p in percentiles})
    return stats


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=HIGHEST_US), min_size=1, max_size=300))
def test_numpy_stats_equal_hdrhistogram_own_methods(values: list[int]) -> None:
    histogram = HdrHistogram(1, HIGHEST_US, 3)
    for value in values:
        histogram.record_value(value)
    percentiles = [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0]
    assert summary_stats(histogram, percentiles) == _reference_stats(histogram, percentiles)


def test_stats_of_an_empty_histogram_are_none() -> None:
    stats = summary_stats(HdrHistogram(1, 1000, 3), [50.0])
    assert stats == {"count": 0, "min": None, "mean": None, "max": None, "stddev": None, "p50": None}
    assert value_at_percentiles(HdrHistogram(1, 1000, 3), [50.0]) == [0]


def test_warmup_outcomes_are_counted_not_recorded() -> None:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.record(RequestOutcome("a", latency_us=100))
    assert recorder.warmup_requests == 1
    recorder.start_measuring(0)
    recorder.record(RequestOutcome("a", latency_us=200))
    interval = recorder.roll(1_000_000_000)
    assert interval.histograms[("a", "latency")].get_total_count() == 1
    assert recorder.totals[("a", "latency")].get_total_count() == 1


def test_errors_are_counted_by_kind_and_not_in_histograms() -> None:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.declare("a", ["latency"])
    recorder.start_measuring(0)
    recorder.record(RequestOutcome("a", error_kind="timeout"))
    recorder.record(RequestOutcome("a", error_kind="timeout", late=True))
    recorder.record(RequestOutcome("a", error_kind="server"))
    recorder.roll(1)
    counters = recorder.total_counters["a"]
    assert counters.ok == 0
    assert dict(counters.errors) == {"timeout": 2, "server": 1}
    assert counters.late == 1
    assert recorder.totals[("a", "latency")].get_total_count() == 0


def test_values_above_the_range_are_clamped_and_counted_not_dropped() -> None:
    recorder = Recorder(highest_us=1_000)
    recorder.start_measuring(0)
    recorder.record(RequestOutcome("a", latency_us=5_000_000))
    recorder.roll(1)
    histogram = recorder.totals[("a", "latency")]
    assert histogram.get_total_count() == 1
    assert recorder.total_counters["a"].clamped == 1


def test_stream_outcomes_fill_every_stream_metric() -> None:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.start_measuring(0)
    recorder.record(RequestOutcome("s", latency_us=900, ttfr_us=100, gaps_us=[300, 500], responses=3))
    recorder.roll(1)
    counts = {key: h.get_total_count() for key, h in recorder.totals.items()}
    assert counts == {("s", "latency"): 1, ("s", "ttfr"): 1, ("s", "gap"): 2, ("s", "responses"): 1}
    assert recorder.totals[("s", "responses")].get_max_value() == 3


def test_concurrent_recording_from_threads_loses_nothing() -> None:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.start_measuring(0)

    def work() -> None:
        for value in range(1, 2001):
            recorder.record(RequestOutcome("a", latency_us=value))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    rolled = 0
    while any(t.is_alive() for t in threads):
        rolled += recorder.roll(1).histograms.get(("a", "latency"), HdrHistogram(1, 2, 3)).get_total_count()
    for thread in threads:
        thread.join()
    recorder.roll(2)
    assert recorder.totals[("a", "latency")].get_total_count() == 8000
    assert recorder.total_counters["a"].ok == 8000


def test_encode_decode_and_merge_keep_every_count() -> None:
    first, second = HdrHistogram(1, HIGHEST_US, 3), HdrHistogram(1, HIGHEST_US, 3)
    for value in range(1, 500):
        first.record_value(value * 7)
        second.record_value(value * 13)
    target: dict[tuple[str, str], HdrHistogram] = {}
    merge_into(target, {("a", "latency"): decode(encode(first))}, HIGHEST_US)
    merge_into(target, {("a", "latency"): decode(encode(second))}, HIGHEST_US)
    merged = target[("a", "latency")]
    assert merged.get_total_count() == 998
    assert merged.get_max_value() == second.get_max_value()


def test_tags_round_trip() -> None:
    assert key_of(tag_of(("linear-sync", "latency"))) == ("linear-sync", "latency")


def test_interval_log_is_readable_by_hdrhistogram_and_sums_to_the_totals(tmp_path: Path) -> None:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.declare("a", ["latency"])
    recorder.start_measuring(0)
    path = tmp_path / "latency.hlog"
    rng = np.random.default_rng(3)
    with path.open("w") as stream:
        writer = IntervalLogWriter(stream, start_epoch_s=1_790_000_000.0, comment="test")
        for second in range(3):
            for value in rng.integers(100, 50_000, 200):
                recorder.record(RequestOutcome("a", latency_us=int(value)))
                recorder.record(RequestOutcome("b", latency_us=int(value) * 2, ttfr_us=5))
            interval = recorder.roll((second + 1) * 1_000_000_000)
            writer.write(float(second), float(second + 1), interval.histograms)
    # The hdrhistogram package's own reader understands every line, tags included.
    reader = HistogramLogReader(str(path), HdrHistogram(1, HIGHEST_US, 3))
    tags = []
    while (histogram := reader.get_next_interval_histogram()) is not None:
        tags.append(histogram.get_tag())
    reader.close()
    assert tags == ["a/latency", "b/latency", "b/ttfr"] * 3
    intervals = list(read_intervals(path, HIGHEST_US))
    assert [round(i.start_s) for i in intervals[::3]] == [0, 1, 2]
    totals = read_totals(path, HIGHEST_US)
    for key, total in recorder.totals.items():
        assert summary_stats(totals[key], [50, 99, 99.9]) == summary_stats(total, [50, 99, 99.9])


def test_interval_log_header_names_the_format_and_start_time() -> None:
    stream = io.StringIO()
    IntervalLogWriter(stream, start_epoch_s=1_790_000_000.5)
    header = stream.getvalue().splitlines()
    assert header[0] == "#[Histogram log format version 1.3]"
    assert header[1].startswith("#[StartTime: 1790000000.500 (seconds since epoch), 2026-")
    assert header[-1].startswith('"StartTimestamp"')


@pytest.mark.parametrize("name", ["a", "with.dots", "under_score-dash"])
def test_traffic_names_survive_the_tag_format(name: str) -> None:
    assert key_of(tag_of((name, "gap"))) == (name, "gap")


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([1_000, 1_000_000, 21_000_000, 3_600_000_000]),
    st.lists(st.integers(min_value=1, max_value=8_000_000_000), min_size=1, max_size=200),
)
def test_the_fast_record_path_matches_hdrhistogram_record_value(highest: int, values: list[int]) -> None:
    fast, reference = HdrHistogram(1, highest, 3), HdrHistogram(1, highest, 3)
    for value in values:
        assert add_value(fast, value) == reference.record_value(value)
    assert list(fast.counts) == list(reference.counts)
    assert (fast.total_count, fast.min_value, fast.max_value) == (
        reference.total_count,
        reference.min_value,
        reference.max_value,
    )


def test_record_request_is_the_same_as_record() -> None:
    first, second = Recorder(highest_us=HIGHEST_US), Recorder(highest_us=HIGHEST_US)
    for recorder in (first, second):
        recorder.start_measuring(0)
    first.record_request("a", 120, None, 150, True)
    first.record_request("a", None, "timeout", None, False)
    second.record(RequestOutcome("a", latency_us=120, response_time_us=150, late=True))
    second.record(RequestOutcome("a", error_kind="timeout"))
    first.roll(1)
    second.roll(1)
    assert first.total_counters == second.total_counters
    assert {k: list(h.counts) for k, h in first.totals.items()} == {k: list(h.counts) for k, h in second.totals.items()}


def test_a_dropped_histogram_is_freed_at_once_without_the_cyclic_collector() -> None:
    """hdrhistogram's histogram and encoder refer to each other; ours must not wait for a full GC pass."""
    histogram = new_histogram("latency", HIGHEST_US)
    for value in (1, 250, 99_999):
        add_value(histogram, value)
    decoded = HdrHistogram.decode(histogram.encode())  # encoding still works through the weak back-reference
    assert decoded.get_total_count() == 3 and decoded.get_max_value() == histogram.get_max_value()
    gc.disable()
    try:
        ours = weakref.ref(histogram)
        del histogram
        assert ours() is None
        plain = HdrHistogram(1, HIGHEST_US, 3)
        theirs = weakref.ref(plain)
        del plain
        assert theirs() is not None  # the package's own histogram lingers until the cyclic collector runs
    finally:
        gc.enable()
