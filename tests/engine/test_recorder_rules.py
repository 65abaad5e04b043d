"""The recorder's bookkeeping rules, one table or one case each: pure, no threads, no server."""

from __future__ import annotations

from collections import Counter

import pytest
from hdrh.histogram import HdrHistogram

from loadtest.recording.recorder import (
    MAX_RESPONSES_PER_REQUEST,
    Recorder,
    RequestOutcome,
    TrafficCounters,
    add_value,
    key_of,
    merge_into,
    new_histogram,
    tag_of,
)

FIVE_THOUSAND_AT_3_DIGITS = 5_003
"""What a 3-significant-digit histogram reports as the maximum after recording 5,000 (its bucket's top)."""


def test_a_tag_splits_at_the_last_slash_so_traffic_names_may_hold_slashes() -> None:
    assert key_of("team/model/v2/latency") == ("team/model/v2", "latency")
    assert key_of(tag_of(("a/b", "ttfr"))) == ("a/b", "ttfr")


@pytest.mark.parametrize(
    ("metric", "highest_us", "lowest", "highest"),
    [
        ("latency", 5_000, 1, 5_000),
        ("gap", 21_000_000, 1, 21_000_000),
        ("responses", 5_000, 1, MAX_RESPONSES_PER_REQUEST),  # a count, whatever the timeout
        ("latency", 1, 1, 2),  # the smallest range HdrHistogram accepts
        ("latency", 0, 1, 2),
    ],
)
def test_new_histogram_ranges(metric: str, highest_us: int, lowest: int, highest: int) -> None:
    histogram = new_histogram(metric, highest_us)
    assert (histogram.lowest_trackable_value, histogram.highest_trackable_value) == (lowest, highest)
    assert histogram.significant_figures == 3


@pytest.mark.parametrize(("highest", "first_outside"), [(2, 2048), (1_000, 2048), (21_000_000, 33_554_432)])
def test_the_fast_record_path_stops_exactly_where_the_counts_array_ends(highest: int, first_outside: int) -> None:
    fast, reference = HdrHistogram(1, highest, 3), HdrHistogram(1, highest, 3)
    assert add_value(fast, first_outside - 1) is True and reference.record_value(first_outside - 1) is True
    assert add_value(fast, first_outside) is False and reference.record_value(first_outside) is False
    assert fast.get_total_count() == 1 and list(fast.counts) == list(reference.counts)


def test_a_histogram_with_a_coarser_lowest_value_takes_the_library_path() -> None:
    histogram = HdrHistogram(1_000, 1_000_000, 3)
    assert add_value(histogram, 5_000) is True
    assert add_value(histogram, 10**12) is False
    assert (histogram.get_total_count(), histogram.get_max_value()) == (
        1,
        histogram.get_highest_equivalent_value(5_000),
    )


def test_counters_add_every_field() -> None:
    total = TrafficCounters(ok=1, errors=Counter({"timeout": 1}), late=2, clamped=3)
    total.add(TrafficCounters(ok=10, errors=Counter({"timeout": 4, "server": 5}), late=20, clamped=30))
    assert total == TrafficCounters(ok=11, errors=Counter({"timeout": 5, "server": 5}), late=22, clamped=33)
    assert total.error_count == 10


def test_counters_to_dict_sorts_error_kinds() -> None:
    counters = TrafficCounters(ok=7, errors=Counter({"timeout": 1, "connection": 2}), late=3, clamped=4)
    assert counters.to_dict() == {"ok": 7, "errors": {"connection": 2, "timeout": 1}, "late": 3, "clamped": 4}
    assert list(counters.to_dict()["errors"]) == ["connection", "timeout"]  # type: ignore[call-overload]


def test_a_new_recorder_is_warming_up_with_no_start_time() -> None:
    recorder = Recorder(highest_us=1_000)
    assert recorder.measuring is False
    assert recorder.measure_start_ns is None
    assert recorder.roll(5).start_ns == 0
    recorder.start_measuring(123)
    assert recorder.measuring is True
    assert recorder.measure_start_ns == 123
    interval = recorder.roll(456)
    assert (interval.start_ns, interval.end_ns) == (123, 456)
    assert recorder.roll(789).start_ns == 456


