"""The run's rules as pure functions of a clock: request budget, open-loop tickets, late sends, the
interval clock and when to stop.

Owns every decision the engine makes from numbers alone, so each is table-tested without Locust, a
server or a real clock: every function takes the time (``perf_counter_ns`` values) as an argument.
:class:`RequestBudget` and :class:`Tickets` are taken from the gevent hub and from the request threads
of ``sync`` gRPC users at once, so each takes under a lock of its own (an uncontended lock, never held
across a wait). Never reads a clock, never sleeps, never touches gevent or Locust.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from loadtest.exit_codes import ExitCode

LATE_THRESHOLD_NS = 5_000_000
"""An open-loop send that starts more than this after its intended time counts as late (the hub's
timers resolve to about a millisecond, so smaller delays are timer noise, not a saturated generator)."""
UNREACHABLE_ABORT_S = 5.0
"""End the run when no request succeeded for this long while connection errors occur."""
IDLE_GRACE_S = 1.0
"""Measured time before an idle run (no users, nothing in flight) counts as finished."""


class RequestBudget:
    """``max_requests``: how many measured requests may still start (unlimited when None); thread-safe."""

    def __init__(self, max_requests: int | None) -> None:
        self.max_requests = max_requests
        self.spent = 0
        self.exhausted = False
        self._lock = threading.Lock()

    def take(self, measuring: bool) -> bool:
        """Whether one more request may start; spends one when measuring. Warm-up requests are free."""
        if self.exhausted:
            return False
        if self.max_requests is None or not measuring:
            return True
        with self._lock:
            if self.spent >= self.max_requests:
                self.exhausted = True
                return False
            self.spent += 1
            return True


class Tickets:
    """Open loop: hands out the intended start times of one traffic entry's requests, in order.

    ``offset_s(n)`` is a pure schedule (None once it is exhausted); times are relative to ``start_ns``.
    Thread-safe: each start is handed out once, whichever threads take them.
    """

    def __init__(self, offset_s: Callable[[int], float | None], start_ns: int) -> None:
        self._offset_s = offset_s
        self._start_ns = start_ns
        self.issued = 0
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """Whether :meth:`take` answers at once (a distributed worker's tickets wait for their schedule)."""
        return True

    def take(self) -> int | None:
        """The next request's intended start (``perf_counter_ns``), or None when the schedule is done."""
        with self._lock:
            offset = self._offset_s(self.issued)
            if offset is None:
                return None
            self.issued += 1
        return self._start_ns + round(offset * 1e9)


def is_late(start_ns: int, intended_ns: int | None) -> bool:
    """Whether a send that started at ``start_ns`` missed its intended start by more than the threshold."""
    return intended_ns is not None and start_ns - intended_ns > LATE_THRESHOLD_NS


def response_time_us(end_ns: int, intended_ns: int | None) -> int | None:
    """Open loop: the response time from the intended start (coordinated-omission corrected); else None."""
    return None if intended_ns is None else (end_ns - intended_ns) // 1000


@dataclass(frozen=True)
class Tick:
    """What the interval clock says to do at one wake-up."""

    start_measuring: bool = False
    """The warm-up ends now: roll a warm-up interval and start measuring."""
    roll: bool = False
    """An interval ends now: roll it, write it, poll the server."""


class IntervalClock:
    """When intervals end, when the warm-up ends and when the measured window ends.

    The measured window starts when the warm-up ends (at ``start_ns`` without one) and lasts
    ``duration_s``; ``end_ns`` is huge when the run has no fixed end (Locust decides).
    """

    def __init__(
        self, start_ns: int, *, warmup_s: float, duration_s: float, interval_s: float, ends: bool = True
    ) -> None:
        self.interval_ns = max(1, round(interval_s * 1e9))
        self.warmup_end_ns = start_ns + round(warmup_s * 1e9)
        self.end_ns = self.warmup_end_ns + round(duration_s * 1e9) if ends else 1 << 62
        self.measuring = warmup_s <= 0
        self.next_tick_ns = start_ns + self.interval_ns

    def wake_at_ns(self) -> int:
        """When the caller should wake up next."""
        if not self.measuring:
            return min(self.next_tick_ns, self.warmup_end_ns)
        return min(self.next_tick_ns, self.end_ns)

    def tick(self, now_ns: int) -> Tick:
        """What to do at ``now_ns``; advances the clock."""
        if not self.measuring and now_ns >= self.warmup_end_ns:
            self.measuring = True
            self.next_tick_ns = now_ns + self.interval_ns
            return Tick(start_measuring=True)
        if now_ns >= self.next_tick_ns or (self.measuring and now_ns >= self.end_ns):
            self.next_tick_ns += self.interval_ns
            while self.next_tick_ns <= now_ns:
                self.next_tick_ns += self.interval_ns
            return Tick(roll=True)
        return Tick()

    def measured_s(self, start_ns: int | None, now_ns: int) -> float:
        """Length of the measured window from ``start_ns`` until ``now_ns``, never past its end."""
        if start_ns is None:
            return 0.0
        return max(0, min(now_ns, self.end_ns) - start_ns) / 1e9


@dataclass
class Stall:
    """A stretch with requests in flight and no response: from the last completion until the next one."""

    start_ns: int
    end_ns: int | None = None
    """None while it lasts."""


class StallTracker:
    """Finds stalls: requests in flight and no completion for at least ``threshold_s`` (two intervals)."""

    def __init__(self, threshold_s: float) -> None:
        self.threshold_ns = round(threshold_s * 1e9)
        self.stalls: list[Stall] = []

    @property
    def current(self) -> Stall | None:
        """The stall going on now, if any."""
        return self.stalls[-1] if self.stalls and self.stalls[-1].end_ns is None else None

    def update(self, now_ns: int, in_flight: int, last_completion_ns: int) -> Stall | None:
        """Look at the run at ``now_ns``; returns a stall that just began or just ended, else None."""
        current = self.current
        if current is not None:
            if last_completion_ns > current.start_ns or in_flight == 0:
                current.end_ns = last_completion_ns if last_completion_ns > current.start_ns else now_ns
                return current
            return None
        if in_flight > 0 and now_ns - last_completion_ns >= self.threshold_ns:
            stall = Stall(start_ns=last_completion_ns)
            self.stalls.append(stall)
            return stall
        return None

    def close(self, now_ns: int) -> None:
        """End a stall that lasts until the run's end."""
        if self.current is not None:
            self.stalls[-1].end_ns = now_ns


GENERATOR_CPU_LIMIT = 0.9
"""A generator process busier than this share of one core is saturated (its hub and GIL run on one core)."""
LOOP_LAG_LIMIT_US = 50_000
"""A gevent hub that wakes timers more than this late (p99) delays sends and completions: saturated."""
LATE_SHARE_LIMIT = 0.10
"""Open loop: more than this share of the sends counted by :class:`LateSends` started late: the generator
could not keep the rate. A few late sends (a busy second, a GC pause) move single requests by
milliseconds, not the rate offered; runs, intervals and sweep steps all use this one limit."""
CAP_HIT_SHARE = 0.9
"""Open loop: an interval whose requests in flight reached this share of the workers hit the in-flight
cap (``max_in_flight``): its sends waited for a free worker, which is the server's doing."""
MIN_ACHIEVED_PCT = 90.0
"""Open loop: the server kept up when it completed at least this % of the offered rate."""


def server_kept_up(achieved_rps: float, offered_rps: float | None, min_achieved_pct: float = MIN_ACHIEVED_PCT) -> bool:
    """Whether the server completed at least ``min_achieved_pct`` % of the offered rate (True when the
    offered rate is unknown, e.g. a run with load stages)."""
    return offered_rps is None or achieved_rps >= offered_rps * min_achieved_pct / 100.0


@dataclass
class LateSends:
    """The open-loop late sends that count against the generator: one rule for intervals, runs and steps.

    A send is late when it started over ``LATE_THRESHOLD_NS`` after its intended time. That is the
    generator's fault only when it had a free worker to send with: the sends of an interval that hit the
    in-flight cap (requests in flight >= ``CAP_HIT_SHARE`` x workers) waited for the server and are left
    out, and so is every send of a run or step whose server did not keep up (:func:`server_kept_up`).
    """

    sent: int = 0
    late: int = 0

    def add(self, sent: int, late: int, in_flight: int, workers: int) -> None:
        """Count one interval's sends, unless every worker was busy (``workers`` 0: unknown, counted)."""
        if workers > 0 and in_flight >= CAP_HIT_SHARE * workers:
            return
        self.sent += sent
        self.late += late

    def share(self, *, server_kept_up: bool = True) -> float | None:
        """Late over counted sends; None when nothing counts (no sends, or the server fell behind)."""
        if not server_kept_up or not self.sent:
            return None
        return self.late / self.sent


@dataclass(frozen=True)
class GeneratorVerdict:
    """Whether the load generator, not the server, limited the run, and why."""

    saturated: bool
    reason: str | None


def generator_verdict(cpu_util: float, loop_lag_p99_us: float | None, late_share: float | None) -> GeneratorVerdict:
    """Judge the generator from its CPU use (cores), its hub's timer lag and the open-loop late share."""
    reasons = []
    if cpu_util >= GENERATOR_CPU_LIMIT:
        reasons.append(f"its CPU use is {cpu_util:.0%} of one core")
    if loop_lag_p99_us is not None and loop_lag_p99_us > LOOP_LAG_LIMIT_US:
        reasons.append(f"its event loop runs {loop_lag_p99_us / 1000:.0f} ms late (p99)")
    if late_share is not None and late_share > LATE_SHARE_LIMIT:
        reasons.append(f"{late_share:.1%} of sends started late")
    if not reasons:
        return GeneratorVerdict(False, None)
    fix = "spread the load over more generator processes or machines, or use fewer users per process"
    return GeneratorVerdict(True, f"the load generator is saturated ({'; '.join(reasons)}): {fix}")


@dataclass(frozen=True)
class RunState:
    """What the stop rules look at, sampled at one instant."""

    now_ns: int
    end_ns: int
    closed_loop: bool
    measuring: bool
    measured_s: float
    users: int
    in_flight: int
    last_ok_ns: int
    last_connection_error_ns: int | None = None
    stop_requested: bool = False
    """Someone outside (Locust's ``test_stop``, the Python API) ended the run."""
    signal: int | None = None
    server_exited: bool = False
    budget_exhausted: bool = False
    write_error: str | None = None
    """Why the run directory could not be written (a full disk), when it could not."""


@dataclass(frozen=True)
class Stop:
    """Why and how a run ends."""

    status: str
    """``completed``, ``interrupted`` or ``failed``."""
    exit_code: int
    reason: str


def stop_reason(state: RunState) -> Stop | None:
    """Whether the run ends now, and how; None to go on. The first matching rule wins."""
    if state.write_error is not None:
        return Stop("failed", ExitCode.RUNTIME_ERROR, state.write_error)
    if state.stop_requested:
        return Stop("completed", ExitCode.OK, "stopped")
    if state.signal is not None:
        return Stop("interrupted", ExitCode.INTERRUPTED, f"interrupted by signal {state.signal}")
    if state.server_exited:
        return Stop("failed", ExitCode.RUNTIME_ERROR, "the embedded Triton server exited during the run")
    error_ns = state.last_connection_error_ns
    if (
        error_ns is not None
        and error_ns > state.last_ok_ns
        and state.now_ns - state.last_ok_ns > UNREACHABLE_ABORT_S * 1e9
    ):
        return Stop("failed", ExitCode.RUNTIME_ERROR, f"the server has been unreachable for {UNREACHABLE_ABORT_S:g} s")
    if state.now_ns >= state.end_ns:
        return Stop("completed", ExitCode.OK, "duration reached")
    if state.budget_exhausted:
        return Stop("completed", ExitCode.OK, "max_requests reached")
    idle = state.users == 0 and state.in_flight == 0
    if idle and state.measuring and state.measured_s > IDLE_GRACE_S:
        if state.closed_loop:
            return Stop("failed", ExitCode.RUNTIME_ERROR, "every user stopped before the end of the run")
        return Stop("completed", ExitCode.OK, "the arrival schedule is done")
    return None


__all__ = [
    "CAP_HIT_SHARE",
    "LATE_SHARE_LIMIT",
    "LATE_THRESHOLD_NS",
    "MIN_ACHIEVED_PCT",
    "UNREACHABLE_ABORT_S",
    "GeneratorVerdict",
    "IntervalClock",
    "LateSends",
    "RequestBudget",
    "RunState",
    "Stall",
    "StallTracker",
    "Stop",
    "Tick",
    "Tickets",
    "generator_verdict",
    "is_late",
    "response_time_us",
    "server_kept_up",
    "stop_reason",
]
