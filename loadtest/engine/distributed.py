"""Drive a :class:`RunSession` as the master of Locust's distributed runner: many generator processes.

Owns ``tritonload run --processes N`` and ``tritonload run --master``: the Locust master runner in
this process (it runs no users itself), the local worker processes when asked, the wait for the
expected workers, the hand-over of the scenario to each (``_wire.SETUP``), the split of the load so
the scenario means the same whatever the worker count (Locust dispatches users; open-loop arrival
schedules are sliced by each worker's users; ``max_requests`` is split), the interval pull that
aligns every worker's intervals on the master's clock and merges their HDR histograms exactly, lost
workers, and the stop that collects every worker's last interval before they quit. The session's
phases (server, preflight, run directory, stop rules, summary) are the same as in a local run.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

import gevent

from loadtest import __version__
from loadtest.engine import _wire
from loadtest.engine._fleet import DONE, LOST, READY, REFUSED, RUNNING, Fleet
from loadtest.engine._locust import stage_shape
from loadtest.engine._processes import LocalWorkers, free_port
from loadtest.engine._split import slots_of, split_total
from loadtest.engine.local import run_local
from loadtest.engine.rules import Stop
from loadtest.engine.session import RunSession, SessionOutcome
from loadtest.exit_codes import ExitCode
from loadtest.recording.hlog import IntervalLogWriter
from loadtest.recording.rundir import without_shared_write

LOGGER = logging.getLogger("loadtest.run")
ROLL_WAIT_S = 1.0
"""Longest wait for the workers' intervals at each tick (late ones join the next interval, never lost)."""
SETUP_RESEND_S = 2.0
"""A worker that has not answered the scenario this long after it was sent gets it again."""
WORKERS_HLOG = "workers.hlog"
"""Each worker's own intervals (the merged ones are in ``latency.hlog``)."""
STOP_MARGIN_S = 5.0
LEFT = "it left the run after sending its last interval"
"""At the end, how much longer than the grace the master waits for each worker's last interval."""


@dataclass(frozen=True)
class DistributedOptions:
    """How a distributed run finds its workers.

    ``processes > 0`` starts that many local worker processes (the master listens on 127.0.0.1 at a free
    port); otherwise the master listens on ``bind_host:bind_port`` for ``expect_workers`` workers
    started elsewhere (``tritonload worker --master HOST:PORT``).
    """

    processes: int = 0
    expect_workers: int = 1
    bind_host: str = "*"
    bind_port: int = _wire.DEFAULT_MASTER_PORT
    min_workers: int = 1
    """The run fails (exit 1, partial run directory) when fewer workers than this remain."""
    workers_timeout_s: float = 60.0
    """How long the start waits for every expected worker to connect and be ready."""

    @property
    def expected(self) -> int:
        """Workers the run starts with."""
        return self.processes or self.expect_workers


class FleetError(Exception):
    """The workers did not arrive, refused the run, or too few remain."""


class _RunnerView:
    """What the session's stop rules read of a runner: the users the live workers report."""

    def __init__(self, runner: Any, fleet: Fleet) -> None:
        self.environment = runner.environment
        self._runner = runner
        self._fleet = fleet

    @property
    def user_count(self) -> int:
        reported = any(w.last_seq for w in self._fleet.live)
        return self._fleet.users if reported else int(self._runner.user_count)


def _reported_users(runner: Any, client_id: str, class_name: str) -> int:
    """Users of ``class_name`` that Locust dispatched to ``client_id`` (as its worker reported)."""
    node = runner.clients.get(client_id)
    return int(node.user_classes_count.get(class_name, 0)) if node is not None else 0


def run_distributed(
    session: RunSession, options: DistributedOptions, *, web: bool = False, web_port: int = 8089
) -> SessionOutcome:
    """Every phase of ``session`` with a Locust master and its workers; the run directory is left in any case."""
    master = _Master(session, options)
    return run_local(
        session,
        drive=lambda _session, web, web_port: master.drive(web, web_port),
        web=web,
        web_port=web_port,
        run_errors=(FleetError,),
        after_drive=master.shut_down,
    )


