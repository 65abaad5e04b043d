"""Load shapes and pacers: pure functions of elapsed time and of requests sent.

Owns the timeline of a run (warm-up, then stages), the intended start of every open-loop request
(constant or Poisson arrivals, seeded), and the expected request counts that follow from them. Never
reads a clock, never sleeps, never imports Locust: callers pass the elapsed time in, so every rule
here is tested from tables.

Timeline: ``[0, warmup_s)`` runs at the first stage's load (excluded from results); then each stage
runs for its ``duration_s``. When the measured duration is longer than the stages, the last stage
holds; when it is shorter, the schedule is cut. Elapsed times count from the start of the run.

Usage::

    schedule = StageSchedule([Stage(10, rate_per_s=50), Stage(10, rate_per_s=100)], warmup_s=2)
    schedule.tick(5.0)                    # Tick(stage=0, warmup=False, rate_per_s=50, ...)
    arrivals = ArrivalSchedule(schedule, arrival="poisson", seed=1)
    arrivals.intended_start_s(0)          # seconds after the start of the run, or None when done
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Arrival = Literal["constant", "poisson"]
_POISSON_CHUNK = 4096


@dataclass(frozen=True)
class Stage:
    """A stretch of constant load: ``users`` (closed loop) or ``rate_per_s`` (open loop)."""

    duration_s: float
    users: int | None = None
    spawn_rate: float | None = None
    """Users started (or stopped) per second when entering this stage (closed loop)."""
    rate_per_s: float | None = None


@dataclass(frozen=True)
class Tick:
    """The load wanted at one instant: what a Locust ``LoadTestShape.tick`` needs, and more."""

    stage: int
    """Index of the stage in force (0 during warm-up)."""
    warmup: bool
    """True while the warm-up runs (requests are sent but not recorded)."""
    users: int | None
    spawn_rate: float | None
    rate_per_s: float | None


@dataclass(frozen=True)
class Segment:
    """One stretch of the timeline: ``[start_s, end_s)`` at one stage's load."""

    start_s: float
    end_s: float
    stage: int
    warmup: bool
    load: Stage


class StageSchedule:
    """Warm-up followed by stages, as a piecewise-constant function of elapsed time.

    Args:
        stages: at least one stage; every stage has a positive duration.
        warmup_s: warm-up before the first stage, at the first stage's load.
        duration_s: measured duration after warm-up; None means the sum of the stage durations.

    Raises:
        ValueError: no stage, or a negative/zero duration.
    """

    def __init__(self, stages: Sequence[Stage], *, warmup_s: float = 0.0, duration_s: float | None = None) -> None:
        if not stages:
            raise ValueError("a schedule needs at least one stage")
        if any(not stage.duration_s > 0 for stage in stages):
            raise ValueError("every stage needs a positive duration_s")
        if warmup_s < 0 or (duration_s is not None and not duration_s > 0):
            raise ValueError("warmup_s must be >= 0 and duration_s > 0")
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.warmup_s = float(warmup_s)
        self.duration_s = float(duration_s if duration_s is not None else sum(s.duration_s for s in stages))
        self.total_s = self.warmup_s + self.duration_s
        self.segments: tuple[Segment, ...] = self._segments()
        self._starts = [segment.start_s for segment in self.segments]

    def _segments(self) -> tuple[Segment, ...]:
        segments: list[Segment] = []
        if self.warmup_s > 0:
            segments.append(Segment(0.0, self.warmup_s, 0, True, self.stages[0]))
        start = self.warmup_s
        for index, stage in enumerate(self.stages):
            last = index == len(self.stages) - 1
            end = self.total_s if last else min(start + stage.duration_s, self.total_s)
            if end > start:
                segments.append(Segment(start, end, index, False, stage))
            start = end
            if start >= self.total_s:
                break
        return tuple(segments)

    def segment_at(self, elapsed_s: float) -> Segment | None:
        """The segment in force at ``elapsed_s``, or None before 0 or once the run is over."""
        if elapsed_s < 0 or elapsed_s >= self.total_s:
            return None
        return self.segments[bisect.bisect_right(self._starts, elapsed_s) - 1]

    def tick(self, elapsed_s: float) -> Tick | None:
        """The load wanted at ``elapsed_s`` seconds after the start; None once the run is over."""
        segment = self.segment_at(elapsed_s)
        if segment is None:
            return None
        load = segment.load
        return Tick(segment.stage, segment.warmup, load.users, load.spawn_rate, load.rate_per_s)

    def integral(self, quantity: Literal["rate_per_s", "users"], start_s: float, end_s: float) -> float:
        """The integral of a stage quantity over ``[start_s, end_s)`` (stages without it count as 0).

        ``rate_per_s`` gives the expected number of arrivals; ``users`` gives user-seconds.
        """
        total = 0.0
        for segment in self.segments:
            lo, hi = max(start_s, segment.start_s), min(end_s, segment.end_s)
            value = getattr(segment.load, quantity)
            if hi > lo and value:
                total += value * (hi - lo)
        return total

    def expected_arrivals(self, start_s: float = 0.0, end_s: float | None = None) -> float:
        """Expected open-loop requests intended to start in ``[start_s, end_s)`` (default: the whole run)."""
        return self.integral("rate_per_s", start_s, self.total_s if end_s is None else end_s)

    def time_of_arrival_mass(self, mass: float) -> float | None:
        """The elapsed time at which ``expected_arrivals(0, t) == mass``; None when the run ends first."""
        if mass < 0:
            raise ValueError("mass must be >= 0")
        remaining = mass
        for segment in self.segments:
            rate = segment.load.rate_per_s or 0.0
            span = segment.end_s - segment.start_s
            if rate > 0 and remaining < rate * span:
                return segment.start_s + remaining / rate
            remaining -= rate * span
        return None


