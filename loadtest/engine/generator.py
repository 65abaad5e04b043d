"""The load generator's own health: CPU use, event-loop lag and late sends, per interval and per run.

Owns measuring whether this process, not the server, limits a run: a greenlet that samples how late
the gevent hub wakes a timer (if the hub is busy, every send and every completion waits as long),
the process's CPU time per interval, and the open-loop sends from the recorder's counters. The verdict
itself is ``rules.generator_verdict`` (pure); which late sends count against the generator is
``rules.LateSends`` (pure, shared with sweep steps). Never sends a request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import gevent

from loadtest.engine.rules import GeneratorVerdict, LateSends, generator_verdict, server_kept_up
from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.recorder import Interval, TrafficCounters, new_histogram

PROBE_PERIOD_S = 0.05
"""How often the lag probe asks the hub to wake it."""


class LagProbe:
    """A greenlet that sleeps ``PROBE_PERIOD_S`` again and again and records how late it wakes, in µs."""

    def __init__(self) -> None:
        self.interval = new_histogram("lag", 60_000_000)
        self.total = new_histogram("lag", 60_000_000)
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> LagProbe:
        self._greenlet = gevent.spawn(self._run)
        return self

    def _run(self) -> None:
        while True:
            before = time.perf_counter_ns()
            gevent.sleep(PROBE_PERIOD_S)
            lag_us = max(0, (time.perf_counter_ns() - before) // 1000 - round(PROBE_PERIOD_S * 1e6))
            lag_us = min(lag_us, 60_000_000)
            self.interval.record_value(lag_us)
            self.total.record_value(lag_us)

    def roll(self) -> float | None:
        """The p99 lag of the interval that ends now (µs), or None without samples; starts the next one."""
        p99 = _p99(self.interval)
        self.interval = new_histogram("lag", 60_000_000)  # hdrh's reset() zeroes 17k counts in Python: 1.3 ms
        return p99

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None


def _p99(histogram: Any) -> float | None:
    if not histogram.get_total_count():
        return None
    return float(value_at_percentiles(histogram, (99,))[0])


def sends_of(counters: Iterable[TrafficCounters]) -> tuple[int, int]:
    """(sent, late) of one interval's counters: every request sent, and the open-loop sends that were late."""
    counters = list(counters)
    return sum(c.ok + c.error_count for c in counters), sum(c.late for c in counters)


def interval_verdict(
    interval: Interval, cpu_s: float, lag_p99_us: float | None, open_loop: bool, in_flight: int, workers: int
) -> GeneratorVerdict:
    """The verdict of one interval (``in_flight`` at its end and the ``workers``: is the in-flight cap hit?)."""
    wall_s = max((interval.end_ns - interval.start_ns) / 1e9, 1e-9)
    share = None
    if open_loop:
        late = LateSends()
        late.add(*sends_of(interval.counters.values()), in_flight, workers)
        share = late.share()
    return generator_verdict(cpu_s / wall_s, lag_p99_us, share)


def run_summary(
    cpu_s: float,
    wall_s: float,
    probe: LagProbe,
    overall: dict[str, Any],
    late: LateSends | None,
    offered_rps: float | None,
    saturated_intervals: int,
) -> dict[str, Any]:
    """The ``generator`` section of summary.json for the measured part of a run (``overall``: the summary's
    overall block; ``late``: the measured intervals' sends in open loop, None in closed loop; ``offered_rps``:
    a constant open-loop rate, None when unknown). The verdict is the whole run's; ``saturated_intervals``
    counts the intervals that were."""
    cpu_util = cpu_s / wall_s if wall_s > 0 else 0.0
    lag = _p99(probe.total)
    kept_up = server_kept_up(float(overall.get("throughput_rps") or 0.0), offered_rps)
    share = late.share(server_kept_up=kept_up) if late is not None else None
    verdict = generator_verdict(cpu_util, lag, share)
    saturated, reason = verdict.saturated, verdict.reason
    return {
        "cpu_util": round(cpu_util, 3),
        "loop_lag_p99_us": None if lag is None else int(lag),
        "late_share": None if share is None else round(share, 5),
        "saturated_intervals": saturated_intervals,
        "saturated": saturated,
        "reason": reason,
    }


__all__ = ["LagProbe", "interval_verdict", "run_summary", "sends_of"]
