"""Run a sweep or a capacity search in one run session: one Locust runner, the load changed between steps.

Owns the live part of a sweep: a :class:`StepController` that the run session calls with every measured
interval (``RunSession.on_interval``); it feeds the current :class:`~loadtest.capacity.steps.StepMeter`,
prints a line per window and per step, snapshots the server's statistics when a step's measurement
begins and ends, and when a step is over picks the next level (the sweep's list, or the capacity
search) and applies it: the user count of the Locust runner (concurrency) or fresh open-loop tickets at
the new rate. It ends the run when no level is left. Every interval is tagged in ``intervals.jsonl`` with
its step and phase. ``sweep.json`` / ``capacity.json`` are rewritten after every step, so an interrupted
or failed sweep keeps the steps it finished. Never parses options, never renders reports.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Mapping
from typing import Any

from locust.env import Environment

from loadtest.capacity.options import CONCURRENCY, RATE, SweepOptions
from loadtest.capacity.search import CapacitySearch, CurvePoint, Outcome, instances_needed, knee
from loadtest.capacity.server_delta import stats_delta
from loadtest.capacity.steps import StepMeter, StepSettings, clear_breach
from loadtest.engine.rules import Stop, Tickets
from loadtest.engine.session import RunSession
from loadtest.plan.shapes import ArrivalSchedule, Stage, StageSchedule
from loadtest.recording._files import write_atomic
from loadtest.recording.recorder import Interval
from loadtest.slo import Slo

FORMAT = 1
SCHEDULE_S = 30 * 24 * 3600.0
"""Length of an open-loop step's arrival schedule: far beyond any step (the controller moves on first)."""
SNAPSHOT_WAIT_S = 5.0
MAX_DRAIN_S = 10.0


def file_name(kind: str) -> str:
    """``sweep.json`` or ``capacity.json``."""
    return f"{kind}.json"


