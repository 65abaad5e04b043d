"""Drive a tritonload scenario from a plain Locust locustfile.

Owns the glue between Locust's own command line (``locust -f``) and a :class:`RunSession`: the
scenario's user classes are handed to Locust, and Locust's ``test_start`` / ``test_stop`` events start
and finish the session (embedded server, preflight, HDR recording, run directory). Locust decides
the user count, spawn rate and run time; the scenario decides everything else (targets, payloads,
patterns, warm-up, recording). Usage, in ``locustfile.py``::

    from loadtest.locust_plugin import scenario_users

    globals().update(scenario_users("scenarios/sync.yaml"))

then ``LOCUST_SKIP_MONKEY_PATCH=1 locust -f locustfile.py --headless -u 4 -r 4 -t 30s``. The variable
keeps gevent from patching the standard library (tritonload's users do not need it, and the asyncio
pattern cannot work with it); ``tritonload run`` sets it itself.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent
import gevent.monkey

from loadtest.engine.config import build_run_config
from loadtest.engine.session import RunAborted, RunSession
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import build_pools
from loadtest.recording.rundir import LOG_FILE, make_run_id
from loadtest.scenario import ScenarioError, load_scenario

LOGGER = logging.getLogger("loadtest.locust")


class _NoInterrupt:
    """Locust handles signals itself in this mode."""

    signal = None
    abandon = False

    def __enter__(self) -> _NoInterrupt:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _PluginSession:
    def __init__(self, session: RunSession) -> None:
        self.session = session
        self.loop: gevent.Greenlet | None = None
        self.log_handler: logging.Handler | None = None

    def on_test_start(self, environment: Any, **_: Any) -> None:
        session = self.session
        session.control.environment = environment
        session.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_handler = logging.FileHandler(session.run_dir / LOG_FILE, encoding="utf-8")
        logging.getLogger().addHandler(self.log_handler)
        try:
            session._start_server()
            session._preflight()
        except RunAborted as exc:
            LOGGER.error("tritonload: %s", exc)
            session.status, session.error = "failed", str(exc)
            environment.process_exit_code = exc.exit_code
            session._finish()
            self._stop_server()
            environment.runner.quit()
            return
        session.open_results()
        start_ns = time.perf_counter_ns()
        session.start_schedule(start_ns)
        self.loop = gevent.spawn(session.interval_loop, environment.runner, start_ns)

    def on_test_stop(self, environment: Any, **_: Any) -> None:
        session = self.session
        if session.writer is None or self.loop is None:
            return
        session.stop_requested = True
        self.loop.join(timeout=session.config.interval_s * 2 + 5)
        session.close_users()
        if self.loop.exception is not None:
            session.status, session.error = "failed", str(self.loop.exception)
        summary = session._finish()
        self._stop_server()
        from loadtest.report import write_reports

        write_reports(session.run_dir, ("text", "json", "html"))
        if any(slo.get("passed") is False for slo in summary.get("slos", [])):
            environment.process_exit_code = ExitCode.SLO_BREACHED
        LOGGER.info("tritonload run directory: %s", session.run_dir)
        if self.log_handler is not None:
            logging.getLogger().removeHandler(self.log_handler)
            self.log_handler.close()

    def _stop_server(self) -> None:
        if self.session.server is not None:
            self.session.server.stop()
            self.session.server = None


def scenario_users(
    scenario_file: str | Path,
    *,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    reports_dir: str | Path = "reports",
) -> dict[str, type]:
    """Locust user classes for every traffic entry of a scenario, recording into a run directory.

    Locust's ``-u`` users are spread over the entries by their weights. Returns ``{class name: class}``
    for ``globals().update(...)`` in a locustfile.

    Raises:
        SystemExit: the scenario is invalid (its problems are printed; exit code 2), or asyncio traffic
            is asked for in a process where gevent patched the standard library.
    """
    try:
        scenario = load_scenario(str(scenario_file), overrides)
        config = build_run_config(scenario, build_pools(scenario))
    except ScenarioError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(ExitCode.USAGE) from None
    if gevent.monkey.is_module_patched("threading") and any(t.spec.pattern == "asyncio" for t in config.traffic):
        sys.stderr.write(
            "error: asyncio traffic needs Locust without gevent's monkey-patching: "
            "run with LOCUST_SKIP_MONKEY_PATCH=1\n"
        )
        raise SystemExit(ExitCode.USAGE)
    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(config.name)
    session = RunSession(config, run_dir, progress=False, web=False)
    session.end_at_duration = False
    session.interrupt = _NoInterrupt()
    from locust import events

    classes = session.create_users(None, fixed_counts=False)
    plugin = _PluginSession(session)
    events.test_start.add_listener(plugin.on_test_start)
    events.test_stop.add_listener(plugin.on_test_stop)
    return {cls.__name__: cls for cls in classes}


__all__ = ["scenario_users"]
