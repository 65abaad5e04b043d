"""The master's view of its workers: who arrived, who is ready, what each reported, who was lost.

Owns the per-worker bookkeeping of a distributed run and the merge of every worker's intervals into
the master's recorder (``Recorder.absorb``), with each worker's clock offset, CPU and request counts,
and the list that becomes ``summary.json["workers"]``. Handlers are called by Locust's master runner
from its receiving greenlet; each one returns at once (a slow handler delays heartbeats). Never
starts processes and never decides when the run ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.engine import _wire
from loadtest.engine._split import clock_offset_s
from loadtest.engine.control import RunControl
from loadtest.engine.generator import LagProbe
from loadtest.recording.hlog import IntervalLogWriter
from loadtest.recording.recorder import Recorder, TagKey, new_histogram

CONNECTED = "connected"
READY = "ready"
RUNNING = "running"
DONE = "done"
LOST = "lost"
REFUSED = "refused"
LIVE_STATES = frozenset({READY, RUNNING})


class FleetLagProbe(LagProbe):
    """The workers' event-loop lag in place of the master's own: each worker's interval p99 is recorded
    here, so the session's generator verdict judges the processes that send (the master only waits)."""

    def start(self) -> FleetLagProbe:
        return self

    def record(self, lag_p99_us: float) -> None:
        """One worker's p99 lag of one interval (µs)."""
        value = min(max(0, int(lag_p99_us)), 60_000_000)
        self.interval.record_value(value)
        self.total.record_value(value)


@dataclass
class WorkerState:
    """One worker as the master knows it; :meth:`entry` is its ``summary.json["workers"]`` item."""

    client_id: str
    index: int = -1
    host: str = ""
    pid: int | None = None
    state: str = CONNECTED
    requests: int = 0
    ok: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    """Measured time its intervals covered (its clock)."""
    users: int = 0
    in_flight: int = 0
    spent: int = 0
    clock_offset_s: float | None = None
    round_trip_s: float | None = None
    last_seq: int = 0
    cut_ns: int | None = None
    """When the master asked for this worker's last interval (its clock): the next one starts there."""
    final: bool = False
    reason: str | None = None
    seen_at_s: float = field(default_factory=time.monotonic)
    totals: dict[TagKey, HdrHistogram] = field(default_factory=dict)
    """This worker's own whole-run histograms (the master's per-worker view)."""

    def entry(self) -> dict[str, Any]:
        """The JSON-ready summary item."""
        item: dict[str, Any] = {
            "id": f"w{self.index}" if self.index >= 0 else self.client_id,
            "host": self.host,
            "pid": self.pid,
            "state": self.state,
            "requests": self.requests,
            "ok": self.ok,
            "cpu_s": round(self.cpu_s, 3),
            "cpu_us_per_request": round(self.cpu_s * 1e6 / self.requests, 1) if self.requests else None,
            "cpu_util": round(self.cpu_s / self.wall_s, 3) if self.wall_s > 0 else None,
            "clock_offset_s": None if self.clock_offset_s is None else round(self.clock_offset_s, 6),
            "client_id": self.client_id,
        }
        if self.reason:
            item["reason"] = self.reason
        return item


