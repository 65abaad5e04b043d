"""One run's lifecycle: prepare, start, tick every interval, stop gracefully, finish — one public object.

Owns the phases of a run in this process and the order they happen in: the embedded server (when a
target asks for it) and the resolution of every endpoint, the preflight, the recorder and the run
directory, the interval loop (progress line, interval files, server statistics, the stop rules of
``rules``), the graceful stop that lets requests in flight finish, and the final summary. The same
:class:`RunSession` serves ``tritonload run`` (:meth:`RunSession.run`), a plain ``locust -f``
(``loadtest.locust_plugin``, phase by phase) and the Python API (``loadtest.api``).
Never parses YAML and never renders reports.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent

from loadtest import __version__
from loadtest.engine import _bridge
from loadtest.engine import summary as summary_of_run
from loadtest.engine._locust import Interrupt, NoInterrupt
from loadtest.engine.config import build_run_config, embedded_options, target_urls
from loadtest.engine.control import RunControl
from loadtest.engine.embedded_target import start_embedded
from loadtest.engine.generator import LagProbe, interval_verdict, sends_of
from loadtest.engine.model import RunConfig
from loadtest.engine.patterns import uses_thread_pool
from loadtest.engine.preflight import probe, provenance
from loadtest.engine.progress import Progress
from loadtest.engine.readiness import Watch
from loadtest.engine.rules import (
    IntervalClock,
    RunState,
    Stop,
    Tickets,
    stop_reason,
)
from loadtest.engine.server_poll import ServerPoller
from loadtest.engine.server_reads import ServerReads
from loadtest.engine.users import make_user_class
from loadtest.engine.watch import RunWatch
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import PayloadPool
from loadtest.recording import hlog
from loadtest.recording.recorder import GAP, LATENCY, RESPONSE_TIME, RESPONSES, TTFR, Interval, Recorder
from loadtest.recording.rundir import HLOG_FILE, RunWriteError, RunWriter
from loadtest.scenario import Scenario

LOGGER = logging.getLogger("loadtest.run")


COUNTS_WAIT_S = 5.0
"""How long a run without warm-up waits for the server's success counts before its first request."""
STAGE_PAUSE_S = 0.001
"""The interval's work (progress, verdicts, the interval files, summary.json) runs in the hub, several ms at
a time; between its stages it pauses this long, so the sends due meanwhile go out on time (an open loop's
sends due at an interval's boundary were late by the whole work: 10 % of sends at 10 req/s)."""


def _let_sends_go() -> None:
    """Let the greenlets whose time has come (open-loop sends, finished requests) run before going on."""
    gevent.sleep(STAGE_PAUSE_S)


@dataclass
class SessionOutcome:
    """How a session ended: exit code, final summary, and the error that stopped it before traffic (if any)."""

    exit_code: int
    summary: dict[str, Any]
    failure: Exception | None = None


def _metrics_for(config: RunConfig, streams: bool) -> list[str]:
    metrics = [LATENCY]
    if config.open_loop:
        metrics.append(RESPONSE_TIME)
    if streams:
        metrics += [TTFR, GAP, RESPONSES]
    return metrics


