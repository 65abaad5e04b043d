"""The capacity search, the knee of the latency-throughput curve and the instance count: pure.

Owns deciding which level (open-loop rate or concurrency) to measure next from the outcomes so far,
and what the answer is. The search brackets by doubling from the lowest level until a step fails (or
the highest level passes), then bisects between the last passing and the first failing level until
the last passing one is within ``precision_pct`` % under the first failing one, then measures the
answer once more to confirm it. Bracketing steps are scouts (:attr:`CapacitySearch.scouting`): a step
whose first window passes may end there, because it only has to say "go higher"; the answer itself is
always measured to stability by the confirming step. Rates are rounded to three
significant digits (four for a precision under 1 %), user counts to whole numbers.
Only a step that passed counts as passing: a failed, unstable, server-saturated or generator-saturated
step is an upper bound, and a generator-saturated step is never the answer. An open-loop step whose
server fell behind bounds the search at the throughput it achieved, not at its level: no higher rate can
pass, so the bisection starts under it (``first_fail`` is then that throughput, never a passing level),
and its first probe is just under that throughput (``precision_pct`` % under it): a server whose SLO
holds until it saturates is answered in one step instead of a bisection.
A step whose generator saturated, or an inconclusive one (unstable, its SLOs met overall but not in every window), is
measured once more first (a busy machine's hiccup passes; a generator that cannot offer the level
saturates again). Never measures anything.

The knee: on the curve of p99 latency against achieved throughput (steps in level order, both axes
scaled to [0, 1] by their largest value), the step furthest below the straight line from the first to
the last step. It is where latency stops being flat and starts to climb; None with fewer than three
steps or a curve that never bends upwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """What the search needs of one measured step."""

    level: float
    passed: bool
    """Stable, every SLO met, the offered load achieved, the generator not saturated."""
    generator_saturated: bool = False
    inconclusive: bool = False
    """Unstable, every SLO met on the step's numbers but not in each of its windows: worth measuring again."""
    saturated_rps: float | None = None
    """Open loop: the throughput a server that fell behind the offered rate achieved. No higher rate can
    pass, so it bounds the search from above as a failed level would (the bisection starts under it)."""


@dataclass
class CapacitySearch:
    """Bracketing, then bisection, then a confirming step; feed it outcomes with :meth:`record`.

    Args:
        low: the lowest level (measured first).
        high: the highest level to try; None lets doubling go on (up to ``ceiling``).
        precision_pct: stop bisecting when the first failing level is within this % of the last passing one.
        integer: levels are whole numbers (concurrency).
    """

    low: float
    high: float | None = None
    precision_pct: float = 5.0
    integer: bool = False
    ceiling: float = 1e6
    max_confirmations: int = 2
    """A failed confirmation resumes the bisection below it; after this many, the answer stands unconfirmed."""
    outcomes: list[Outcome] = field(default_factory=list)
    last_pass: float | None = None
    first_fail: float | None = None
    confirmed: bool | None = None
    _confirming: float | None = None
    _retry: float | None = None
    _retried: set[float] = field(default_factory=set)
    _confirmations: int = 0
    _probe: float | None = None
    _scouting: bool = False

    def _round(self, level: float, *, up: bool = False) -> float:
        if self.integer:
            return float(math.floor(level))
        return _significant(level, 3 if self.precision_pct >= 1 else 4, up=up)

    @property
    def scouting(self) -> bool:
        """Whether the level last handed out brackets (doubling, or the lowest level): a scout step, which may
        end after a first window that meets every SLO."""
        return self._scouting

    def record(self, outcome: Outcome) -> None:
        """Take the outcome of the step that :meth:`next_level` asked for."""
        self.outcomes.append(outcome)
        if (outcome.generator_saturated or outcome.inconclusive) and outcome.level not in self._retried:
            self._retried.add(outcome.level)
            self._retry = outcome.level  # measure it again before it counts (the confirmation stays pending)
            return
        if self._confirming is not None:
            confirming, self._confirming = self._confirming, None
            self._confirmations += 1
            if outcome.passed or outcome.generator_saturated:
                # a saturated generator measured nothing: the answer stands, unconfirmed
                self.confirmed = outcome.passed
                return
            # The answer did not hold: bisect on below it, from the highest level under it that passed.
            self.first_fail = confirming
            lower = [o.level for o in self.outcomes if o.passed and o.level < confirming]
            self.last_pass = max(lower) if lower else None
            if self._confirmations >= self.max_confirmations or self.last_pass is None:
                self.confirmed = False
            return
        if outcome.passed:
            self.last_pass = outcome.level if self.last_pass is None else max(self.last_pass, outcome.level)
        else:
            bound = outcome.level
            saturated = outcome.saturated_rps
            if saturated is not None and self.last_pass is not None and saturated > self.last_pass:
                bound = min(bound, saturated)  # a noisy rate at or under a passed level bounds nothing
            self.first_fail = bound if self.first_fail is None else min(self.first_fail, bound)
            if bound < outcome.level and self.first_fail == bound:
                # Probe just under what the saturated server achieved: if it passes, the search is done.
                self._probe = self._round(bound * (1 - self.precision_pct / 100.0), up=True)

    def next_level(self) -> float | None:
        """The level to measure next; None when the search is over."""
        if not self.outcomes:
            self._scouting = True
            return self._round(self.low)
        if self._retry is not None:
            level, self._retry = self._retry, None
            return level
        self._scouting = False
        if self.confirmed is not None:
            return None
        if self.last_pass is None:
            return None  # even the lowest level failed
        if self.first_fail is None:
            top = self.high if self.high is not None else self.ceiling
            if self.last_pass >= top:
                return self._confirm()
            self._scouting = True
            return self._round(min(self.last_pass * 2, top))
        close = self.first_fail - self.last_pass <= self.first_fail * self.precision_pct / 100.0
        probe, self._probe = self._probe, None
        if not close and probe is not None and self.last_pass < probe < self.first_fail:
            return probe
        mid = self._round((self.last_pass + self.first_fail) / 2)
        if close or mid <= self.last_pass or mid >= self.first_fail:
            return self._confirm()
        return mid

    def _confirm(self) -> float | None:
        if self.last_pass is None:
            return None
        self._confirming = self.last_pass
        return self.last_pass

    @property
    def confirming(self) -> bool:
        """Whether the level last handed out is the confirming step."""
        return self._confirming is not None

    def answer(self) -> dict[str, Any]:
        """``capacity.json["answer"]``'s search part: level, last pass, first fail, confirmed."""
        return {
            "level": self.last_pass,
            "last_pass": self.last_pass,
            "first_fail": self.first_fail,
            "confirmed": bool(self.confirmed),
            "lowest_failed": self.last_pass is None and bool(self.outcomes),
        }


