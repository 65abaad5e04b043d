"""``tritonload run``: run a scenario and leave a run directory (and its reports) behind.

With ``--repeat N`` the scenario runs N times back to back into a run set (see
:mod:`loadtest.gate.runs`); the set's exit code is the worst of its runs (130 > 2 > 1 > 3 > 0).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from loadtest.cli._fleet_options import distributed_options, fleet_options
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
@click.option(
    "--repeat",
    type=click.IntRange(1, 999),
    help="Run N times back to back into a run set (reports/<run-id>/r01 ... rNN + runset.json), "
    "for comparisons that see the noise between runs.",
)
@fleet_options
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
    repeat: int | None,
    processes: str | None,
    as_master: bool,
    expect_workers: int,
    master_bind_host: str,
    master_bind_port: int,
    min_workers: int,
    workers_timeout_s: float,
    web: bool,
    web_port: int,
    quiet: bool,
    formats: Sequence[str],
) -> None:
    """Run SCENARIO and write its results to a run directory (or, with --repeat, a run set).

    Exit codes: 0 ok, 1 run failed (server unreachable or died), 2 invalid scenario, 3 an SLO was
    breached, 130 interrupted (what was measured is kept). With --repeat: the worst of the runs.
    With --processes or --master, a lost worker is reported and the run goes on; fewer than
    --min-workers left, or a worker that never came, ends it with exit 1.
    """
    fleet = distributed_options(
        processes=processes,
        as_master=as_master,
        expect_workers=expect_workers,
        master_bind_host=master_bind_host,
        master_bind_port=master_bind_port,
        min_workers=min_workers,
        workers_timeout_s=workers_timeout_s,
    )
    scenario, pools = load_or_exit(scenario_file, overrides)
    if scenario.load.kind == "sweep":
        click.echo(
            f"error: {scenario_file}: load.kind is sweep: run it with tritonload sweep {scenario_file}", err=True
        )
        sys.exit(ExitCode.USAGE)
    from loadtest.gate.runs import run_one, run_repeats
    from loadtest.recording.rundir import RunDirectoryError, make_run_id
    from loadtest.recording.runset import RUNSET_FILE
    from loadtest.report import slo_console_line
    from loadtest.scenario import ScenarioError

    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(scenario.name or "run")
    if (run_dir / "summary.json").exists() or (run_dir / RUNSET_FILE).exists():
        click.echo(f"error: {run_dir} already holds a run; choose another --out", err=True)
        sys.exit(ExitCode.USAGE)
    try:
        if repeat is not None:
            if web:
                raise click.UsageError("--web serves the UI of one run; leave it out with --repeat")
            outcome = run_repeats(
                scenario,
                pools,
                run_dir,
                repeat,
                progress=not quiet,
                say=lambda text: click.echo(text, err=True),
                after_run=lambda result: _write_reports(result.run_dir, formats),
                info={"command": "run"},
                distributed=fleet,
            )
            _print_set(run_dir)
            sys.exit(outcome.exit_code)
        result = run_one(scenario, pools, run_dir, progress=not quiet, web=web, web_port=web_port, distributed=fleet)
    except (ScenarioError, RunDirectoryError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.USAGE)
    exit_code = result.exit_code
    try:
        _write_reports(run_dir, formats)
    except (OSError, RunDirectoryError) as exc:  # e.g. the disk filled up during the run
        click.echo(f"error: cannot write reports to {run_dir}: {getattr(exc, 'strerror', None) or exc}", err=True)
        exit_code = exit_code or ExitCode.RUNTIME_ERROR
    for slo in result.summary.get("slos", []):
        click.echo(slo_console_line(slo))
    click.echo(f"run directory: {run_dir}")
    if exit_code == ExitCode.INTERRUPTED:
        click.echo("run interrupted: the run directory holds what was measured until then; SLOs not judged", err=True)
    if result.summary.get("unfinished") and _is_the_cli_process():
        _exit_leaving_abandoned_requests(exit_code)
    sys.exit(exit_code)


def _is_the_cli_process() -> bool:
    """True in ``tritonload`` / ``python -m loadtest``; False when a host program (a test) invoked the CLI."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return (spec is not None and spec.name == "loadtest.__main__") or Path(sys.argv[0]).name == "tritonload"


def _exit_leaving_abandoned_requests(exit_code: int) -> NoReturn:
    """End the process now, everything written, without the interpreter's teardown.

    Requests still unanswered after the grace (a hung server) were abandoned with their half-read
    connections. In the hung-server test the process then died of SIGSEGV (in C code, no Python frame)
    in 2 of about 15 runs, each time after the run directory and the reports were complete: so at or
    near the interpreter's teardown. The run's files are closed by now; flush what is buffered and leave.
    Only in the ``tritonload`` process itself, never when the CLI is invoked inside another program.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(exit_code))


def _print_set(set_dir: Path) -> None:
    from loadtest.recording.runset import load_runset
    from loadtest.report._runset_text import render_runset_text

    text = render_runset_text(load_runset(set_dir))
    (set_dir / "report.txt").write_text(text, encoding="utf-8")
    click.echo("")
    click.echo(text, nl=False)
    click.echo(f"run set: {set_dir}")


def _write_reports(run_dir: Path, formats: Sequence[str]) -> None:
    from loadtest.report import write_reports

    for path in write_reports(run_dir, formats):
        click.echo(f"report: {path}")