class StepController:
    """See the module docstring. ``kind`` is ``sweep`` or ``capacity``."""

    def __init__(self, session: RunSession, options: SweepOptions, kind: str, slos: list[Slo]) -> None:
        self.session = session
        self.options = options
        self.kind = kind
        self.slos = slos
        self.search = (
            CapacitySearch(
                low=float(options.low or 1),
                high=options.high,
                precision_pct=options.precision_pct,
                integer=options.variable == CONCURRENCY,
            )
            if kind == "capacity"
            else None
        )
        self._pending_levels = list(options.levels)
        self.steps: list[dict[str, Any]] = []
        self.meter: StepMeter | None = None
        self.runner: Any = None
        self.base_ns: int | None = None
        self.notes: list[str] = []
        self._snapshots: dict[int, list[concurrent.futures.Future[dict[str, Any]] | None]] = {}
        self._confirming = False
        self.done = False
        self._model_config: concurrent.futures.Future[dict[str, Any]] | None = None
        """The first traffic entry's model config as the server gives it (JSON), for its instance count."""

    # -- levels --------------------------------------------------------------------------------------
    def first_level(self) -> float:
        """The level of step 0 (the scenario is built at it)."""
        level = self.search.next_level() if self.search is not None else self._pending_levels[0]
        if level is None:
            raise ValueError("no level to measure")
        return level

    def _next_level(self) -> float | None:
        if self.search is not None:
            level = self.search.next_level()
            self._confirming = self.search.confirming
            return level
        return self._pending_levels.pop(0) if self._pending_levels else None

    def _settings(self) -> StepSettings:
        config = self.session.config_or_fail()
        highest_us = self.session.recorder.highest_us if self.session.recorder else 3_600_000_000
        return StepSettings(
            rule=self.options.rule,
            warmup_s=self.options.warmup_s,
            slos=self.slos,
            open_loop=config.open_loop,
            early_stop=self.options.early_stop,
            min_achieved_pct=self.options.min_achieved_pct,
            highest_us=highest_us,
            max_in_flight=config.total_users if config.open_loop else None,
            scout=self.search is not None and self.search.scouting,
        )

    def start(self, runner: Any, start_ns: int) -> None:
        """Step 0 begins at ``start_ns`` (the runner was started at its level)."""
        self.runner = runner
        self.base_ns = start_ns
        poller = self.session.poller
        if poller.servers:
            raw, model = poller.servers[0]
            self._model_config = poller.submit(lambda: raw.model_config(model, raw.options.version))
        level = self._next_level()
        assert level is not None
        self._begin_step(level, start_ns, apply=False)

    def _begin_step(self, level: float, now_ns: int, *, apply: bool) -> None:
        index = len(self.steps)
        if apply:
            self._apply(level, index, now_ns)
        self.meter = StepMeter(index, level, self._settings(), now_ns)
        self._snapshots[index] = [None, None]
        if self.options.warmup_s * 2 < self.session.config_or_fail().interval_s:  # no warm-up interval
            self._snapshot(index, 0, now_ns)
        what = " (confirming)" if self._confirming else ""
        self.session.progress.line(f"step {index}: {self._level_text(level)}{what}")

    def _apply(self, level: float, index: int, now_ns: int) -> None:
        config = self.session.config_or_fail()
        if self.options.variable == CONCURRENCY:
            users = int(level)
            self.runner.start(users, spawn_rate=float(max(users, 1)))  # all there within a second, as `run` does
            return
        control = self.session.control
        assert control is not None
        # The backlog an overloaded step left drains before the new schedule starts (no new sends meanwhile):
        # its requests in flight at the rate the server just achieved, at most MAX_DRAIN_S.
        achieved = self.steps[-1]["throughput_rps"] if self.steps else 0.0
        if control.in_flight and achieved > 0:
            now_ns += round(min(control.in_flight / achieved, MAX_DRAIN_S) * 1e9)
        arrival = self.session.scenario.load.arrival or "constant"
        schedule = StageSchedule([Stage(duration_s=SCHEDULE_S, rate_per_s=level)])
        for stream, entry in enumerate(config.traffic):
            share = float(entry.info.get("rate_share") or 1.0)
            arrivals = ArrivalSchedule(schedule, arrival=arrival, seed=config.seed + index, share=share, stream=stream)
            control.tickets[entry.name] = Tickets(arrivals.intended_start_s, now_ns)

    def _level_text(self, level: float) -> str:
        return f"{level:g} {self.options.unit}"

    # -- the interval hook -----------------------------------------------------------------------------
    def on_interval(self, interval: Interval, extra: dict[str, Any]) -> Mapping[str, Any]:
        """Called by the session with every measured interval; returns its tags for ``intervals.jsonl``."""
        meter = self.meter
        if meter is None or self.done:
            return {}
        windows_before = len(meter.windows)
        phase = meter.add(interval, extra)
        tags = {"step": meter.tag, "phase": phase, "level": meter.level}
        if phase == "warmup":  # the last one before measuring begins is the step's start
            self._snapshot(meter.index, 0, interval.end_ns, replace=True)
        if len(meter.windows) > windows_before:
            window = meter.windows[-1]
            p99 = "-" if window.p99_us is None else f"{window.p99_us / 1000:.2f} ms"
            self.session.progress.line(
                f"  step {meter.index} {self._level_text(meter.level)}  window {len(meter.windows)}: "
                f"{window.throughput_rps:8.1f} req/s  p99 {p99}"
            )
        if meter.done:
            self._end_step(interval.end_ns)
        return tags

    def _end_step(self, now_ns: int) -> None:
        meter = self.meter
        assert meter is not None
        self._snapshot(meter.index, 1, now_ns)
        step = self._step_record(meter, "confirming step" if self._confirming else None)
        self.steps.append(step)
        self._say_step(step)
        level = self._after(step)
        self.write()
        if level is None:
            self.done = True
            self.meter = None
            self.session.request_stop()
            return
        self._begin_step(level, now_ns, apply=True)

    def _after(self, step: dict[str, Any]) -> float | None:
        """Decide what comes after ``step``: the next level, or None to end."""
        if self.search is not None:
            generator = bool(step["generator"]["saturated"])
            saturated_rps = step["throughput_rps"] if step.get("server_saturated") else None
            self.search.record(
                Outcome(step["level"], step["passed"] is True, generator, bool(step["inconclusive"]), saturated_rps)
            )
            return self._next_level()
        if self.options.early_stop and step["passed"] is False and clear_breach(step["slo"]) is not None:
            remaining = [level for level in self._pending_levels if level > step["level"]]
            if remaining:
                self.notes.append(
                    f"sweep stopped early at {self._level_text(step['level'])}: an SLO was clearly breached; "
                    f"not measured: {', '.join(f'{x:g}' for x in remaining)}"
                )
                self._pending_levels = [level for level in self._pending_levels if level <= step["level"]]
        return self._next_level()

    def _step_record(self, meter: StepMeter, note: str | None) -> dict[str, Any]:
        step = meter.result(note)
        base = self.base_ns or meter.start_ns
        step["start_s"] = round((meter.start_ns - base) / 1e9, 3)
        end_ns = meter.end_ns or meter.start_ns
        step["duration_s"] = round((end_ns - meter.start_ns) / 1e9, 3)
        step["measured_s"] = round(sum(w.duration_s for w in meter.windows[-self.options.rule.windows :]), 3)
        step["server"] = None
        return step

    def _say_step(self, step: dict[str, Any]) -> None:
        latency = step["latency_us"]
        p50, p99 = latency.get("p50"), latency.get("p99")
        lat = "-" if p99 is None else f"p50 {p50 / 1000:.2f} ms  p99 {p99 / 1000:.2f} ms"
        verdict = {True: "pass", False: "FAIL", None: "-"}[step["passed"]]
        stable = "scout" if step.get("scouted") else "stable" if step["stable"] else "unstable"
        note = f"  ({step['note']})" if step["note"] else ""
        self.session.progress.line(
            f"step {step['index']} {self._level_text(step['level'])}: {step['throughput_rps']:.1f} req/s  "
            f"{lat}  {stable}  {verdict}{note}"
        )

    def _snapshot(self, index: int, which: int, now_ns: int, *, replace: bool = False) -> None:
        poller = self.session.poller
        if not poller.active or (self._snapshots[index][which] is not None and not replace):
            return
        t_s = (now_ns - (self.base_ns or now_ns)) / 1e9
        self._snapshots[index][which] = poller.submit(lambda: poller.snapshot(t_s))

    # -- results ---------------------------------------------------------------------------------------
    def attach_server_stats(self) -> None:
        """Put each finished step's server section in place (waits a little for the last snapshots)."""
        deadline = time.monotonic() + SNAPSHOT_WAIT_S
        for step in self.steps:
            start, end = self._snapshots.get(step["index"], [None, None])
            step["server"] = stats_delta(_result(start, deadline), _result(end, deadline))

    def partial_step(self) -> dict[str, Any] | None:
        """The step going on when the run ended, if it measured at least one window."""
        meter = self.meter
        if meter is None or not meter.windows:
            return None
        step = self._step_record(meter, "interrupted: the step did not finish")
        step["passed"] = None
        return step

    def data(self, status: str, exit_code: int | None = None) -> dict[str, Any]:
        """The content of ``sweep.json`` / ``capacity.json`` as it stands."""
        steps = list(self.steps)
        points = [
            CurvePoint(s["level"], s["throughput_rps"], float(s["latency_us"]["p99"]))
            for s in steps
            if s["latency_us"].get("p99") is not None and not s["generator"]["saturated"]
        ]
        found = knee(points)
        knee_data = (
            None
            if found is None
            else {
                "level": found.level,
                "throughput_rps": found.throughput_rps,
                "p99_us": found.p99_us,
                "definition": "the step furthest below the chord from the first to the last step on the "
                "p99-latency vs achieved-throughput curve, both axes scaled to [0, 1]",
            }
        )
        answer: dict[str, Any] = {"knee": knee_data}
        if self.search is not None:
            answer.update(self.search.answer())
            answer.update(self._instances(wait=status != "running"))
            if any(s["generator"]["saturated"] for s in steps):
                answer["generator_saturated_levels"] = [s["level"] for s in steps if s["generator"]["saturated"]]
        else:
            passing = [s["level"] for s in steps if s["passed"] is True]
            answer["highest_passing_level"] = max(passing) if passing else None
        config = self.session.config
        return {
            "format": FORMAT,
            "kind": self.kind,
            "status": status,
            "exit_code": exit_code,
            "run_id": self.session.run_dir.name,
            "scenario": config.name if config else (self.session.scenario.name or "run"),
            "variable": self.options.variable,
            "unit": self.options.unit,
            "open_loop": self.options.variable == RATE,
            "stability": self.options.rule.to_dict(),
            "warmup_s": self.options.warmup_s,
            "min_achieved_pct": self.options.min_achieved_pct,
            "slos": [slo.text for slo in self.slos],
            "steps": steps,
            "notes": list(self.notes),
            "answer": answer,
        }

    def _instances(self, wait: bool) -> dict[str, Any]:
        options = self.options
        future = self._model_config
        # In the hub (during the run) only a config already read; after the run, wait for it a little.
        ready = future is not None and (wait or future.done())
        model_config = _result(future, time.monotonic() + SNAPSHOT_WAIT_S) if ready else None
        now = instance_count(model_config)
        out: dict[str, Any] = {
            "instances_now": now,
            "target_rate": options.target_rate,
            "headroom_pct": options.headroom_pct,
        }
        level = self.search.last_pass if self.search else None
        if options.target_rate is not None and options.variable == RATE and level and now:
            out["instances_needed"] = instances_needed(level, now, options.target_rate, options.headroom_pct)
            out["capacity_per_instance_rps"] = round(level / now, 3)
        else:
            out["instances_needed"] = None
        return out

    def write(self, status: str = "running", exit_code: int | None = None, *, partial: bool = False) -> dict[str, Any]:
        """(Re)write the file in the run directory; returns what it wrote."""
        data = self.data(status, exit_code)
        if partial and (step := self.partial_step()) is not None:
            data["steps"].append(step)
        write_atomic(self.session.run_dir / file_name(self.kind), _json(data))
        return json.loads(_json(data))