class Fleet:
    """Every worker of one distributed run, keyed by Locust's client id.

    Args:
        recorder: the master's recorder; each worker interval is absorbed into its current interval.
        control: the master's run control; worker reports keep its stop-rule fields current.
        say: prints a notice (the run's console).
    """

    def __init__(self, recorder: Recorder, control: RunControl, *, say: Callable[[str], None]) -> None:
        self.recorder = recorder
        self.control = control
        self.say = say
        self.workers: dict[str, WorkerState] = {}
        self.entries: list[dict[str, Any]] = []
        """The list ``summary.json["workers"]`` shows; refreshed in place by :meth:`refresh`."""
        self.max_requests: int | None = control.budget.max_requests
        self.lag_probe = FleetLagProbe()
        self.overview: dict[str, Any] = {}
        self.unfinished: dict[str, dict[str, int]] = {}
        """Requests the workers still had out after the grace (``summary.json["unfinished"]``)."""
        self.worker_log: IntervalLogWriter | None = None
        """``workers.hlog``: each worker's own intervals, tagged ``w<index>/<traffic>/<metric>``."""
        self.measure_start_ns: Callable[[], int | None] = lambda: None
        """``summary.json["distributed"]``: the mode and the workers' totals (CPU per request, lost ones)."""

    # -- Locust message handlers ---------------------------------------------------------------
    def on_ready(self, environment: Any, msg: Any) -> None:
        """A worker built its users from our ``SETUP``."""
        worker = self.worker(msg.node_id)
        data = msg.data or {}
        worker.index, worker.host, worker.pid = int(data.get("index", -1)), str(data.get("host", "")), data.get("pid")
        worker.state = READY
        self.refresh()

    def on_refused(self, environment: Any, msg: Any) -> None:
        """A worker refused the run (another version, another scenario hash, a missing file or token)."""
        worker = self.worker(msg.node_id)
        worker.state, worker.reason = REFUSED, str((msg.data or {}).get("reason"))
        worker.host = str((msg.data or {}).get("host", worker.host))
        self.say(f"error: worker {worker.host or msg.node_id} refused the run: {worker.reason}")
        self.refresh()

    def on_interval(self, environment: Any, msg: Any) -> None:
        """Merge one worker interval into the master's current interval."""
        received_s = time.time()
        worker = self.worker(msg.node_id)
        data = msg.data or {}
        histograms = _wire.histograms_of(data)
        counters = _wire.counters_of(data)
        self.recorder.absorb(histograms, counters, warmup_requests=int(data.get("warmup_requests", 0)))
        for key, histogram in histograms.items():
            total = worker.totals.get(key)
            if total is None:
                total = worker.totals[key] = new_histogram(key[1], self.recorder.highest_us)
            total.add(histogram)
        self._log_worker_interval(worker, histograms, data.get("sent_ns"))
        for values in counters.values():
            worker.ok += values.ok
            worker.requests += values.ok + values.error_count
        worker.cpu_s += float(data.get("cpu_s") or 0.0)
        worker.wall_s += float(data.get("wall_s") or 0.0)
        if data.get("loop_lag_p99_us") is not None:
            self.lag_probe.record(float(data["loop_lag_p99_us"]))
        worker.users = int(data.get("users", 0))
        worker.in_flight = int(data.get("in_flight", 0))
        worker.spent = int(data.get("spent", 0))
        worker.last_seq = max(worker.last_seq, int(data.get("seq") or 0))
        worker.final = worker.final or bool(data.get("final"))
        sent_s = data.get("sent_s")
        if sent_s is not None:
            offset_s, round_trip_s = clock_offset_s(float(sent_s), float(data["worker_s"]), received_s)
            if worker.round_trip_s is None or round_trip_s <= worker.round_trip_s:
                worker.clock_offset_s, worker.round_trip_s = offset_s, round_trip_s
        for name, values in (data.get("unfinished") or {}).items():
            entry = self.unfinished.setdefault(name, {"count": 0, "max_age_ms": 0})
            entry["count"] += int(values.get("count", 0))
            entry["max_age_ms"] = max(entry["max_age_ms"], int(values.get("max_age_ms", 0)))
        self._update_control(data)
        self.refresh()

    def _log_worker_interval(self, worker: WorkerState, histograms: dict[TagKey, HdrHistogram], cut_ns: Any) -> None:
        """Append one worker interval to ``workers.hlog``, timed by the master's clock (when it asked)."""
        base_ns = self.measure_start_ns()
        end_ns = int(cut_ns) if cut_ns is not None else time.perf_counter_ns()
        start_ns, worker.cut_ns = worker.cut_ns, end_ns
        if self.worker_log is None or base_ns is None or not histograms:
            return
        start_s = max(0.0, ((start_ns or base_ns) - base_ns) / 1e9)
        tagged = {(f"w{worker.index}/{traffic}", metric): h for (traffic, metric), h in histograms.items()}
        self.worker_log.write(start_s, max(start_s, (end_ns - base_ns) / 1e9), tagged)

    def _update_control(self, data: dict[str, Any]) -> None:
        """The stop rules read the master's control: keep its last success, last connection error and
        the request budget current from what workers see."""
        now_ns = time.perf_counter_ns()
        control = self.control
        ok_age_s = data.get("ok_age_s")
        if ok_age_s is not None:
            control.last_ok_ns = max(control.last_ok_ns, now_ns - int(float(ok_age_s) * 1e9))
        error_age_s = data.get("connection_error_age_s")
        if error_age_s is not None:
            error_ns = now_ns - int(float(error_age_s) * 1e9)
            control.last_connection_error_ns = max(control.last_connection_error_ns or 0, error_ns)
        if self.max_requests is not None and sum(w.spent for w in self.workers.values()) >= self.max_requests:
            control.budget.exhausted = True

    # -- queries -------------------------------------------------------------------------------
    def worker(self, client_id: str) -> WorkerState:
        """The worker with Locust's ``client_id`` (created when first seen)."""
        worker = self.workers.get(client_id)
        if worker is None:
            worker = self.workers[client_id] = WorkerState(client_id)
        return worker

    def in_state(self, *states: str) -> list[WorkerState]:
        """Workers in any of ``states``, by index."""
        return sorted((w for w in self.workers.values() if w.state in states), key=lambda w: w.index)

    @property
    def live(self) -> list[WorkerState]:
        """Workers taking part in the run (ready or running)."""
        return self.in_state(*LIVE_STATES)

    @property
    def users(self) -> int:
        """Users the live workers last reported."""
        return sum(w.users for w in self.live)

    def lose(self, worker: WorkerState, reason: str) -> None:
        """Mark ``worker`` lost (its intervals so far stay merged) and say so."""
        if worker.state in (LOST, DONE, REFUSED):
            return
        worker.state, worker.reason = LOST, reason
        where = f"{worker.host} pid {worker.pid}" if worker.pid else worker.host or worker.client_id
        self.say(f"error: worker w{worker.index} ({where}) lost: {reason}; its data until its last interval is kept")
        self.refresh()

    def refresh(self) -> None:
        """Rewrite :attr:`entries` in place (the summary refers to this very list)."""
        self.entries[:] = [w.entry() for w in sorted(self.workers.values(), key=lambda w: (w.index < 0, w.index))]
        requests = sum(w.requests for w in self.workers.values())
        cpu_s = sum(w.cpu_s for w in self.workers.values())
        self.overview.update(
            {
                "workers_lost": len(self.in_state(LOST)),
                "workers_cpu_s": round(cpu_s, 3),
                "workers_cpu_us_per_request": round(cpu_s * 1e6 / requests, 1) if requests else None,
            }
        )


__all__ = ["CONNECTED", "DONE", "LOST", "READY", "REFUSED", "RUNNING", "Fleet", "FleetLagProbe", "WorkerState"]