def test_declared_entries_appear_empty_in_every_interval_and_total() -> None:
    recorder = Recorder(highest_us=1_000)
    recorder.declare("s", ["latency", "responses"])
    assert recorder.traffic_names() == ["s"]
    # in the totals at once, so an entry shows up even when the run ends before its first interval
    assert {key: h.get_total_count() for key, h in recorder.totals.items()} == {
        ("s", "latency"): 0,
        ("s", "responses"): 0,
    }
    recorder.start_measuring(0)
    interval = recorder.roll(1)
    assert interval.counters == {"s": TrafficCounters()}
    assert sorted(interval.histograms) == [("s", "latency"), ("s", "responses")]
    assert recorder.total_counters == {"s": TrafficCounters()}
    for histograms in (interval.histograms, recorder.totals):
        assert histograms[("s", "latency")].highest_trackable_value == 1_000
        assert histograms[("s", "responses")].highest_trackable_value == MAX_RESPONSES_PER_REQUEST
        assert all(h.get_total_count() == 0 for h in histograms.values())


def test_every_count_adds_up_on_both_entry_points() -> None:
    for use_record in (True, False):
        recorder = Recorder(highest_us=1_000)
        for _ in range(3):  # warm-up
            if use_record:
                recorder.record(RequestOutcome("a", latency_us=10))
            else:
                recorder.record_request("a", 10, None, None, False)
        recorder.start_measuring(0)
        for late in (True, True, False):
            if use_record:
                recorder.record(RequestOutcome("a", latency_us=10, late=late))
                recorder.record(RequestOutcome("a", error_kind="timeout", late=late))
            else:
                recorder.record_request("a", 10, None, None, late)
                recorder.record_request("a", None, "timeout", None, late)
        recorder.roll(1)
        assert recorder.warmup_requests == 3
        assert recorder.total_counters["a"] == TrafficCounters(ok=3, errors=Counter({"timeout": 3}), late=4)


def test_values_above_the_range_are_clamped_on_every_metric() -> None:
    recorder = Recorder(highest_us=1_000)
    recorder.start_measuring(0)
    recorder.record_request("a", 5_000, None, 6_000, False)
    recorder.record(
        RequestOutcome(
            "s", latency_us=5_000, response_time_us=5_000, ttfr_us=5_000, gaps_us=[5_000, 10], responses=2_000_000
        )
    )
    recorder.roll(1)
    assert recorder.total_counters["a"].clamped == 2
    assert recorder.total_counters["s"].clamped == 5
    assert recorder.totals[("s", "gap")].get_total_count() == 2
    for key in (("a", "latency"), ("s", "ttfr")):
        assert recorder.totals[key].get_max_value() == recorder.totals[key].get_highest_equivalent_value(1_000)


@pytest.mark.parametrize("value", [0, -5])
def test_zero_and_negative_times_are_recorded_as_one_microsecond(value: int) -> None:
    recorder = Recorder(highest_us=1_000)
    recorder.start_measuring(0)
    recorder.record_request("a", value, None, None, False)
    recorder.record(RequestOutcome("a", latency_us=value))
    recorder.roll(1)
    histogram = recorder.totals[("a", "latency")]
    assert (histogram.get_total_count(), histogram.get_min_value(), histogram.get_max_value()) == (2, 1, 1)


def test_response_counts_keep_their_own_range_in_every_interval() -> None:
    recorder = Recorder(highest_us=1_000)  # far below the number of responses recorded
    recorder.start_measuring(0)
    for interval_end in (1, 2):
        recorder.record(RequestOutcome("s", latency_us=10, responses=5_000))
        interval = recorder.roll(interval_end)
        assert interval.histograms[("s", "responses")].get_max_value() == FIVE_THOUSAND_AT_3_DIGITS
    assert recorder.total_counters["s"].clamped == 0
    total = recorder.totals[("s", "responses")]
    assert (total.get_total_count(), total.get_max_value()) == (2, FIVE_THOUSAND_AT_3_DIGITS)


def test_merge_into_creates_each_missing_histogram_with_its_metrics_range() -> None:
    responses = new_histogram("responses", 1_000)
    responses.record_value(5_000)
    target: dict[tuple[str, str], HdrHistogram] = {}
    merge_into(target, {("s", "responses"): responses}, highest_us=1_000)
    merge_into(target, {("s", "responses"): responses}, highest_us=1_000)
    merged = target[("s", "responses")]
    assert (merged.get_total_count(), merged.get_max_value()) == (2, FIVE_THOUSAND_AT_3_DIGITS)
