"""Run a sweep or a capacity search end to end: the scenario at step 0, one session, the result files.

Owns what ``tritonload sweep`` / ``tritonload capacity`` and ``loadtest.sweep`` / ``loadtest.capacity``
share: building the scenario the session runs (the user's scenario with ``load`` replaced by the first
level, no warm-up or end of its own: steps have their own), the SLOs (the scenario's and the extra
ones), the run itself through ``engine.local.run_local`` with the step controller, the exit code, and
the files (``sweep.json`` / ``capacity.json``, then the reports of ``loadtest.report.capacity``).
Never exits the process.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.capacity.driver import StepController, drive_with
from loadtest.capacity.options import CONCURRENCY, SweepOptions
from loadtest.engine.local import run_local
from loadtest.engine.progress import Progress
from loadtest.engine.session import RunSession
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import PayloadPool
from loadtest.recording._files import write_atomic
from loadtest.scenario import Scenario
from loadtest.slo import Slo
from loadtest.slo.verdicts import parse_slo_option

REPORT_FILE = "report.txt"
SESSION_DURATION_S = 7 * 24 * 3600
"""The session's own end, far beyond any sweep: the step controller ends the run."""


@dataclass
class SweepResult:
    """What a sweep or capacity search left: the CLI's exit code, the run directory and the file's data."""

    exit_code: int
    """0 answer found (sweep: done), 3 even the lowest level breaks the SLOs, 1 failed, 2 bad input, 130 interrupted."""
    run_dir: Path
    data: dict[str, Any]
    """The content of ``sweep.json`` / ``capacity.json``."""

    @property
    def answer(self) -> dict[str, Any]:
        """``data["answer"]``."""
        return dict(self.data.get("answer") or {})


class StepProgress(Progress):
    """The console of a sweep: the controller's window and step lines, notices and errors; no per-interval
    lines and no whole-run table (they would mix the steps)."""

    def interval(self, *args: Any, **kwargs: Any) -> None:
        return None

    def table(self, summary: Mapping[str, Any]) -> None:
        return None


def console(quiet: bool) -> Progress:
    """The CLI's console (lines on stderr unless ``quiet``)."""
    return StepProgress(sys.stderr, not quiet, None)


def session_overrides(scenario: Scenario, options: SweepOptions, first_level: float) -> list[str]:
    """``--set`` expressions that turn ``scenario`` into step 0 of the sweep."""
    load = scenario.load
    if options.variable == CONCURRENCY:
        new_load = f"{{kind: closed, users: {int(first_level)}"
        if load.pacing_s:
            new_load += f", pacing_s: {load.pacing_s}"
        new_load += "}"
    else:
        arrival = load.arrival or "constant"
        open_load = load.kind == "open" or (load.kind == "sweep" and load.variable == "rate")
        max_in_flight = load.max_in_flight if open_load and load.max_in_flight else 64
        new_load = f"{{kind: open, rate: {first_level}, arrival: {arrival}, max_in_flight: {max_in_flight}}}"
    return [f"load={new_load}", "warmup_s=0", f"duration_s={SESSION_DURATION_S}", "max_requests=null"]


def sweep_slos(scenario: Scenario, extra: Sequence[str]) -> list[Slo]:
    """The scenario's SLOs and then the extra ones (``--slo``), parsed.

    Raises:
        SloError: an extra SLO cannot be parsed (the message says why).
    """
    names = [entry.name for entry in scenario.traffic]
    slos = [*scenario.all_slos(), *(parse_slo_option(text, names) for text in extra)]
    unique = {(slo.traffic, slo.text): slo for slo in reversed(slos)}  # the same SLO twice is judged once
    return [slo for slo in slos if unique.get((slo.traffic, slo.text)) is slo]


def run_sweep(
    kind: str,
    scenario: Scenario,
    pools: Mapping[str, PayloadPool],
    run_dir: Path,
    options: SweepOptions,
    slos: Sequence[Slo],
    *,
    progress: Progress,
) -> SweepResult:
    """Run the sweep (``kind`` ``sweep``) or capacity search (``capacity``) of ``scenario``, already at step 0
    (see :func:`session_overrides`), into ``run_dir``."""
    session = RunSession(scenario, pools, run_dir, console=progress)
    session.judge_slos = False
    controller = StepController(session, options, kind, list(slos))
    outcome = run_local(session, drive=drive_with(controller))
    controller.attach_server_stats()
    status, exit_code = _verdict(controller, outcome.exit_code, outcome.failure)
    data = controller.write(status, exit_code, partial=status != "completed")
    _write_reports(run_dir, progress)
    return SweepResult(exit_code, run_dir, data)


def _write_reports(run_dir: Path, progress: Progress) -> None:
    """``report.txt``, ``report.md`` and ``report.html`` from the result file just written, by the same
    renderers as ``tritonload report``; a failure to render them loses no result (``report.txt`` then says
    so)."""
    from loadtest.recording.rundir import RunDirectoryError
    from loadtest.report.capacity import write_capacity_reports

    try:
        write_capacity_reports(run_dir, ("text", "markdown", "html"))
    except (OSError, RunDirectoryError, ValueError) as exc:
        progress.error(f"the capacity reports could not be written: {exc}")
        failed = f"the reports could not be rendered ({exc}); every step is in the run's JSON\n"
        write_atomic(run_dir / REPORT_FILE, failed)


def _verdict(controller: StepController, session_exit: int, failure: Exception | None) -> tuple[str, int]:
    if session_exit == ExitCode.INTERRUPTED:
        return "interrupted", int(ExitCode.INTERRUPTED)
    if failure is not None or session_exit not in (ExitCode.OK, ExitCode.SLO_BREACHED):
        return "failed", int(session_exit) or int(ExitCode.RUNTIME_ERROR)
    if not controller.done:
        return "failed", int(ExitCode.RUNTIME_ERROR)
    steps = controller.steps
    if controller.search is not None:
        if controller.search.last_pass is not None:
            return "completed", int(ExitCode.OK)
        if steps and steps[0]["generator"]["saturated"]:
            controller.notes.append("the load generator saturated at the lowest level: nothing was measured")
            return "completed", int(ExitCode.RUNTIME_ERROR)
        return "completed", int(ExitCode.SLO_BREACHED)
    if steps and steps[0]["passed"] is False:
        return "completed", int(ExitCode.SLO_BREACHED)
    return "completed", int(ExitCode.OK)


__all__ = ["REPORT_FILE", "StepProgress", "SweepResult", "console", "run_sweep", "session_overrides", "sweep_slos"]
