"""The recorder and the interval log: pure, no server."""

from __future__ import annotations

import gc
import io
import sys
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.recording import recorder as recorder_module
from loadtest.recording.hdrstats import summary_stats, value_at_percentiles
from loadtest.recording.hlog import IntervalLogWriter, read_intervals, read_totals
from loadtest.recording.recorder import (
    Interval,
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


# Sized by seeding the bug (the default lock replaced by a no-op context): one round of 8 threads x
# 2,500 records, with the interpreter switching threads every microsecond, lost or misplaced records
# in 97 of 100 rounds (8 x 5,000: 99 of 100); four rounds all passing with the bug is then about
# 1e-6. With the lock the totals are exact by construction, so the test cannot fail spuriously; a
# round takes ~0.2 s on this 2-core machine.
RACE_ROUNDS = 4
RACE_THREADS = 8
RACE_RECORDS_PER_THREAD = 2_500
RACE_SWITCH_INTERVAL_S = 1e-6


def _race_round(recorder: Recorder) -> tuple[int, int]:
    """Record from many threads while the calling thread keeps rolling; returns (rolled values, rolled ok)."""
    start = threading.Barrier(RACE_THREADS + 1)

    def work(index: int) -> None:
        start.wait()
        for value in range(1, RACE_RECORDS_PER_THREAD + 1):
            if index % 2:  # both entry points: the generic one and the hot path
                recorder.record(RequestOutcome("a", latency_us=value))
            else:
                recorder.record_request("a", value, None, None, False)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(RACE_THREADS)]
    rolled_values = rolled_ok = 0

    def take(interval: Interval) -> None:
        nonlocal rolled_values, rolled_ok
        histogram = interval.histograms.get(("a", "latency"))
        rolled_values += histogram.get_total_count() if histogram is not None else 0
        counters = interval.counters.get("a")
        rolled_ok += counters.ok if counters is not None else 0

    previous = sys.getswitchinterval()
    sys.setswitchinterval(RACE_SWITCH_INTERVAL_S)  # switch threads as often as CPython allows
    try:
        for thread in threads:
            thread.start()
        start.wait()
        while any(thread.is_alive() for thread in threads):
            take(recorder.roll(1))
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    take(recorder.roll(2))
    return rolled_values, rolled_ok


def test_concurrent_recording_and_rolling_lose_and_misplace_nothing() -> None:
    per_round = RACE_THREADS * RACE_RECORDS_PER_THREAD
    for round_number in range(1, RACE_ROUNDS + 1):
        recorder = Recorder(highest_us=HIGHEST_US)
        recorder.start_measuring(0)
        rolled_values, rolled_ok = _race_round(recorder)
        # Every record lands in exactly one interval, and the totals are the sum of the intervals.
        assert (rolled_values, rolled_ok) == (per_round, per_round), f"round {round_number}"
        assert recorder.totals[("a", "latency")].get_total_count() == per_round, f"round {round_number}"
        assert recorder.total_counters["a"].ok == per_round, f"round {round_number}"


class _SpyLock:
    """A real lock that says whether it is held (the recorder accepts any context manager)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = False
        self.acquisitions = 0

    def __enter__(self) -> _SpyLock:
        self._lock.acquire()
        self.held = True
        self.acquisitions += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.held = False
        self._lock.release()


def test_every_histogram_and_counter_update_happens_under_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = _SpyLock()
    recorder = Recorder(highest_us=1_000, lock=lock)
    unlocked: list[str] = []
    real_add_value = recorder_module.add_value

    def checked_add_value(histogram: HdrHistogram, value: int) -> bool:
        if not lock.held:
            unlocked.append(f"add_value({value})")
        return real_add_value(histogram, value)

    monkeypatch.setattr(recorder_module, "add_value", checked_add_value)
    recorder.declare("a", ["latency"])
    recorder.start_measuring(0)
    recorder.record(RequestOutcome("a", latency_us=10, response_time_us=20, ttfr_us=5, gaps_us=[3], responses=2))
    recorder.record(RequestOutcome("a", latency_us=5_000))  # above the range: the clamped path
    recorder.record_request("a", 30, None, 40, True)
    recorder.record_request("a", None, "timeout", None, False)
    recorder.record_exchanges("a", [7, 5_000], [9, 11], 1)  # a batch: one acquisition for all
    recorder.roll(1)
    assert unlocked == []
    # declare, start_measuring, two records, two record_requests, one batch and roll: one acquisition each.
    assert lock.acquisitions == 8
    assert not lock.held


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


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=30_000_000), st.none() | st.integers(0, 30_000_000), st.booleans()
        ),
        max_size=60,
    )
)
def test_a_batch_of_exchanges_is_the_same_as_one_record_request_each(
    exchanges: list[tuple[int, int | None, bool]],
) -> None:
    one_by_one, batched = Recorder(highest_us=HIGHEST_US), Recorder(highest_us=HIGHEST_US)
    for recorder in (one_by_one, batched):
        recorder.start_measuring(0)
    for latency_us, response_us, late in exchanges:
        one_by_one.record_request("a", latency_us, None, response_us, late)
    # a batch is one loop's exchanges: all open loop (a response time each) or all closed loop (none)
    open_loop = [(lat, resp, late) for lat, resp, late in exchanges if resp is not None]
    closed_loop = [(lat, late) for lat, resp, late in exchanges if resp is None]
    batched.record_exchanges(
        "a", [lat for lat, _, _ in open_loop], [r for _, r, _ in open_loop], sum(x[2] for x in open_loop)
    )
    batched.record_exchanges("a", [lat for lat, _ in closed_loop], [], sum(late for _, late in closed_loop))
    one_by_one.roll(1)
    batched.roll(1)
    assert one_by_one.total_counters.get("a") == batched.total_counters.get("a")
    assert {k: list(h.counts) for k, h in one_by_one.totals.items() if h.total_count} == {
        k: list(h.counts) for k, h in batched.totals.items() if h.total_count
    }


def test_a_batch_above_the_range_is_clamped_and_counted_like_one_by_one() -> None:
    one_by_one, batched = Recorder(highest_us=HIGHEST_US), Recorder(highest_us=HIGHEST_US)
    for recorder in (one_by_one, batched):
        recorder.start_measuring(0)
    latencies_us = [HIGHEST_US * 2, 5, HIGHEST_US * 3]
    for latency_us in latencies_us:
        one_by_one.record_request("a", latency_us, None, None, False)
    batched.record_exchanges("a", latencies_us, [], 0)
    batched.record_exchanges("a", [HIGHEST_US * 5], [], 0)
    one_by_one.record_request("a", HIGHEST_US * 5, None, None, False)
    for recorder in (one_by_one, batched):
        recorder.roll(1)
    assert batched.total_counters["a"].clamped == 3
    assert batched.total_counters["a"] == one_by_one.total_counters["a"]
    assert batched.totals[("a", "latency")].get_max_value() == one_by_one.totals[("a", "latency")].get_max_value()


def test_a_batch_during_the_warm_up_is_counted_not_recorded() -> None:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.record_exchanges("a", [10, 20, 30], [], 0)
    recorder.record_exchanges("a", [40, 50], [], 0)
    recorder.start_measuring(0)
    recorder.roll(1)
    assert recorder.warmup_requests == 5
    assert all(h.total_count == 0 for h in recorder.totals.values())
    assert not any(c.ok for c in recorder.total_counters.values())
