"""The pure parts of a distributed run: load split, schedule slices, messages, merging into a recorder."""

from __future__ import annotations

from collections import Counter

import pytest

from loadtest import __version__
from loadtest.engine import _wire
from loadtest.engine._split import (
    Slots,
    clock_offset_s,
    processes_for,
    slice_schedule,
    slots_of,
    split_total,
)
from loadtest.recording.recorder import LATENCY, Recorder, TrafficCounters


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (10, [1, 1], [5, 5]),
        (7, [3, 1], [5, 2]),
        (5, [0, 0], [3, 2]),
        (1, [1, 1, 1], [1, 0, 0]),
        (0, [2, 1], [0, 0]),
        (9, [], []),
    ],
)
def test_split_total_adds_up_and_follows_the_weights(total: int, weights: list[int], expected: list[int]) -> None:
    assert split_total(total, weights) == expected
    if weights:
        assert sum(split_total(total, weights)) == total


@pytest.mark.parametrize("counts", [[1, 1], [3, 1], [2, 0, 3], [1], [4, 4, 4], [0, 5]])
def test_slices_of_a_schedule_send_every_request_exactly_once(counts: list[int]) -> None:
    def schedule(n: int) -> float | None:
        return n * 0.01 if n < 300 else None

    seen: list[int] = []
    for slots in slots_of(counts):
        if slots is None:
            continue
        sliced = slice_schedule(schedule, slots)
        k = 0
        while (offset := sliced(k)) is not None:
            seen.append(round(offset / 0.01))
            k += 1
    assert sorted(seen) == list(range(300))


def test_each_process_takes_its_share_of_the_rate() -> None:
    # Three users of four on the first process: three of every four requests, evenly through the run.
    first, second = slots_of([3, 1])
    assert first == Slots(0, 3, 4) and second == Slots(3, 1, 4)
    assert [first.request(k) for k in range(6)] == [0, 1, 2, 4, 5, 6]
    assert [second.request(k) for k in range(3)] == [3, 7, 11]
    assert slots_of([0, 2])[0] is None


@pytest.mark.parametrize(("value", "expected"), [(None, 1), (1, 1), (3, 3), ("4", 4), ("auto", 7)])
def test_processes_for(value: int | str | None, expected: int) -> None:
    assert processes_for(value, cpu_count=lambda: 7) == expected


@pytest.mark.parametrize("value", [0, -2, "0", "x", "", True, 1.5])
def test_processes_for_refuses_what_is_not_a_positive_count(value: object) -> None:
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        processes_for(value)  # type: ignore[arg-type]


def test_clock_offset_is_the_midpoint_estimate() -> None:
    offset, round_trip = clock_offset_s(100.0, 105.01, 100.02)
    assert offset == pytest.approx(5.0) and round_trip == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5", 5557)),
        ("master:6000", ("master", 6000)),
        ("[::1]:5558", ("::1", 5558)),
        ("[fe80::1]", ("fe80::1", 5557)),
    ],
)
def test_parse_master(address: str, expected: tuple[str, int]) -> None:
    assert _wire.parse_master(address) == expected


@pytest.mark.parametrize("address", ["", ":5557", "host:0", "host:99999", "host:http"])
def test_parse_master_refuses_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="HOST"):
        _wire.parse_master(address)


def test_setup_problem_names_a_version_or_scenario_mismatch() -> None:
    good = {"version": __version__, "scenario_hash": "a" * 64}
    assert _wire.setup_problem(good, __version__, "a" * 64) is None
    version = _wire.setup_problem({**good, "version": "0.0.1"}, __version__, "a" * 64)
    assert version is not None and "version mismatch" in version and "0.0.1" in version
    scenario = _wire.setup_problem(good, __version__, "b" * 64)
    assert scenario is not None and "scenario hash mismatch" in scenario


def test_an_interval_survives_the_wire_and_merges_exactly() -> None:
    workers = [Recorder(highest_us=10_000_000) for _ in range(2)]
    master = Recorder(highest_us=10_000_000)
    master.declare("a", [LATENCY])
    master.start_measuring(0)
    for offset, worker in enumerate(workers):
        worker.declare("a", [LATENCY])
        worker.start_measuring(0)
        for value in range(1, 1001):
            worker.record_request("a", value * (offset + 1), None, None, late=value % 100 == 0)
        worker.record_request("a", None, "timeout", None, late=False)
        data = _wire.interval_data(worker.roll(1))
        master.absorb(_wire.histograms_of(data), _wire.counters_of(data), warmup_requests=3)
    merged = master.roll(1)
    histogram = merged.histograms[("a", LATENCY)]
    assert histogram.get_total_count() == 2000
    assert histogram.get_max_value() == workers[1].totals[("a", LATENCY)].get_max_value()
    expected = workers[0].totals[("a", LATENCY)]
    expected.add(workers[1].totals[("a", LATENCY)])
    assert histogram.get_value_at_percentile(99) == expected.get_value_at_percentile(99)
    assert merged.counters["a"] == TrafficCounters(ok=2000, errors=Counter({"timeout": 2}), late=20)
    assert master.warmup_requests == 6


def test_traffic_counters_round_trip() -> None:
    counters = TrafficCounters(5, Counter({"server": 2}), 1, 3)
    assert TrafficCounters.from_dict(counters.to_dict()) == counters
