"""``tritonload worker``: one generator process of a distributed run, on Locust's ``WorkerRunner``.

Owns the worker's side of the exchange in ``_wire``: it connects to the master, receives the resolved
scenario (and so the payload seeds) with the resolved URLs, refuses another tritonload version or a
scenario that hashes differently, builds the same user classes the master dispatches, records every
request into its own HDR recorder, and sends each interval (encoded histograms, counters, generator
health) when the master asks. Locust spawns and stops its users; its heartbeats tell the master it
lives. Serves one run, then exits. Never writes a run directory and never judges results.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust.env import Environment

from loadtest import __version__
from loadtest.engine import _bridge, _wire
from loadtest.engine._split import Slots, slice_schedule
from loadtest.engine.config import build_run_config
from loadtest.engine.control import RunControl
from loadtest.engine.generator import LagProbe
from loadtest.engine.model import RunConfig
from loadtest.engine.patterns import uses_thread_pool
from loadtest.engine.progress import Progress
from loadtest.engine.rules import Tickets
from loadtest.engine.session import RunSession
from loadtest.engine.watch import RunWatch
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import build_pools
from loadtest.recording.recorder import Recorder
from loadtest.scenario import parse_scenario

LOGGER = logging.getLogger("loadtest.worker")


class PendingTickets(Tickets):
    """Open-loop tickets whose share of the schedule arrives later (with ``BEGIN``); users wait until then."""

    def __init__(self) -> None:
        super().__init__(lambda n: None, 0)
        self._ready = Event()
        self.waited = 0
        """Users that were admitted (before measuring, so free of the request budget) and then waited here."""

    def activate(self, offset_s: Callable[[int], float | None], start_ns: int) -> None:
        """Hand out ``offset_s``'s starts from ``start_ns`` on (an empty schedule stops the waiting users)."""
        Tickets.__init__(self, offset_s, start_ns)
        self._ready.set()

    @property
    def ready(self) -> bool:
        """Whether the schedule came (a request thread checks this and naps instead of waiting in :meth:`take`,
        whose gevent event only the hub may wait on)."""
        return self._ready.is_set()

    def release(self) -> None:
        """Stop waiting users when the run ends before its schedule came."""
        if not self._ready.is_set():
            self.activate(lambda n: None, 0)

    def take(self) -> int | None:
        """The next intended start, once the schedule is known."""
        if not self._ready.is_set():
            self.waited += 1
            self._ready.wait()
        return super().take()


