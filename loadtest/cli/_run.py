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
    from loadtest.engine.config import build_run_config
    from loadtest.engine.session import execute
    from loadtest.recording.rundir import make_run_id
    from loadtest.report import slo_console_line
    from loadtest.scenario import ScenarioError

    try:
        config = build_run_config(scenario, pools)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.USAGE)
    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(config.name)
    if (run_dir / "summary.json").exists():
        click.echo(f"error: {run_dir} already holds a run; choose another --out", err=True)
        sys.exit(ExitCode.USAGE)
    result = execute(config, run_dir, progress=not quiet, web=web, web_port=web_port)
    _write_reports(run_dir, formats)
    for slo in result.summary.get("slos", []):
        click.echo(slo_console_line(slo))
    click.echo(f"run directory: {run_dir}")
    sys.exit(result.exit_code)


def _write_reports(run_dir: Path, formats: Sequence[str]) -> None:
    from loadtest.report import write_reports

    for path in write_reports(run_dir, formats):
        click.echo(f"report: {path}")
