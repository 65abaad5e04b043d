"""``tritonload run``: run a scenario and leave a run directory (and its reports) behind."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from loadtest.cli._report import format_option_callback
from loadtest.cli._scenario import load_or_exit, set_option
from loadtest.exit_codes import ExitCode

DEFAULT_REPORTS_DIR = "reports"
DEFAULT_FORMATS = ("text", "json", "html")


@click.command()
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False))
@set_option
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory to create (default: reports/<run-id>/).",
)
@click.option(
    "--reports-dir",
    default=DEFAULT_REPORTS_DIR,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where run directories go when --out is not given.",
)
@click.option("--web", is_flag=True, help="Also serve Locust's web UI during the run.")
@click.option("--web-port", type=int, default=8089, show_default=True, help="Port of the web UI (with --web).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines; only the final summary.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    default=DEFAULT_FORMATS,
    show_default=True,
    callback=format_option_callback,
    help="Reports to write into the run directory at the end: text, json, csv, markdown, html, junit "
    "(repeat or comma-separate).",
)
def run(
    scenario_file: str,
    overrides: Sequence[str],
    out: str | None,
    reports_dir: str,
    web: bool,
    web_port: int,
    quiet: bool,
    formats: Sequence[str],
) -> None:
    """Run SCENARIO and write its results to a run directory.

    Exit codes: 0 ok, 1 run failed (server unreachable or died), 2 invalid scenario, 3 an SLO was
    breached, 130 interrupted (what was measured is kept).
    """
    scenario, pools = load_or_exit(scenario_file, overrides)
    from loadtest.api import RunError, run_loaded
    from loadtest.engine.progress import Progress
    from loadtest.recording.rundir import RunDirectoryError, load_run, make_run_id
    from loadtest.scenario import ScenarioError

    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(scenario.name or "run")
    console = Progress(sys.stderr, not quiet, sys.stdout)
    try:
        result = run_loaded(scenario, pools, run_dir, console=console, web=web, web_port=web_port)
        exit_code, slos = result.exit_code, result.summary.get("slos", [])
    except (ScenarioError, FileExistsError) as exc:
        click.echo(f"error: {exc}" if isinstance(exc, FileExistsError) else str(exc), err=True)
        sys.exit(ExitCode.USAGE)
    except RunError as exc:  # the session printed why; the run directory says so too
        exit_code, slos = exc.exit_code, load_run(run_dir).summary.get("slos", [])
    try:
        _write_reports(run_dir, formats)
    except (OSError, RunDirectoryError) as exc:  # e.g. the disk filled up during the run
        click.echo(f"error: cannot write reports to {run_dir}: {getattr(exc, 'strerror', None) or exc}", err=True)
        exit_code = exit_code or ExitCode.RUNTIME_ERROR
    for slo in slos:
        click.echo(_slo_line(slo))
    click.echo(f"run directory: {run_dir}")
    if exit_code == ExitCode.INTERRUPTED:
        click.echo("run interrupted: the run directory holds what was measured until then; SLOs not judged", err=True)
    sys.exit(exit_code)


def _slo_line(slo: dict[str, object]) -> str:
    reason = str(slo.get("reason") or "")
    if slo.get("passed") is None and reason.startswith("not judged"):
        return f"SLO not judged: {slo.get('slo')} ({reason.removeprefix('not judged: ')})"
    verdict = {True: "pass", False: "FAIL", None: "n/a"}[slo.get("passed")]  # type: ignore[index]
    measured = slo.get("measured_text") if slo.get("measured") is not None else "not measured"
    return f"SLO {verdict}: {slo.get('slo')} (measured {measured})"


def _write_reports(run_dir: Path, formats: Sequence[str]) -> None:
    from loadtest.report import write_reports

    for path in write_reports(run_dir, formats):
        click.echo(f"report: {path}")