class _Master:
    """One distributed run's master; see the module docstring."""

    def __init__(self, session: RunSession, options: DistributedOptions) -> None:
        self.session = session
        self.options = options
        self.runner: Any = None
        self.fleet: Fleet | None = None
        self.local: LocalWorkers | None = None
        self.seq = 0
        self.started = False
        self.worker_log_file: IO[str] | None = None

    def drive(self, web: bool, web_port: int) -> Stop:
        """Start the master and the workers, run the interval loop, stop every worker; the stop reason."""
        from locust.env import Environment

        session, options = self.session, self.options
        config = session.config_or_fail()
        environment = Environment(user_classes=[], events=None, stop_timeout=config.in_flight_wait_s)
        environment.user_classes = session.user_classes(environment, fixed_counts=not config.staged)
        if config.staged:
            environment.shape_class = stage_shape(config.stage_users)
        host, port = options.bind_host, options.bind_port
        if options.processes:
            host, port = "127.0.0.1", free_port()
        self.runner = runner = environment.create_master_runner(host, port)
        assert session.recorder is not None and session.control is not None
        fleet = self.fleet = Fleet(session.recorder, session.control, say=session.progress.line)
        runner.register_message(_wire.READY, fleet.on_ready)
        runner.register_message(_wire.REFUSED, fleet.on_refused)
        runner.register_message(_wire.INTERVAL, fleet.on_interval)
        session.lag_probe.stop()
        session.lag_probe = fleet.lag_probe
        session.meta["workers"] = fleet.entries
        fleet.overview.update(
            {
                "mode": "processes" if options.processes else "master",
                "expected_workers": options.expected,
                "min_workers": options.min_workers,
            }
        )
        fleet.refresh()
        session.meta["distributed"] = fleet.overview
        if options.processes:
            self.local = LocalWorkers(options.processes, f"127.0.0.1:{port}", session.run_dir).start()
            session.progress.line(f"started {options.processes} worker processes (pids {self.local.pids})")
        else:
            session.progress.line(f"master listening on {host}:{port}; waiting for {options.expected} workers")
        self._gather()
        saved_argv = sys.argv
        if web:
            sys.argv = sys.argv[:1]  # Locust's web UI parses sys.argv as Locust options when it renders a page
            environment.create_web_ui(session.web_host, web_port)
            session.progress.line(f"Locust web UI: http://{session.web_host}:{web_port}")
        try:
            self._start()
            session.before_roll = self._pull
            try:
                return session.interval_loop(_RunnerView(runner, fleet))
            except FleetError as exc:
                session.progress.error(str(exc))
                return Stop("failed", ExitCode.RUNTIME_ERROR, str(exc))
        finally:
            session.before_roll = None
            self._stop_workers()
            if environment.web_ui is not None:
                environment.web_ui.stop()
            sys.argv = saved_argv

    # -- start --------------------------------------------------------------------------------
    def _gather(self) -> None:
        """Hand the scenario to each worker as it connects; return once the expected number are ready."""
        session, fleet, runner = self.session, self._fleet(), self.runner
        config = session.config_or_fail()
        urls = {t.info["target"]: t.client.url for t in config.traffic}
        budgets = split_total(config.max_requests, [1] * self.options.expected) if config.max_requests else None
        deadline = time.monotonic() + self.options.workers_timeout_s
        offered: list[str] = []
        sent_at: dict[str, tuple[float, dict[str, Any]]] = {}
        while True:
            for client_id in list(runner.clients.keys()):
                if client_id in offered or len(offered) >= self.options.expected:
                    continue
                index = len(offered)
                offered.append(client_id)
                fleet.worker(client_id).index = index
                data = {
                    "version": __version__,
                    "scenario_yaml": config.scenario_yaml,
                    "scenario_hash": config.scenario_hash,
                    "urls": urls,
                    "index": index,
                    "count": self.options.expected,
                    "max_requests": budgets[index] if budgets else None,
                }
                runner.send_message(_wire.SETUP, data, client_id=client_id)
                sent_at[client_id] = (time.monotonic(), data)
            # A worker may get SETUP before it listens for it (Locust drops a message no handler was
            # registered for yet): offer it again to a worker that has not answered; workers ignore repeats.
            for client_id, (at, data) in list(sent_at.items()):
                if fleet.worker(client_id).state in (READY, REFUSED) or client_id not in runner.clients:
                    del sent_at[client_id]
                elif time.monotonic() - at > SETUP_RESEND_S:
                    runner.send_message(_wire.SETUP, data, client_id=client_id)
                    sent_at[client_id] = (time.monotonic(), data)
            refused = fleet.in_state("refused")
            if refused:
                raise FleetError(f"a worker refused the run: {refused[0].reason}")
            ready = fleet.in_state(READY)
            if len(ready) >= self.options.expected:
                self._dismiss([c for c in list(runner.clients.keys()) if c not in offered])
                return
            self._check_local_processes()
            if self.session.interrupt.signal is not None:
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise FleetError(
                    f"only {len(ready)} of {self.options.expected} workers were ready after "
                    f"{self.options.workers_timeout_s:g} s (start them with: tritonload worker --master HOST:PORT)"
                )
            gevent.sleep(0.2)

    def _dismiss(self, client_ids: list[str]) -> None:
        """Send away workers beyond the expected count before the users are dispatched (Locust would give
        them users they have no classes for)."""
        for client_id in client_ids:
            self.session.progress.line(
                f"worker {client_id} is not needed ({self.options.expected} expected): told it to quit"
            )
            self.runner.send_message("quit", None, client_id=client_id)
            del self.runner.clients[client_id]

    def _check_local_processes(self) -> None:
        if self.local is None:
            return
        for pid, code in self.local.exited().items():
            worker = next((w for w in self._fleet().workers.values() if w.pid == pid), None)
            if worker is not None:
                gone = LEFT if worker.final else f"its process exited with status {code}"
                self._fleet().lose(worker, gone)
            elif not self.started:
                log = self.session.run_dir / f"worker-{self.local.pids.index(pid)}.log"
                raise FleetError(f"worker process {pid} exited with status {code} before it was ready (see {log})")

    def _start(self) -> None:
        """Start the clock, dispatch the users (Locust) and tell each worker to begin."""
        session, runner, fleet = self.session, self.runner, self._fleet()
        config = session.config_or_fail()
        slots: dict[str, dict[str, list[int] | None]] = {w.client_id: {} for w in fleet.live}
        if config.open_loop:
            # Users first, so each worker's slice of every schedule follows its share of the in-flight cap.
            runner.start(config.total_users, spawn_rate=config.total_users)
            workers = fleet.live
            for user_class in runner.user_classes:
                name = user_class.traffic.name
                counts = [_reported_users(runner, w.client_id, user_class.__name__) for w in workers]
                if sum(counts) == 0:
                    counts = [1] * len(workers)
                for worker, slot in zip(workers, slots_of(counts), strict=True):
                    slots[worker.client_id][name] = [slot.start, slot.width, slot.cycle] if slot else None
        session.begin(time.perf_counter_ns())  # without a warm-up: after reading the server's counts
        self._open_worker_log()
        measuring = bool(session.clock and session.clock.measuring)
        budgets = self._open_loop_budgets(slots) if config.open_loop and config.max_requests else {}
        for worker in fleet.live:
            data: dict[str, Any] = {"measuring": measuring, "slots": slots.get(worker.client_id) or {}}
            if worker.client_id in budgets:
                data["max_requests"] = budgets[worker.client_id]
            runner.send_message(_wire.BEGIN, data, client_id=worker.client_id)
            worker.state = RUNNING
        fleet.refresh()
        self.started = True
        if config.staged:
            runner.start_shape()
        elif not config.open_loop:
            gevent.spawn(runner.start, config.total_users, max(config.spawn_rate, 1e-3))

    def _open_loop_budgets(self, slots: dict[str, dict[str, list[int] | None]]) -> dict[str, int]:
        """``max_requests`` in proportion to each worker's share of the total arrival rate (open loop)."""
        config = self.session.config_or_fail()
        shares = {entry.name: float(entry.info.get("rate_share") or 0.0) for entry in config.traffic}
        workers = list(slots)
        weights = [
            round(1e6 * sum(shares[name] * slot[1] / slot[2] for name, slot in slots[w].items() if slot))
            for w in workers
        ]
        return dict(zip(workers, split_total(config.max_requests or 0, weights), strict=True))

    def _open_worker_log(self) -> None:
        session, fleet = self.session, self._fleet()
        path = session.run_dir / WORKERS_HLOG
        try:
            self.worker_log_file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in shut_down()
            without_shared_write(path)
            comment = f"tritonload {__version__} run {session.run_dir.name}: each worker's intervals; microseconds"
            fleet.worker_log = IntervalLogWriter(self.worker_log_file, start_epoch_s=time.time(), comment=comment)
        except OSError as exc:  # the per-worker view is extra: the merged results do not depend on it
            LOGGER.warning("cannot write %s: %s", path, exc)
        fleet.measure_start_ns = lambda: session.measure_start_ns

    # -- intervals ----------------------------------------------------------------------------
    def _pull(self, start_measuring: bool) -> None:
        """Ask every running worker for its interval now; wait (briefly) until they all answered."""
        fleet, runner = self._fleet(), self.runner
        self._find_lost()
        self.seq += 1
        seq = self.seq
        running = fleet.in_state(RUNNING)
        data = {
            "seq": seq,
            "sent_s": time.time(),
            "sent_ns": time.perf_counter_ns(),
            "start_measuring": start_measuring,
        }
        for worker in running:
            runner.send_message(_wire.ROLL, data, client_id=worker.client_id)
        deadline = time.monotonic() + min(ROLL_WAIT_S, self.session.config_or_fail().interval_s / 2)
        while any(w.last_seq < seq and w.state == RUNNING for w in running) and time.monotonic() < deadline:
            gevent.sleep(0.002)
        self._find_lost()

    def _find_lost(self) -> None:
        """Mark workers lost whose process ended or whose heartbeats stopped; fail below the minimum."""
        fleet, runner = self._fleet(), self.runner
        self._check_local_processes()
        for worker in fleet.in_state(RUNNING, READY):
            node = runner.clients.get(worker.client_id)
            if node is None:
                fleet.lose(worker, LEFT if worker.final else "it left the run")
            elif node.state == "missing":
                fleet.lose(worker, "no heartbeat for 3 s")
        if self.started and len(fleet.live) < self.options.min_workers:
            raise FleetError(
                f"only {len(fleet.live)} workers remain, fewer than the minimum of {self.options.min_workers}"
            )

    # -- stop ---------------------------------------------------------------------------------
    def _stop_workers(self) -> None:
        """Let every running worker finish its requests in flight and collect its last interval."""
        if not self.started:
            return
        fleet, runner, session = self._fleet(), self.runner, self.session
        config = session.config_or_fail()
        running = fleet.in_state(RUNNING)
        abandon = session.interrupt.abandon
        for worker in running:
            data = {"abandon": abandon, "sent_s": time.time(), "sent_ns": time.perf_counter_ns()}
            runner.send_message(_wire.STOP, data, client_id=worker.client_id)
        deadline = time.monotonic() + config.grace_s + STOP_MARGIN_S
        while time.monotonic() < deadline:
            with_last = [w for w in running if w.final or w.state == LOST]
            if len(with_last) == len(running) or session.interrupt.abandon != abandon:
                break  # every last interval came, or a second Ctrl-C abandons the wait
            gevent.sleep(0.01)
            self._check_local_processes()
        for name, entry in fleet.unfinished.items():
            session.watch.unfinished[name] = entry
        if fleet.unfinished:
            total = sum(e["count"] for e in fleet.unfinished.values())
            session.progress.line(f"{total} requests still in flight after the {config.grace_s:g} s grace: unfinished")
        for worker in running:
            if worker.final and worker.state == RUNNING:
                worker.state = DONE
            elif worker.state == RUNNING:
                fleet.lose(worker, "its last interval never came")
        fleet.refresh()

    def shut_down(self) -> None:
        """Tell every worker to quit, stop listening and reap the local worker processes."""
        if self.runner is not None:
            try:
                self.runner.quit()
            except Exception as exc:  # a broken socket at the end must not hide the run's outcome
                LOGGER.warning("stopping the master runner failed: %s", exc)
        if self.local is not None:
            self.local.reap()
        if self.fleet is not None:
            self.fleet.worker_log = None
        if self.worker_log_file is not None:
            self.worker_log_file.close()

    def _fleet(self) -> Fleet:
        assert self.fleet is not None
        return self.fleet


__all__ = ["DistributedOptions", "FleetError", "run_distributed"]
