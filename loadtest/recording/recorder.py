"""HDR recording of every request: histograms per (traffic entry, metric) plus counters.

Owns the in-memory measurements of a run: the current interval's histograms and counters, and the
running totals. Pure bookkeeping: no I/O, no clock of its own (callers pass times), no knowledge of
Locust or of the clients. Safe to call from several threads: one lock guards each update, and no
code under the lock can block or yield.

Metrics (values are integer microseconds unless noted):

- ``latency``: service time, from the actual send to the complete response (streams: to the final
  response);
- ``response_time``: open loop only, from the request's *intended* start to the complete response
  (includes any wait for a free slot: the coordinated-omission-corrected view);
- ``ttfr``: streams, time to the first response;
- ``gap``: streams, time between consecutive responses;
- ``responses``: streams, number of responses per request (a count, not microseconds).

Only successful requests enter the histograms; failed ones are counted by error kind.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

LATENCY = "latency"
RESPONSE_TIME = "response_time"
TTFR = "ttfr"
GAP = "gap"
RESPONSES = "responses"
METRICS: tuple[str, ...] = (LATENCY, RESPONSE_TIME, TTFR, GAP, RESPONSES)
TIME_METRICS = frozenset({LATENCY, RESPONSE_TIME, TTFR, GAP})
SIGNIFICANT_FIGURES = 3
MAX_RESPONSES_PER_REQUEST = 1_000_000

TagKey = tuple[str, str]
"""(traffic entry name, metric name)."""


def tag_of(key: TagKey) -> str:
    """The interval-log tag of a (traffic, metric) pair: ``traffic/metric``."""
    return f"{key[0]}/{key[1]}"


def key_of(tag: str) -> TagKey:
    """Inverse of :func:`tag_of`."""
    traffic, _, metric = tag.rpartition("/")
    return traffic, metric


def new_histogram(metric: str, highest_us: int) -> HdrHistogram:
    """An empty histogram sized for ``metric`` (time metrics up to ``highest_us``), freed as soon as it is dropped."""
    highest = MAX_RESPONSES_PER_REQUEST if metric == RESPONSES else highest_us
    return without_cycle(HdrHistogram(1, max(highest, 2), SIGNIFICANT_FIGURES))


def without_cycle(histogram: HdrHistogram) -> HdrHistogram:
    """``histogram``, its encoder's reference back to it made weak; returns it.

    The hdrhistogram package's histogram and its encoder refer to each other, so a dropped histogram
    (its counts are ~150 KB) waits for the cyclic garbage collector, whose full passes may be minutes
    apart: a run that rolls a dozen interval histograms a second would hold tens of MB of dead ones.
    With the back-reference weak, reference counting frees a histogram the moment it is dropped.
    """
    encoder = getattr(histogram, "encoder", None)
    if getattr(encoder, "histogram", None) is histogram:
        encoder.histogram = weakref.proxy(histogram)  # type: ignore[union-attr]
    return histogram


def add_value(histogram: HdrHistogram, value: int) -> bool:
    """``histogram.record_value(value)`` for a positive int, in one function call instead of five.

    Same bucket arithmetic as the hdrhistogram package (a test checks they agree); returns False when
    ``value`` is above the histogram's range, like ``record_value``.
    """
    if histogram.unit_magnitude:  # the shortcut below assumes a lowest trackable value of 1
        return bool(histogram.record_value(value))
    shift = (value | histogram.sub_bucket_mask).bit_length() - histogram.sub_bucket_half_count_magnitude - 1
    index = (shift << histogram.sub_bucket_half_count_magnitude) + (value >> shift)
    if index >= histogram.counts_len:
        return False
    histogram.counts[index] += 1
    histogram.total_count += 1
    histogram.min_value = min(histogram.min_value, value)
    histogram.max_value = max(histogram.max_value, value)
    return True


@dataclass
class TrafficCounters:
    """Counts for one traffic entry over some period."""

    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    late: int = 0
    """Open loop: sends that started late (no free slot, or the scheduler fell behind)."""
    clamped: int = 0
    """Values above the histogram range, recorded at its top instead of being dropped."""

    @property
    def error_count(self) -> int:
        """All errors, any kind."""
        return sum(self.errors.values())

    def add(self, other: TrafficCounters) -> None:
        """Accumulate ``other`` into this one."""
        self.ok += other.ok
        self.errors.update(other.errors)
        self.late += other.late
        self.clamped += other.clamped

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TrafficCounters:
        """Inverse of :meth:`to_dict`."""
        errors = data.get("errors") or {}
        assert isinstance(errors, Mapping)
        return cls(
            int(data.get("ok", 0)),  # type: ignore[call-overload]
            Counter({str(k): int(v) for k, v in errors.items()}),
            int(data.get("late", 0)),  # type: ignore[call-overload]
            int(data.get("clamped", 0)),  # type: ignore[call-overload]
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "errors": dict(sorted(self.errors.items())),
            "late": self.late,
            "clamped": self.clamped,
        }


@dataclass
class Interval:
    """What was recorded between two :meth:`Recorder.roll` calls."""

    start_ns: int
    end_ns: int
    histograms: dict[TagKey, HdrHistogram]
    counters: dict[str, TrafficCounters]


@dataclass
class RequestOutcome:
    """One finished request, as the users report it to the recorder."""

    traffic: str
    latency_us: int | None = None
    """Service time of a successful request; ``None`` for a failed one."""
    error_kind: str | None = None
    """Set when the request failed (``timeout``, ``connection``, ``server``, ...)."""
    response_time_us: int | None = None
    late: bool = False
    ttfr_us: int | None = None
    gaps_us: Iterable[int] = ()
    responses: int | None = None


class Recorder:
    """Thread-safe HDR histograms per (traffic, metric) with interval snapshots.

    Nothing is recorded before :meth:`start_measuring` (warm-up): outcomes then only count towards
    :attr:`warmup_requests`. Values above ``highest_us`` are recorded at ``highest_us`` and counted
    in ``clamped``, never dropped.

    Args:
        highest_us: the largest time value to resolve (size it from the inference timeout).
        lock: the lock to guard updates; pass a real OS lock when gevent has patched ``threading``.
    """

    def __init__(self, *, highest_us: int, lock: AbstractContextManager[object] | None = None) -> None:
        self.highest_us = highest_us
        self._lock: AbstractContextManager[object] = lock if lock is not None else threading.Lock()
        self._measuring = False
        self._interval_start_ns = 0
        self._histograms: dict[TagKey, HdrHistogram] = {}
        self._counters: dict[str, TrafficCounters] = {}
        self.totals: dict[TagKey, HdrHistogram] = {}
        self.total_counters: dict[str, TrafficCounters] = {}
        self.warmup_requests = 0
        self.measure_start_ns: int | None = None

    @property
    def measuring(self) -> bool:
        """Whether warm-up is over and outcomes are recorded."""
        return self._measuring

    def declare(self, traffic: str, metrics: Iterable[str]) -> None:
        """Create empty histograms up front so every entry appears in the results even with no data."""
        with self._lock:
            self._counters.setdefault(traffic, TrafficCounters())
            self.total_counters.setdefault(traffic, TrafficCounters())
            for metric in metrics:
                self._histograms.setdefault((traffic, metric), new_histogram(metric, self.highest_us))
                self.totals.setdefault((traffic, metric), new_histogram(metric, self.highest_us))

    def start_measuring(self, now_ns: int) -> None:
        """End the warm-up: from now on outcomes are recorded; starts the first interval."""
        with self._lock:
            self._measuring = True
            self._interval_start_ns = now_ns
            self.measure_start_ns = now_ns

    def record_request(
        self, traffic: str, latency_us: int | None, error_kind: str | None, response_time_us: int | None, late: bool
    ) -> None:
        """Record one finished request/response exchange (the hot path of the non-stream patterns)."""
        with self._lock:
            if not self._measuring:
                self.warmup_requests += 1
                return
            counters = self._counters.get(traffic)
            if counters is None:
                counters = self._counters[traffic] = TrafficCounters()
            if late:
                counters.late += 1
            if error_kind is not None:
                counters.errors[error_kind] += 1
                return
            counters.ok += 1
            if latency_us is not None:
                self._put(counters, traffic, LATENCY, latency_us)
            if response_time_us is not None:
                self._put(counters, traffic, RESPONSE_TIME, response_time_us)

    def record_exchanges(self, traffic: str, latencies_us: list[int], response_times_us: list[int], late: int) -> None:
        """Record several successful request/response exchanges at once, under one lock: the same as one
        :meth:`record_request` per latency (with its response time when ``response_times_us`` has them, open
        loop), ``late`` of them late. An empty batch records nothing."""
        if not latencies_us:
            return
        with self._lock:
            if not self._measuring:
                self.warmup_requests += len(latencies_us)
                return
            counters = self._counters.get(traffic)
            if counters is None:
                counters = self._counters[traffic] = TrafficCounters()
            counters.late += late
            counters.ok += len(latencies_us)
            for metric, values in ((LATENCY, latencies_us), (RESPONSE_TIME, response_times_us)):
                if not values:
                    continue
                histogram = self._histograms.get((traffic, metric))
                if histogram is None:
                    histogram = self._histograms[(traffic, metric)] = new_histogram(metric, self.highest_us)
                for value in values:
                    if not add_value(histogram, value if value > 0 else 1):
                        counters.clamped += 1
                        histogram.record_value(histogram.highest_trackable_value)

    def record(self, outcome: RequestOutcome) -> None:
        """Record one finished request (any pattern, streams included)."""
        with self._lock:
            if not self._measuring:
                self.warmup_requests += 1
                return
            counters = self._counters.get(outcome.traffic)
            if counters is None:
                counters = self._counters[outcome.traffic] = TrafficCounters()
            if outcome.late:
                counters.late += 1
            if outcome.error_kind is not None:
                counters.errors[outcome.error_kind] += 1
                return
            counters.ok += 1
            traffic = outcome.traffic
            if outcome.latency_us is not None:
                self._put(counters, traffic, LATENCY, outcome.latency_us)
            if outcome.response_time_us is not None:
                self._put(counters, traffic, RESPONSE_TIME, outcome.response_time_us)
            if outcome.ttfr_us is not None:
                self._put(counters, traffic, TTFR, outcome.ttfr_us)
            for gap_us in outcome.gaps_us:
                self._put(counters, traffic, GAP, gap_us)
            if outcome.responses is not None:
                self._put(counters, traffic, RESPONSES, outcome.responses)

    def _put(self, counters: TrafficCounters, traffic: str, metric: str, value: int) -> None:
        histogram = self._histograms.get((traffic, metric))
        if histogram is None:
            histogram = self._histograms[(traffic, metric)] = new_histogram(metric, self.highest_us)
        if not add_value(histogram, value if value > 0 else 1):
            counters.clamped += 1
            histogram.record_value(histogram.highest_trackable_value)

    def roll(self, now_ns: int) -> Interval:
        """Close the current interval at ``now_ns``, fold it into the totals and return it."""
        with self._lock:
            histograms, self._histograms = self._histograms, {}
            counters, self._counters = self._counters, {}
            start_ns, self._interval_start_ns = self._interval_start_ns, now_ns
            for key in histograms:
                self._histograms[key] = new_histogram(key[1], self.highest_us)
            for traffic in counters:
                self._counters[traffic] = TrafficCounters()
        # Totals are only touched by the (single) caller of roll, so they need no lock.
        for key, histogram in histograms.items():
            total = self.totals.get(key)
            if total is None:
                total = self.totals[key] = new_histogram(key[1], self.highest_us)
            total.add(histogram)
        for traffic, counter in counters.items():
            self.total_counters.setdefault(traffic, TrafficCounters()).add(counter)
        return Interval(start_ns, now_ns, histograms, counters)

    def absorb(
        self,
        histograms: Mapping[TagKey, HdrHistogram],
        counters: Mapping[str, TrafficCounters],
        *,
        warmup_requests: int = 0,
    ) -> None:
        """Add another recorder's interval into the current one (a distributed run's master merges each
        worker's intervals here); the next :meth:`roll` returns and totals the sum."""
        with self._lock:
            self.warmup_requests += warmup_requests
            for traffic, other in counters.items():
                self._counters.setdefault(traffic, TrafficCounters()).add(other)
            for key, histogram in histograms.items():
                current = self._histograms.get(key)
                if current is None:
                    current = self._histograms[key] = new_histogram(key[1], self.highest_us)
                current.add(histogram)

    def traffic_names(self) -> list[str]:
        """Every traffic entry seen or declared, in first-seen order."""
        names = dict.fromkeys(self.total_counters)
        names.update(dict.fromkeys(self._counters))
        return list(names)


def merge_into(target: dict[TagKey, HdrHistogram], source: dict[TagKey, HdrHistogram], highest_us: int) -> None:
    """Add each histogram of ``source`` into ``target`` (for combining processes or entries)."""
    for key, histogram in source.items():
        total = target.get(key)
        if total is None:
            total = target[key] = new_histogram(key[1], highest_us)
        total.add(histogram)


def encode(histogram: HdrHistogram) -> str:
    """Compressed base64 form (the interval-log payload), for shipping between processes."""
    return histogram.encode().decode("ascii")


def decode(payload: str) -> HdrHistogram:
    """Inverse of :func:`encode`."""
    return HdrHistogram.decode(payload.encode("ascii"))