def _significant(value: float, digits: int, *, up: bool = False) -> float:
    """``value`` rounded to ``digits`` significant digits (up: never below ``value``)."""
    if value <= 0:
        return value
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    scaled = value * scale
    rounded = math.ceil(scaled - 1e-9) if up else round(scaled)
    return round(rounded / scale, 9)


@dataclass(frozen=True)
class CurvePoint:
    """One step on the latency-throughput curve."""

    level: float
    throughput_rps: float
    p99_us: float


def knee(points: Sequence[CurvePoint]) -> CurvePoint | None:
    """The knee of the curve (see the module docstring); None when there is none."""
    by_level: dict[float, CurvePoint] = {}
    for point in points:
        by_level[point.level] = point  # a repeated level (the confirming step): the last measurement
    ordered = [by_level[level] for level in sorted(by_level)]
    if len(ordered) < 3:
        return None
    x_max = max(p.throughput_rps for p in ordered) or 1.0
    y_max = max(p.p99_us for p in ordered) or 1.0
    xs = [p.throughput_rps / x_max for p in ordered]
    ys = [p.p99_us / y_max for p in ordered]
    x0, y0, x1, y1 = xs[0], ys[0], xs[-1], ys[-1]
    best, best_gap = None, 1e-9
    for index in range(1, len(ordered) - 1):
        if x1 != x0:
            chord = y0 + (xs[index] - x0) * (y1 - y0) / (x1 - x0)
        else:  # no throughput gained at all: follow the level order instead
            chord = y0 + index * (y1 - y0) / (len(ordered) - 1)
        gap = chord - ys[index]
        if gap > best_gap:
            best, best_gap = ordered[index], gap
    return best


def instances_needed(answer_rps: float, instances_now: int, target_rps: float, headroom_pct: float) -> int:
    """Instances that serve ``target_rps`` with ``headroom_pct`` % to spare, if capacity scales with them.

    Each instance is credited with ``answer_rps / instances_now`` (the measured capacity per instance).
    """
    if answer_rps <= 0 or instances_now <= 0:
        raise ValueError("the answer and the instance count must be positive")
    per_instance = answer_rps / instances_now
    return max(1, math.ceil(target_rps * (1 + headroom_pct / 100.0) / per_instance - 1e-9))


__all__ = ["CapacitySearch", "CurvePoint", "Outcome", "instances_needed", "knee"]