class WorkerAgent:
    """One worker process; :meth:`run` serves one run and returns the process's exit code.

    Args:
        master_host, master_port: where the master listens.
        say: prints a line for the operator (stderr).
    """

    def __init__(self, master_host: str, master_port: int, *, say: Callable[[str], None]) -> None:
        self.master_host = master_host
        self.master_port = master_port
        self.say = say
        self.environment = Environment(user_classes=[], events=None)
        self.runner: Any = None
        self.config: RunConfig | None = None
        self.recorder: Recorder | None = None
        self.control: RunControl | None = None
        self.lag_probe = LagProbe()
        self.index = -1
        self.setup_started = False
        self.exit_code = int(ExitCode.OK)
        self.cpu_last_s = 0.0
        self.warmup_sent = 0
        self.stopped = False
        self.leaving = False
        self.lag_probe_started = False
        self.unfinished: dict[str, dict[str, int]] = {}

    def run(self) -> int:
        """Connect, serve the run until the master says quit (or goes away), clean up; the exit code."""
        try:
            self.runner = self.environment.create_worker_runner(self.master_host, self.master_port)
        except ConnectionError:
            self.say(f"error: no master answered at {self.master_host}:{self.master_port}")
            return int(ExitCode.RUNTIME_ERROR)
        runner = self.runner
        runner.register_message(_wire.SETUP, self._on_setup, concurrent=True)
        runner.register_message(_wire.BEGIN, self._on_begin)
        runner.register_message(_wire.ROLL, self._on_roll)
        runner.register_message(_wire.STOP, self._on_stop, concurrent=True)
        self.say(f"connected to the master at {self.master_host}:{self.master_port}")
        watchers = [gevent.signal_handler(sig, self._quit) for sig in (2, 15)]  # SIGINT, SIGTERM
        try:
            runner.greenlet.join()
        finally:
            for watcher in watchers:
                watcher.cancel()
            self._close()
        if self.config is not None and not self.stopped and self.exit_code == ExitCode.OK:
            began = self.lag_probe_started
            self.say(f"error: the master {'went away before the run ended' if began else 'ended before the run began'}")
            self.exit_code = int(ExitCode.RUNTIME_ERROR)
        elif self.config is None and self.exit_code == ExitCode.OK:
            self.say("the master ended without giving this worker a run (it had enough workers, or it stopped)")
        return self.exit_code

    def _quit(self) -> None:
        """SIGINT/SIGTERM: leave the run, sending what was measured first (a scaled-down pod keeps its data)."""
        if self.leaving:
            return
        self.leaving = True
        self.say("stopping: this worker leaves the run; its last interval goes to the master")
        gevent.spawn(self._leave)

    def _leave(self) -> None:
        if self.config is not None and self.lag_probe_started and not self.stopped:
            self._finish({"abandon": False, "sent_s": time.time(), "sent_ns": None})
        self.environment.events.quitting.fire(environment=self.environment, reverse=True)  # Locust tells the master
        self.runner.quit()

    # -- messages -----------------------------------------------------------------------------
    def _on_setup(self, environment: Environment, msg: Any) -> None:
        # The master offers the scenario again until it hears back (the first offer can arrive before this
        # handler is registered): a repeat is answered with READY once prepared, never prepared twice.
        if self.setup_started:
            if self.index >= 0:
                self._send_ready()
            return
        self.setup_started = True
        data = msg.data
        try:
            scenario = parse_scenario(data["scenario_yaml"])
            problem = _wire.setup_problem(data, __version__, scenario.scenario_hash)
            if problem is None:
                self._prepare(scenario, data)
        except Exception as exc:  # the scenario, a token, a payload file: say why and leave
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            self.say(f"error: refused the run: {problem}")
            self.runner.send_message(_wire.REFUSED, {"reason": problem, "host": socket.gethostname()})
            self.exit_code = int(ExitCode.RUNTIME_ERROR)
            gevent.spawn_later(0.5, self.runner.quit)
            return
        self.index = int(data["index"])
        self.say(f"worker {self.index}: ready for scenario {self._config().name!r}")
        self._send_ready()

    def _send_ready(self) -> None:
        self.runner.send_message(
            _wire.READY,
            {"index": self.index, "host": socket.gethostname(), "pid": os.getpid(), "version": __version__},
        )

    def _prepare(self, scenario: Any, data: dict[str, Any]) -> None:
        pools = build_pools(scenario)
        config = build_run_config(scenario, pools, data["urls"])
        # The master's session sizes histograms from the same config: encoded intervals add up exactly.
        session = RunSession(scenario, pools, Path(os.devnull), console=Progress.silent(), handles_signals=False)
        session.config = config
        classes = session.user_classes(self.environment, fixed_counts=not config.staged)
        recorder, control = session.recorder, session.control
        assert recorder is not None and control is not None
        control.budget.max_requests = data.get("max_requests")
        if config.open_loop:
            for entry in config.traffic:
                control.tickets[entry.name] = PendingTickets()
        if any(t.pattern.runtime == "asyncio" for t in config.traffic):
            control.loop_thread = _bridge.AsyncioLoopThread().start()
        blocking = sum(t.users for t in config.traffic if uses_thread_pool(t.pattern.name, t.client.protocol))
        _bridge.ensure_thread_pool(blocking + 4)
        self.config, self.recorder, self.control = config, recorder, control
        self.environment.user_classes = classes
        self.environment.stop_timeout = config.in_flight_wait_s

    def _on_begin(self, environment: Environment, msg: Any) -> None:
        data, control, recorder = msg.data, self._control(), self._recorder()
        start_ns = time.perf_counter_ns()
        self.lag_probe.start()
        self.lag_probe_started = True
        if "max_requests" in data:  # open loop: the master split it by each worker's share of the rate
            control.budget.max_requests = data["max_requests"]
        if data.get("measuring"):
            recorder.start_measuring(start_ns)
            self.cpu_last_s = time.process_time()
        for entry in self._config().traffic:
            tickets = control.tickets.get(entry.name)
            if isinstance(tickets, PendingTickets):
                slots = (data.get("slots") or {}).get(entry.name)
                schedule = slice_schedule(entry.arrivals, Slots(*slots)) if slots else (lambda n: None)
                tickets.activate(schedule, start_ns)
                if recorder.measuring:  # their requests are measured ones: they count against max_requests
                    control.budget.spent += tickets.waited

    def _on_roll(self, environment: Environment, msg: Any) -> None:
        now_ns = time.perf_counter_ns()
        worker_s = time.time()
        recorder = self._recorder()
        measured = recorder.measuring
        interval = recorder.roll(now_ns)
        if msg.data.get("start_measuring") and not recorder.measuring:
            recorder.start_measuring(now_ns)
            self.cpu_last_s = time.process_time()
            measured = False
        self._send_interval(interval if measured else None, msg.data, worker_s, final=False)

    def _on_stop(self, environment: Environment, msg: Any) -> None:
        if not self.stopped:
            self._finish(msg.data)

    def _finish(self, request: dict[str, Any]) -> None:
        """Stop sending, let requests in flight finish within the grace, send the last interval."""
        self.stopped = True
        control, recorder, config = self._control(), self._recorder(), self._config()
        control.stopping = True
        for tickets in control.tickets.values():
            if isinstance(tickets, PendingTickets):
                tickets.release()
        deadline = time.monotonic() + config.grace_s
        while control.in_flight > 0 and time.monotonic() < deadline and not request.get("abandon"):
            gevent.sleep(0.01)
        watch = RunWatch(Progress.silent(), interval_s=config.interval_s)
        watch.unfinished_after_grace(time.perf_counter_ns(), control, recorder, config.grace_s)
        worker_s = time.time()
        measured = recorder.measuring
        interval = recorder.roll(time.perf_counter_ns())
        self.unfinished = watch.unfinished
        self._send_interval(interval if measured else None, request, worker_s, final=True)

    def _send_interval(self, interval: Any, request: dict[str, Any], worker_s: float, *, final: bool) -> None:
        control, recorder = self._control(), self._recorder()
        now_ns = time.perf_counter_ns()
        cpu_now = time.process_time()
        cpu_s, self.cpu_last_s = (cpu_now - self.cpu_last_s if interval is not None else 0.0), cpu_now
        warmup = recorder.warmup_requests - self.warmup_sent
        self.warmup_sent = recorder.warmup_requests
        data: dict[str, Any] = _wire.interval_data(interval) if interval is not None else {}
        error_ns = control.last_connection_error_ns
        data.update(
            {
                "seq": request.get("seq"),
                "sent_s": request.get("sent_s"),
                "sent_ns": request.get("sent_ns"),
                "worker_s": worker_s,
                "final": final,
                "warmup_requests": warmup,
                "cpu_s": round(cpu_s, 6),
                "wall_s": (interval.end_ns - interval.start_ns) / 1e9 if interval is not None else 0.0,
                "loop_lag_p99_us": self.lag_probe.roll(),
                "users": self.runner.user_count,
                "in_flight": control.in_flight,
                "spent": control.budget.spent,
                "ok_age_s": (now_ns - control.last_ok_ns) / 1e9,
                "connection_error_age_s": None if error_ns is None else (now_ns - error_ns) / 1e9,
            }
        )
        if final and self.unfinished:
            data["unfinished"] = self.unfinished
        self.runner.send_message(_wire.INTERVAL, data)

    # -- helpers ------------------------------------------------------------------------------
    def _close(self) -> None:
        control = self.control
        if control is not None:
            control.stopping = True
            for error in control.close():
                LOGGER.debug("closing a client failed: %s", error)
        self.lag_probe.stop()

    def _config(self) -> RunConfig:
        if self.config is None:
            raise RuntimeError("no setup from the master yet")
        return self.config

    def _control(self) -> RunControl:
        if self.control is None:
            raise RuntimeError("no setup from the master yet")
        return self.control

    def _recorder(self) -> Recorder:
        if self.recorder is None:
            raise RuntimeError("no setup from the master yet")
        return self.recorder


def run_worker(master: str, *, quiet: bool = False) -> int:
    """Serve one distributed run for the master at ``master`` (``HOST[:PORT]``); the exit code.

    Raises:
        ValueError: ``master`` is not ``HOST[:PORT]``.
    """
    host, port = _wire.parse_master(master)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    def say(text: str) -> None:
        if not quiet or text.startswith("error"):
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    return WorkerAgent(host, port, say=say).run()


__all__ = ["PendingTickets", "WorkerAgent", "run_worker"]
