"""Drive a tritonload scenario from a plain Locust locustfile.

Owns the glue between Locust's own command line (``locust -f``) and a :class:`RunSession`: the
session is prepared when the locustfile is imported (embedded server started, endpoints resolved,
every entry probed), its user classes are handed to Locust, and Locust's ``test_start`` /
``test_stop`` events begin and finish it (HDR recording, run directory, reports). Locust decides the
user count, spawn rate and run time; the scenario decides everything else (targets, payloads,
patterns, warm-up, recording). Usage, in ``locustfile.py``::

    from loadtest.locust_plugin import scenario_users

    globals().update(scenario_users("scenarios/sync.yaml"))

then ``LOCUST_SKIP_MONKEY_PATCH=1 locust -f locustfile.py --headless -u 6 -r 6 -t 30s``. The variable
keeps gevent from patching the standard library (tritonload's users do not need it, and the asyncio
patterns cannot work with it); ``tritonload run`` sets it itself.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent
import gevent.monkey

from loadtest.engine.config import check_secrets
from loadtest.engine.preflight import PreflightError
from loadtest.engine.rules import Stop
from loadtest.engine.session import RunSession
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import build_pools
from loadtest.recording.rundir import LOG_FILE, make_run_id
from loadtest.scenario import ScenarioError, load_scenario

LOGGER = logging.getLogger("loadtest.locust")


class _Plugin:
    """Locust's test_start / test_stop listeners around one prepared session."""

    def __init__(self, session: RunSession) -> None:
        self.session = session
        self.loop: gevent.Greenlet | None = None
        self.log_handler: logging.Handler | None = None

    def on_test_start(self, environment: Any, **_: Any) -> None:
        session = self.session
        assert session.control is not None
        session.control.environment = environment
        self.log_handler = logging.FileHandler(session.run_dir / LOG_FILE, encoding="utf-8")
        logging.getLogger().addHandler(self.log_handler)
        session.begin(time.perf_counter_ns())
        self.loop = gevent.spawn(session.interval_loop, environment.runner)

    def on_test_stop(self, environment: Any, **_: Any) -> None:
        session = self.session
        if session.writer is None or self.loop is None:
            return
        session.request_stop()
        self.loop.join(timeout=session._config().interval_s * 2 + 5)
        stop = self.loop.value if isinstance(self.loop.value, Stop) else Stop("completed", ExitCode.OK, "stopped")
        if self.loop.exception is not None:
            stop = Stop("failed", ExitCode.RUNTIME_ERROR, str(self.loop.exception))
        outcome = session.finish(stop)
        session.close()
        from loadtest.report import write_reports

        write_reports(session.run_dir, ("text", "json", "html"))
        if outcome.exit_code != ExitCode.OK:
            environment.process_exit_code = outcome.exit_code
        LOGGER.info("tritonload run directory: %s", session.run_dir)
        if self.log_handler is not None:
            logging.getLogger().removeHandler(self.log_handler)
            self.log_handler.close()


def scenario_users(
    scenario_file: str | Path,
    *,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    reports_dir: str | Path = "reports",
) -> dict[str, type]:
    """Locust user classes for every traffic entry of a scenario, recording into a run directory.

    Prepares the run at once (starts the embedded server if the scenario asks for it, probes every
    entry). Locust's ``-u`` users are spread over the entries by their weights. Returns
    ``{class name: class}`` for ``globals().update(...)`` in a locustfile.

    Raises:
        SystemExit: the scenario is invalid (its problems are printed; exit code 2), a model cannot be
            reached or rejects the payload (exit code 1 or 2), or asyncio traffic is asked for in a
            process where gevent patched the standard library.
    """
    try:
        scenario = load_scenario(str(scenario_file), overrides)
        check_secrets(scenario)
    except ScenarioError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(ExitCode.USAGE) from None
    from loadtest.engine.patterns import pattern_of

    if gevent.monkey.is_module_patched("threading") and any(
        pattern_of(t.pattern).runtime == "asyncio" for t in scenario.traffic
    ):
        sys.stderr.write(
            "error: asyncio traffic needs Locust without gevent's monkey-patching: "
            "run with LOCUST_SKIP_MONKEY_PATCH=1\n"
        )
        raise SystemExit(ExitCode.USAGE)
    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(scenario.name or "run")
    session = RunSession(
        scenario, build_pools(scenario), run_dir, progress=False, ends_at_duration=False, handles_signals=False
    )
    try:
        session.prepare()
    except PreflightError as exc:
        sys.stderr.write(f"error: {exc}\n")
        session.finish(Stop("failed", exc.exit_code, str(exc)))
        session.close()
        raise SystemExit(exc.exit_code) from None
    atexit.register(session.close)  # Locust may exit without a test (e.g. --help): stop the server anyway
    from locust import events

    classes = session.user_classes(None, fixed_counts=False)
    plugin = _Plugin(session)
    events.test_start.add_listener(plugin.on_test_start)
    events.test_stop.add_listener(plugin.on_test_stop)
    return {cls.__name__: cls for cls in classes}


__all__ = ["scenario_users"]