def instance_count(model_config: Any) -> int | None:
    """Instances of a model from its config (``instance_group`` counts added up); None when unknown."""
    if not isinstance(model_config, Mapping):
        return None
    groups = model_config.get("instance_group") or []
    counts = [int(g.get("count", 1)) for g in groups if isinstance(g, Mapping)]
    return sum(counts) if counts else None


def _result(future: concurrent.futures.Future[dict[str, Any]] | None, deadline: float) -> dict[str, Any] | None:
    if future is None:
        return None
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except Exception:
        return None


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=1, default=str) + "\n"


def drive_with(controller: StepController) -> Any:
    """The ``run_local`` drive of a sweep: a runner at step 0's level, the controller on every interval."""

    def drive(session: RunSession, web: bool, web_port: int) -> Stop:
        config = session.config_or_fail()
        environment = Environment(user_classes=[], events=None, stop_timeout=config.in_flight_wait_s)
        # Concurrency steps change the user count: users are spread by weight, not fixed per entry.
        environment.user_classes = session.user_classes(environment, fixed_counts=config.open_loop)
        runner = environment.create_local_runner()
        session.on_interval = controller.on_interval
        start_ns = session.begin(time.perf_counter_ns())
        controller.start(runner, start_ns)
        runner.start(config.total_users, spawn_rate=float(max(config.total_users, 1)))
        try:
            return session.interval_loop(runner)
        finally:
            session.stop_gracefully(runner)

    return drive


__all__ = ["FORMAT", "StepController", "drive_with", "file_name", "instance_count"]