class ArrivalSchedule:
    """Intended start times of open-loop requests, for one stream of arrivals.

    Constant arrivals put request ``n`` at the instant the expected arrival count reaches ``n``
    (request 0 at the start). Poisson arrivals are a (non-homogeneous) Poisson process with the
    schedule's rate, drawn from a seeded generator: the same seed and stream give the same times.

    Args:
        schedule: the stage schedule; its ``rate_per_s`` sets the arrival rate.
        arrival: ``"constant"`` or ``"poisson"``.
        seed: seed of the Poisson draws.
        share: this stream's fraction of the schedule's rate (a traffic entry's share), in (0, 1].
        stream: distinguishes independent streams that share a seed (e.g. the traffic entry index).
    """

    def __init__(
        self,
        schedule: StageSchedule,
        *,
        arrival: Arrival = "constant",
        seed: int = 0,
        share: float = 1.0,
        stream: int = 0,
    ) -> None:
        if arrival not in ("constant", "poisson"):
            raise ValueError(f"arrival must be 'constant' or 'poisson', not {arrival!r}")
        if not 0.0 < share <= 1.0:
            raise ValueError("share must be in (0, 1]")
        self.schedule = schedule
        self.arrival: Arrival = arrival
        self.share = share
        self._rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
        self._marks = np.empty(0, dtype=np.float64)

    def intended_start_s(self, n: int) -> float | None:
        """Elapsed seconds at which request ``n`` (counting from 0) should start; None after the run."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self.schedule.time_of_arrival_mass(self._mark(n) / self.share)

    def _mark(self, n: int) -> float:
        if self.arrival == "constant":
            return float(n)
        while n >= len(self._marks):
            gaps = self._rng.exponential(1.0, _POISSON_CHUNK)
            offset = self._marks[-1] if len(self._marks) else 0.0
            self._marks = np.concatenate([self._marks, offset + np.cumsum(gaps)])
        return float(self._marks[n])

    def expected_count(self, start_s: float = 0.0, end_s: float | None = None) -> float:
        """Expected number of this stream's requests intended to start in ``[start_s, end_s)``."""
        return self.share * self.schedule.expected_arrivals(start_s, end_s)
