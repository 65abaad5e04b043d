"""``tritonload report``: render the reports of a run directory (or run set), offline, and judge its SLOs.

Owns the command's options, which SLO results a report shows (``--slo`` given on the command line,
else those stored in ``summary.json``, else the SLOs of the run's own ``scenario.yaml`` evaluated
now) and the exit codes: 0 ok, 2 invalid usage, 3 an SLO is breached, 5 not a readable run
directory, 1 anything else (e.g. the output directory is not writable). On a run set
(``runset.json``) every run is rendered into its own directory and the set's summary (each run, the
median and the run-to-run spread) is printed and written as the set's ``report.txt``; exit 3 when any
run breaches an SLO. On a sweep or capacity run (``sweep.json`` / ``capacity.json``) the capacity
report is rendered (text, markdown or html); exit 3 when even its lowest level breaks an SLO. Never
talks to a server.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from loadtest.exit_codes import ExitCode

FORMAT_HELP = "text, json, csv, markdown, html or junit"


def split_formats(values: Sequence[str]) -> list[str]:
    """``--format`` values (repeated or comma-separated) as a list of known formats, in order.

    Raises:
        click.BadParameter: an unknown format (exit code 2).
    """
    from loadtest.report import FORMATS

    formats = [part.strip().lower() for value in values for part in value.split(",") if part.strip()]
    for fmt in formats:
        if fmt not in FORMATS:
            raise click.BadParameter(f"unknown format {fmt!r}; choose from {FORMAT_HELP}", param_hint="--format")
    return list(dict.fromkeys(formats))


def format_option_callback(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[str]:
    """Click callback for a ``--format`` option: validates before any work starts."""
    return split_formats(values)


def _fail(message: str, code: ExitCode) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def choose_slo_results(run: Any, slo_texts: Sequence[str], reevaluate: bool) -> list[dict[str, Any]]:
    """The SLO results a report of ``run`` shows (see the module docstring for the order)."""
    from loadtest.report import slo_results
    from loadtest.slo import SloError
    from loadtest.slo.verdicts import evaluate_slos, parse_slo_option, slos_of_scenario_yaml

    if slo_texts:
        try:
            slos = [parse_slo_option(text, run.traffic_names) for text in slo_texts]
        except SloError as exc:
            raise click.BadParameter(str(exc), param_hint="--slo") from None
        return evaluate_slos(slos, run.summary, run.histograms)
    stored = slo_results(run)
    if stored and not reevaluate:
        return stored
    try:
        declared = slos_of_scenario_yaml(run.scenario_yaml)
    except SloError as exc:
        click.echo(f"warning: SLOs of {run.path / 'scenario.yaml'} not evaluated: {exc}", err=True)
        return stored
    return evaluate_slos(declared, run.summary, run.histograms) if declared else stored


@click.command()
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT",
    callback=format_option_callback,
    help=f"Report format: {FORMAT_HELP} (repeat or comma-separate; default text).",
)
@click.option("--out", type=click.Path(file_okay=False), help="Write the files here instead of into RUN_DIR.")
@click.option(
    "--stdout", "to_stdout", is_flag=True, help="Print the (single) format to standard output, write no file."
)
@click.option(
    "--slo",
    "slo_texts",
    multiple=True,
    metavar="SLO",
    help="Judge this SLO instead of the run's own, e.g. 'p99 latency < 50ms' or 'ENTRY: p99 ttfr < 200ms' (repeat).",
)
@click.option("--reevaluate", is_flag=True, help="Evaluate the SLOs of the run's scenario.yaml again.")
def report(
    run_dir: str,
    formats: Sequence[str],
    out: str | None,
    to_stdout: bool,
    slo_texts: Sequence[str],
    reevaluate: bool,
) -> None:
    """Render reports of RUN_DIR (written into it as report.txt, report.html, ..., junit.xml).

    On a run set (tritonload run --repeat), every run is rendered and the set's summary is printed.
    On a sweep or capacity run (sweep.json, capacity.json), the capacity report is rendered.

    Exit codes: 0 ok, 2 invalid usage, 3 an SLO is breached (a capacity run: even its lowest level),
    5 RUN_DIR is not a readable run directory, 1 another error (e.g. the output directory is not writable).
    """
    from loadtest.recording.runset import is_runset
    from loadtest.report.capacity import is_capacity_run

    chosen = list(formats) or ["text"]
    if is_capacity_run(run_dir):
        _report_capacity(Path(run_dir), chosen, out, to_stdout, bool(slo_texts or reevaluate))
        return
    if is_runset(run_dir):
        _report_set(Path(run_dir), chosen, out, to_stdout, slo_texts, reevaluate)
        return
    if to_stdout and len(chosen) != 1:
        raise click.UsageError("--stdout prints one format; choose exactly one with --format")
    report_dir = Path.cwd() if to_stdout else Path(out or run_dir)
    rendered, breached = _render_run(Path(run_dir), chosen, slo_texts, reevaluate, report_dir)
    if to_stdout:
        click.echo(rendered[chosen[0]], nl=False)
    else:
        _write_rendered(Path(out) if out else Path(run_dir), rendered)
        if "text" in rendered:
            click.echo(rendered["text"], nl=False)
    if breached:
        sys.exit(ExitCode.SLO_BREACHED)


def _render_run(
    run_dir: Path, chosen: Sequence[str], slo_texts: Sequence[str], reevaluate: bool, report_dir: Path
) -> tuple[dict[str, str], bool]:
    """Every chosen format of one run, and whether an SLO is breached; exit 5 when it is no run."""
    from loadtest.recording.rundir import RunDirectoryError, load_run
    from loadtest.report import build_view, render_view

    try:
        run = load_run(run_dir)
        results = choose_slo_results(run, slo_texts, reevaluate)
        view = build_view(run, results, report_dir=report_dir)
        rendered = {fmt: render_view(view, fmt) for fmt in chosen}
    except RunDirectoryError as exc:
        _fail(str(exc), ExitCode.NOT_COMPARABLE)
        raise  # unreachable: _fail exits
    return rendered, any(result.get("passed") is False for result in results)


def _write_rendered(target: Path, rendered: dict[str, str]) -> None:
    from loadtest.recording.rundir import make_output_dir, write_output_text
    from loadtest.report import FILE_NAMES

    try:
        make_output_dir(target)
        for fmt, text in rendered.items():
            path = target / FILE_NAMES[fmt]
            write_output_text(path, text)
            click.echo(f"report: {path}")
    except OSError as exc:
        _fail(f"cannot write reports to {target}: {exc.strerror or exc}", ExitCode.RUNTIME_ERROR)


def _report_set(
    set_dir: Path, chosen: Sequence[str], out: str | None, to_stdout: bool, slo_texts: Sequence[str], reevaluate: bool
) -> None:
    """A run set: each run's reports into its own directory, then the set's summary (printed, report.txt)."""
    from loadtest.recording.rundir import RunDirectoryError, make_output_dir, write_output_text
    from loadtest.recording.runset import load_runset
    from loadtest.report._runset_text import render_runset_text

    try:
        runset = load_runset(set_dir)
    except RunDirectoryError as exc:
        _fail(str(exc), ExitCode.NOT_COMPARABLE)
        return
    breached = False
    for run in runset.runs:
        run_out = Path(out) / run.path.name if out else run.path
        rendered, run_breached = _render_run(
            run.path, chosen, slo_texts, reevaluate, Path.cwd() if to_stdout else run_out
        )
        breached = breached or run_breached
        if not to_stdout:
            _write_rendered(run_out, rendered)
    summary = render_runset_text(runset)
    if not to_stdout:
        target = Path(out) if out else set_dir
        try:
            make_output_dir(target)
            write_output_text(target / "report.txt", summary)
        except OSError as exc:
            _fail(f"cannot write reports to {target}: {exc.strerror or exc}", ExitCode.RUNTIME_ERROR)
        click.echo(f"report: {target / 'report.txt'}")
    click.echo(summary, nl=False)
    if breached:
        sys.exit(ExitCode.SLO_BREACHED)


def _report_capacity(run_dir: Path, chosen: Sequence[str], out: str | None, to_stdout: bool, judged: bool) -> None:
    """A sweep or capacity run: its capacity report in the chosen formats (text, markdown, html)."""
    from loadtest.recording.rundir import RunDirectoryError
    from loadtest.report.capacity import CAPACITY_FORMATS, load_capacity_view, render_capacity

    unsupported = [fmt for fmt in chosen if fmt not in CAPACITY_FORMATS]
    if unsupported:
        raise click.BadParameter(
            f"a sweep or capacity run renders as {', '.join(CAPACITY_FORMATS)}, not {unsupported[0]}",
            param_hint="--format",
        )
    if judged:
        raise click.UsageError("--slo and --reevaluate judge a single run; a sweep's SLOs are judged while it runs")
    if to_stdout and len(chosen) != 1:
        raise click.UsageError("--stdout prints one format; choose exactly one with --format")
    try:
        view = load_capacity_view(run_dir)
    except RunDirectoryError as exc:
        _fail(str(exc), ExitCode.NOT_COMPARABLE)
        return
    rendered = {fmt: render_capacity(view, fmt) for fmt in chosen}
    if to_stdout:
        click.echo(rendered[chosen[0]], nl=False)
    else:
        _write_rendered(Path(out) if out else run_dir, rendered)
        if "text" in rendered:
            click.echo(rendered["text"], nl=False)
    if view.no_level_passes:
        sys.exit(ExitCode.SLO_BREACHED)