class RunSession:
    """One run of a scenario, phase by phase; see the module docstring.

    Usage (what ``loadtest.engine.local.run_local`` does with a Locust local runner)::

        session = RunSession(scenario, pools, run_dir)
        session.prepare()                      # server, endpoints, preflight
        classes = session.user_classes(env)    # one Locust user class per traffic entry
        session.begin(start_ns)                # run directory, tickets
        stop = session.interval_loop(runner)   # until a stop rule fires
        session.stop_gracefully(runner)
        outcome = session.finish(stop)
    """

    def __init__(
        self,
        scenario: Scenario,
        pools: Mapping[str, PayloadPool],
        run_dir: Path,
        *,
        progress: bool = True,
        console: Progress | None = None,
        ends_at_duration: bool = True,
        handles_signals: bool = True,
    ) -> None:
        self.scenario = scenario
        self.pools = pools
        self.run_dir = run_dir
        self.progress = console or Progress(sys.stderr, progress, sys.stdout)
        self.ends_at_duration = ends_at_duration
        """False when something else (Locust's ``-t``) decides the end."""
        self.interrupt: Interrupt = Interrupt() if handles_signals else NoInterrupt()
        self.config: RunConfig | None = None
        self.server: Any = None
        self.poller = ServerPoller(())
        self.meta: dict[str, Any] = {}
        self.started_at_s = time.time()
        self.writer: RunWriter | None = None
        self.recorder: Recorder | None = None
        self.control: RunControl | None = None
        self.status = "running"
        self.error: str | None = None
        self.write_error: str | None = None
        """Why the run directory could not be written (the run then stops, failed)."""
        self.stop_requested = False
        self.start_ns: int | None = None
        self.clock: IntervalClock | None = None
        self.measure_start_ns: int | None = None
        self.stopped_ns: int | None = None
        self.server_reads = ServerReads(self.poller)
        """The server's success counts and per-interval statistics, read off the hub."""
        self.watch = RunWatch(self.progress, interval_s=scenario.recording.interval_s)
        self.lag_probe = LagProbe()
        self.cpu_start_s: float | None = None
        self.cpu_last_s = 0.0
        self.web_host = "127.0.0.1"
        self.before_roll: Callable[[bool], None] | None = None
        """Called at each interval tick before the recorder rolls (``True`` when measuring starts now):
        a distributed run's master gathers its workers' intervals here."""
        self.on_interval: Callable[[Interval, dict[str, Any]], Mapping[str, Any] | None] | None = None
        """Called in the hub with every measured interval and its ``intervals.jsonl`` extras, before they are
        written; what it returns is added to the extras (a sweep tags each interval with its step here)."""
        self.judge_slos = True
        """False when someone else judges the SLOs (a sweep judges them per step, not over the whole run)."""

    # -- phases -----------------------------------------------------------------------------------
    def prepare(self) -> RunConfig:
        """Start the embedded server if a target needs it, resolve every endpoint, build the run config,
        probe every traffic entry and read the provenance.

        Raises:
            PreflightError: the server did not start, a model is unreachable or rejects the payload.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        urls = self._start_server()
        config = build_run_config(self.scenario, self.pools, urls)
        self.config = config
        self.poller.metrics_urls.extend(config.metrics_urls)
        watch = Watch(say=self.progress.line, interrupted=lambda: self.interrupt.signal is not None, sleep=gevent.sleep)
        for entry in config.traffic:
            entry.model_config = probe(entry, watch)
        self.meta = self._wait(self.poller.submit(lambda: provenance(config, self.poller)))
        return config

    def _start_server(self) -> dict[str, str]:
        options = embedded_options(self.scenario)
        if options is None:
            return target_urls(self.scenario)
        server = start_embedded(options, self.run_dir, self.progress.line)
        self.server = server
        self.poller.metrics_urls.append(server.metrics_url)
        return target_urls(self.scenario, http_url=server.http_url, grpc_url=server.grpc_url)

    def user_classes(self, environment: Any, *, fixed_counts: bool) -> list[type]:
        """The recorder, the shared run control and one Locust user class per traffic entry."""
        config = self._config()
        highest_us = int(max(t.client.inference_timeout_s for t in config.traffic) * 1e6 * 2) + 1_000_000
        recorder = Recorder(highest_us=highest_us)
        for entry in config.traffic:
            recorder.declare(entry.name, _metrics_for(config, entry.pattern.streams))
        self.recorder = recorder
        self.control = RunControl(recorder, environment, max_requests=config.max_requests)
        return [
            make_user_class(t, self.control, fixed_count=t.users if fixed_counts else 0, weight=t.weight)
            for t in config.traffic
        ]

    def begin(self, start_ns: int) -> int:
        """Start the asyncio loop thread if a pattern needs it, size the thread pool, create the run
        directory's files and (open loop) hand every entry its tickets, timed from ``start_ns``.

        Without a warm-up, the server's success counts are read first (up to :data:`COUNTS_WAIT_S`) and the
        run starts after that read; returns the start actually used (``perf_counter_ns``)."""
        config, control = self._config(), self._control()
        if any(t.pattern.runtime == "asyncio" for t in config.traffic) and control.loop_thread is None:
            control.loop_thread = _bridge.AsyncioLoopThread().start()
        blocking_users = sum(t.users for t in config.traffic if uses_thread_pool(t.pattern.name, t.client.protocol))
        _bridge.ensure_thread_pool(blocking_users + 4)
        try:
            self.writer = RunWriter(
                self.run_dir,
                scenario_yaml=config.scenario_yaml,
                start_epoch_s=time.time(),
                comment=f"tritonload {__version__} run {self.run_dir.name}; values in microseconds",
            )
        except RunWriteError as exc:
            self._write_failed(exc)
            raise
        self._write_summary(complete=False)
        if config.warmup_s <= 0:
            # Measuring from the first request: the server's count is read before any is sent (not while the
            # first ones are answered), so its delta over the run matches the client's count exactly.
            self.server_reads.count_start(wait_s=COUNTS_WAIT_S)
            start_ns = max(start_ns, time.perf_counter_ns())
        self.start_ns = start_ns
        self.lag_probe.start()
        self.clock = IntervalClock(
            start_ns,
            warmup_s=config.warmup_s,
            duration_s=config.duration_s,
            interval_s=config.interval_s,
            ends=self.ends_at_duration,
        )
        if config.open_loop:
            for entry in config.traffic:
                control.tickets[entry.name] = Tickets(entry.arrivals, start_ns)
        if self.clock.measuring:
            self._start_measuring(start_ns)
        return start_ns

    def request_stop(self) -> None:
        """Ask the interval loop to end the run at its next wake-up (Locust's ``test_stop``, the Python API)."""
        self.stop_requested = True

    def interval_loop(self, runner: Any) -> Stop:
        """Tick every interval (warm-up end, interval files, progress) until a stop rule fires; returns it."""
        clock, recorder = self._clock(), self._recorder()
        while True:
            gevent.sleep(max(0.0, (clock.wake_at_ns() - time.perf_counter_ns()) / 1e9))
            now = time.perf_counter_ns()
            tick = clock.tick(now)
            if self.before_roll is not None and (tick.start_measuring or tick.roll):
                self.before_roll(tick.start_measuring)
            if tick.start_measuring:
                self.server_reads.count_start()
                self._interval(now, warmup=True)
                self._start_measuring(now)
            elif tick.roll:
                self._interval(now, warmup=not recorder.measuring)
            self.watch.stalled(now, self._control())
            stop = stop_reason(self._state(now, runner))
            if stop is not None:
                self.stopped_ns = now
                if stop.status == "interrupted":
                    self.progress.line(
                        "interrupted: stopping, waiting for requests in flight (Ctrl-C again to abandon them)"
                    )
                elif stop.status == "failed":
                    self.progress.error(stop.reason)
                return stop

    def _state(self, now_ns: int, runner: Any) -> RunState:
        config, control, clock = self._config(), self._control(), self._clock()
        return RunState(
            now_ns=now_ns,
            end_ns=clock.end_ns,
            closed_loop=not config.open_loop and not config.staged,
            measuring=self._recorder().measuring,
            measured_s=clock.measured_s(self.measure_start_ns, now_ns),
            users=getattr(runner, "user_count", 0),
            in_flight=control.in_flight,
            last_ok_ns=control.last_ok_ns,
            last_connection_error_ns=control.last_connection_error_ns,
            stop_requested=self.stop_requested,
            signal=self.interrupt.signal,
            server_exited=self.server is not None and not self.server.running,
            budget_exhausted=control.budget.exhausted,
            write_error=self.write_error,
        )

    def stop_gracefully(self, runner: Any) -> None:
        """Let requests in flight finish (up to the longest inference timeout), then stop every user."""
        control = self._control()
        control.stopping = True
        deadline = time.monotonic() + self._config().grace_s
        while control.in_flight > 0 and time.monotonic() < deadline and not self.interrupt.abandon:
            gevent.sleep(0.01)
        self.watch.unfinished_after_grace(time.perf_counter_ns(), control, self._recorder(), self._config().grace_s)
        runner.environment.stop_timeout = 0.0  # what was in flight is recorded or abandoned: stop at once
        runner.quit()

    def finish(self, stop: Stop) -> SessionOutcome:
        """Write the last interval, the server counts and the final summary (SLOs judged on a completed
        run only); print the table. Leaves a run directory that says why even when nothing ran."""
        started = self.writer is not None
        if self.writer is None:
            self.recorder = self.recorder or Recorder(highest_us=1_000_000)
            yaml_text = self.config.scenario_yaml if self.config else self.scenario.to_yaml()
            try:
                self.writer = RunWriter(self.run_dir, scenario_yaml=yaml_text, start_epoch_s=time.time())
            except RunWriteError as exc:
                self._write_failed(exc)
        recorder = self._recorder()
        if recorder.measuring and self.writer is not None:
            interval = recorder.roll(time.perf_counter_ns())
            extra = {
                "users": 0,
                "in_flight": 0,
                "cpu_s": self._cpu_since_last_s(),
                "loop_lag_p99_us": self.lag_probe.roll(),
            }
            try:
                self.writer.write_interval(interval, extra)
            except RunWriteError as exc:
                self._write_failed(exc)
        if self.write_error is not None and stop.reason != self.write_error:
            if stop.status != "failed":
                self.progress.error(self.write_error)
            stop = Stop("failed", ExitCode.RUNTIME_ERROR, self.write_error)
        self.status = stop.status
        self.error = None if stop.status == "completed" else stop.reason
        wait_s = 0.2 if self.watch.stalls.current is not None else 2.0  # a hung server will not answer this either
        counts = self.server_reads.server_counts(wait_s)
        if counts is not None:
            self.meta["server_counts"] = counts
        if self.writer is not None:
            try:
                self.server_reads.write_last_snapshot(self.writer, wait_s)
            except RunWriteError as exc:
                self._write_failed(exc)
            self.writer.close()  # gives up the writer's reserve: room for the final summary on a full disk
        summary = self._write_summary(complete=stop.status == "completed", final=True, now_ns=self.stopped_ns)
        if started:
            self.progress.table(summary)
        exit_code = stop.exit_code
        if self.write_error is not None and stop.status != "failed":  # only the final summary could not be written
            self.progress.error(self.write_error)
            exit_code = ExitCode.RUNTIME_ERROR
        if exit_code == ExitCode.OK and any(s.get("passed") is False for s in summary.get("slos", [])):
            exit_code = ExitCode.SLO_BREACHED
        return SessionOutcome(int(exit_code), summary)

    def close(self) -> None:
        """Close every client, the asyncio loop thread, the stats clients and the embedded server."""
        control = self.control
        if control is not None:
            for error in control.close():
                LOGGER.debug("closing a client failed: %s", error)
        self.lag_probe.stop()
        self.poller.close()
        if self.server is not None:
            # Killed: the run's numbers and the server's counts are in, and Triton's own shutdown (unloading
            # every model, looking once a second) would keep the command waiting 3-6 s more.
            self.server.stop(grace_s=0)
            self.server = None

    # -- intervals and results ----------------------------------------------------------------------
    def _start_measuring(self, now_ns: int) -> None:
        self._recorder().start_measuring(now_ns)
        self.measure_start_ns = now_ns
        self.cpu_start_s = self.cpu_last_s = time.process_time()

    def _cpu_since_last_s(self) -> float:
        now = time.process_time()
        used, self.cpu_last_s = now - self.cpu_last_s, now
        return round(used, 6)

    def _interval(self, now_ns: int, *, warmup: bool) -> None:
        recorder, control, writer = self._recorder(), self._control(), self.writer
        assert writer is not None and self.start_ns is not None
        interval = recorder.roll(now_ns)
        _let_sends_go()  # a send due at the interval's boundary goes before the interval's work, not after it
        runner = getattr(control.environment, "runner", None)
        users = getattr(runner, "user_count", 0)
        config = self._config()
        total_s = config.warmup_s + config.duration_s if self.ends_at_duration else None
        self.progress.interval((now_ns - self.start_ns) / 1e9, total_s, interval, control.in_flight, users, warmup)
        lag_p99_us = self.lag_probe.roll()
        if warmup:
            return
        cpu_s = self._cpu_since_last_s()
        verdict = interval_verdict(interval, cpu_s, lag_p99_us, config.open_loop, control.in_flight, users)
        if config.open_loop:
            self.watch.late_sends.add(*sends_of(interval.counters.values()), control.in_flight, users)
        self.watch.saturation(verdict)
        extra = {
            "users": users,
            "in_flight": control.in_flight,
            "cpu_s": cpu_s,
            "loop_lag_p99_us": lag_p99_us,
            "generator_saturated": verdict.saturated,
        }
        if self.on_interval is not None:
            extra.update(self.on_interval(interval, extra) or {})
            _let_sends_go()
        try:
            writer.write_interval(interval, extra)
            self.server_reads.snapshot(writer, (now_ns - (self.measure_start_ns or now_ns)) / 1e9)
        except RunWriteError as exc:
            self._write_failed(exc)
        _let_sends_go()
        self._write_summary(complete=False, now_ns=now_ns)

    def _write_failed(self, exc: RunWriteError) -> None:
        """Note the first failed write: the stop rules end the run, and the final summary says why."""
        LOGGER.error("%s", exc)
        if self.write_error is None:
            self.write_error = str(exc)

    def _write_summary(self, *, complete: bool, now_ns: int | None = None, final: bool = False) -> dict[str, Any]:
        if self.recorder is None:
            return {}
        config = self.config
        end_ns = now_ns or time.perf_counter_ns()
        measured_from_ns = self.measure_start_ns or end_ns
        summary = summary_of_run.assemble(
            self.recorder,
            run_id=self.run_dir.name,
            status=self.status,
            complete=complete,
            started_at_s=self.started_at_s,
            ended_at_s=time.time(),
            duration_s=self.clock.measured_s(self.measure_start_ns, end_ns) if self.clock else 0.0,
            percentiles=config.percentiles if config else tuple(self.scenario.recording.percentiles),
            meta=self.meta,
            traffic_info={t.name: t.info for t in config.traffic} if config else {},
            error=self.error,
            cpu_s=None if self.cpu_start_s is None else time.process_time() - self.cpu_start_s,
            wall_s=(end_ns - measured_from_ns) / 1e9,
            open_loop=config is not None and config.open_loop,
            lag_probe=self.lag_probe,
            watch=self.watch,
            stalls_from_ns=self.measure_start_ns or self.start_ns or end_ns,
            end_ns=end_ns,
        )
        if final and config is not None and config.slos and self.judge_slos:

            def histograms() -> Any:  # only for a percentile the summary does not list
                return hlog.read_totals(self.run_dir / HLOG_FILE, int(summary["highest_trackable_us"]))

            summary["slos"] = summary_of_run.judge_slos(config.slos, summary, self.status, histograms)
        if self.writer is not None:
            try:
                self.writer.write_summary(summary)
            except RunWriteError as exc:
                self._write_failed(exc)
        return summary

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _wait(future: Any) -> Any:
        """Wait for a stats-thread result cooperatively (other greenlets run meanwhile)."""
        return _bridge.wait_future(future)

    def config_or_fail(self) -> RunConfig:
        """The run config (after :meth:`prepare`)."""
        return self._config()

    def _config(self) -> RunConfig:
        if self.config is None:
            raise RuntimeError("call prepare() first")
        return self.config

    def _control(self) -> RunControl:
        if self.control is None:
            raise RuntimeError("call user_classes() first")
        return self.control

    def _recorder(self) -> Recorder:
        if self.recorder is None:
            raise RuntimeError("call user_classes() first")
        return self.recorder

    def _clock(self) -> IntervalClock:
        if self.clock is None:
            raise RuntimeError("call begin() first")
        return self.clock


__all__ = ["RunSession", "SessionOutcome"]
