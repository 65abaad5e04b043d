"""Drive a :class:`RunSession` through every phase with a Locust local runner in this process.

Owns ``tritonload run``'s way of running a session: the run log file, the Locust environment and
local runner (with the stage shape and the web UI when asked), the start of the users, and turning
whatever ends the run (a stop rule, a failed preflight, Ctrl-C, a crash) into a finished run
directory and an exit code. The phases themselves are the session's.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from locust.env import Environment

from loadtest.engine._locust import stage_shape
from loadtest.engine.preflight import PreflightError
from loadtest.engine.rules import Stop
from loadtest.engine.session import RunSession, SessionOutcome
from loadtest.exit_codes import ExitCode
from loadtest.recording.rundir import LOG_FILE, RunWriteError

LOGGER = logging.getLogger("loadtest.run")


class _RunLogHandler(logging.FileHandler):
    """The run log; when its disk fills it falls silent instead of printing a traceback per record (the
    run directory's writer reports the full disk once, as the reason the run failed)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self._silent = False

    def handleError(self, record: logging.LogRecord) -> None:
        self._silent = True
        self.close()

    def emit(self, record: logging.LogRecord) -> None:
        if not self._silent:
            super().emit(record)

    def close(self) -> None:
        with suppress(OSError):  # the last flush on a full disk; what was logged before stays
            super().close()


@contextmanager
def run_log(run_dir: Path) -> Iterator[None]:
    """The run's log file (``run.log``) receives every log record while the block runs."""
    handler = _RunLogHandler(run_dir / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()


Drive = Callable[[RunSession, bool, int], Stop]
"""Creates the Locust runner, starts the users and runs the interval loop: ``(session, web, web_port) -> Stop``."""


def run_local(
    session: RunSession,
    *,
    web: bool = False,
    web_port: int = 8089,
    drive: Drive | None = None,
    run_errors: tuple[type[Exception], ...] = (),
    after_drive: Callable[[], None] | None = None,
) -> SessionOutcome:
    """Every phase of ``session`` in order, with a Locust local runner; the run directory is left in any case.

    ``drive`` replaces the default way of starting the users and looping (a sweep changes the load between
    steps; a distributed run drives a master and its workers); the preparation, the error handling and the
    finish stay the same. ``run_errors`` are the driver's own expected failures: said in one line, without
    a traceback. ``after_drive`` runs before the finish whatever happened (a master stops its workers)."""
    session.run_dir.mkdir(parents=True, exist_ok=True)
    failure: Exception | None = None
    stop = Stop("failed", ExitCode.RUNTIME_ERROR, "did not start")
    with run_log(session.run_dir), session.interrupt:
        try:
            session.prepare()
            stop = (drive or _drive)(session, web, web_port)
        except PreflightError as exc:
            failure = exc
            stop = Stop("failed", exc.exit_code, str(exc))
            LOGGER.error("run failed: %s", exc)
            session.progress.error(str(exc))
        except run_errors as exc:
            stop = Stop("failed", ExitCode.RUNTIME_ERROR, str(exc))
            LOGGER.error("run failed: %s", exc)
            session.progress.error(str(exc))
        except RunWriteError as exc:  # the run directory cannot be written at all
            stop = Stop("failed", ExitCode.RUNTIME_ERROR, str(exc))
            session.progress.error(str(exc))
        except KeyboardInterrupt:
            stop = Stop("interrupted", ExitCode.INTERRUPTED, "interrupted by Ctrl-C")
        except Exception as exc:
            LOGGER.exception("run failed")
            stop = Stop("failed", ExitCode.RUNTIME_ERROR, f"{type(exc).__name__}: {exc}")
            session.progress.error(f"{stop.reason} (details in {session.run_dir / LOG_FILE})")
        finally:
            if after_drive is not None:
                after_drive()
            outcome = session.finish(stop)
            session.close()
    outcome.failure = failure
    return outcome


def _drive(session: RunSession, web: bool, web_port: int) -> Stop:
    config = session.config_or_fail()
    # A ramp-down lets each stopped user finish (and record) its request in flight.
    environment = Environment(user_classes=[], events=None, stop_timeout=config.in_flight_wait_s)
    environment.user_classes = session.user_classes(environment, fixed_counts=not config.staged)
    if session.control is not None:  # without the web UI nothing reads Locust's statistics
        session.control.feed_locust = web
    if config.staged:
        environment.shape_class = stage_shape(config.stage_users)
    runner = environment.create_local_runner()
    saved_argv = sys.argv
    if web:
        # Locust's web UI parses sys.argv as Locust options when it renders a page; ours would not parse.
        sys.argv = sys.argv[:1]
        environment.create_web_ui(session.web_host, web_port)
        session.progress.line(f"Locust web UI: http://{session.web_host}:{web_port}")
    start_ns = time.perf_counter_ns()
    session.begin(start_ns)
    if config.staged:
        runner.start_shape()
    elif config.open_loop:
        runner.start(config.total_users, spawn_rate=config.total_users)
    else:
        runner.start(config.total_users, spawn_rate=max(config.spawn_rate, 1e-3))
    try:
        return session.interval_loop(runner)
    finally:
        session.stop_gracefully(runner)
        if environment.web_ui is not None:
            environment.web_ui.stop()
        sys.argv = saved_argv


__all__ = ["Drive", "run_local", "run_log"]
