"""``tritonload compare``: candidate runs against baseline runs, with a verdict and an exit code.

Owns the command's options (shared with ``ab``: tolerances, confidence, calibration) and exit codes:
0 no regression, 4 a regression beyond tolerance, 5 the runs are not comparable (different scenario
hash, model config or server version; ``--force`` compares anyway) or a directory is not a readable
run or run set, 2 invalid usage, 1 an output file cannot be written. The statistics are in
:mod:`loadtest.report.compare`; the Markdown table in :mod:`loadtest.report._compare_markdown`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from loadtest.exit_codes import ExitCode

if TYPE_CHECKING:
    from loadtest.report.compare import CompareOptions, Comparison

F = TypeVar("F", bound=Callable[..., object])


def _percentiles(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        values = tuple(float(part.strip().removeprefix("p")) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a list of percentiles such as 50,99,99.9", param_hint="--percentiles"
        ) from None
    if not values or any(not 0 < p <= 100 for p in values):
        raise click.BadParameter(f"{text!r}: percentiles lie in (0, 100], e.g. 50,99", param_hint="--percentiles")
    return values


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(ExitCode.RUNTIME_ERROR)


def calibration_option(function: F) -> F:
    """The ``--calibration FILE`` option: the run-to-run noise measured by ``tritonload calibrate``."""
    return click.option(
        "--calibration",
        "calibration_file",
        type=click.Path(exists=True, dir_okay=False),
        help="calibration.json from `tritonload calibrate`: its measured run-to-run noise becomes the noise floor "
        "(for too few runs, and as the least spread of the drift band). Tolerances stay --tolerance's.",
    )(function)


def build_options(
    tolerances: Sequence[str],
    min_change_us: float,
    min_change_rps: float,
    confidence: float,
    percentiles: str | None,
    calibration_file: str | None,
) -> CompareOptions:
    """Compare options from the command line; a bad value exits 2 with the option named."""
    from loadtest.gate.calibration import CalibrationError, read_calibration
    from loadtest.report.compare import CompareOptions, Tolerance, ToleranceError, parse_tolerances

    try:
        tolerance = parse_tolerances(tolerances, Tolerance(floor_us=min_change_us, floor_rps=min_change_rps))
    except ToleranceError as exc:
        raise click.BadParameter(str(exc), param_hint="--tolerance") from None
    options = CompareOptions(tolerance=tolerance, confidence=confidence, percentiles=_percentiles(percentiles))
    if calibration_file:
        try:
            calibration = read_calibration(calibration_file)
        except CalibrationError as exc:
            raise click.BadParameter(str(exc), param_hint="--calibration") from None
        noise = {**options.noise_floor, **calibration.noise_floor}
        options = replace(options, noise_floor=noise, noise_source="calibrated")
    return options


def tolerance_options(confidence: float) -> Callable[[F], F]:
    """The options that shape a verdict (tolerances, change floors, confidence, percentiles, calibration)."""
    return lambda function: _tolerance_options(function, confidence)


def _tolerance_options(function: F, confidence: float) -> F:
    for option in reversed(
        [
            click.option(
                "--tolerance",
                "tolerances",
                multiple=True,
                metavar="[STAT=]PCT",
                help="Allowed change before a regression: 5% (default) for all, or per statistic: p99.9=15%, "
                "throughput=3%, error_rate=0.5% (percentage points; default 0.1) (repeat).",
            ),
            click.option(
                "--min-change-us",
                type=click.FloatRange(min=0),
                default=100.0,
                show_default=True,
                help="Time changes smaller than this (µs) are always within tolerance.",
            ),
            click.option(
                "--min-change-rps",
                type=click.FloatRange(min=0),
                default=1.0,
                show_default=True,
                help="Throughput changes smaller than this (requests/s) are always within tolerance.",
            ),
            click.option(
                "--confidence",
                type=click.FloatRange(0.5, 0.999),
                default=confidence,
                show_default=True,
                help="Confidence level of the intervals.",
            ),
            click.option(
                "--percentiles",
                metavar="LIST",
                help="Percentiles to compare, e.g. 50,99 (default: those every run recorded).",
            ),
            calibration_option,
        ]
    ):
        function = option(function)
    return function


@click.command()
@click.argument("baseline_dir", metavar="BASELINE", type=click.Path(exists=True, file_okay=False))
@click.argument("candidate_dir", metavar="CANDIDATE", type=click.Path(exists=True, file_okay=False))
@tolerance_options(confidence=0.95)
@click.option("--force", is_flag=True, help="Compare even when the runs are not comparable.")
@click.option(
    "--paired",
    is_flag=True,
    help="Run i of each set was measured next to run i of the other (ab, calibrate): judge paired differences.",
)
@click.option(
    "--markdown", "markdown_file", type=click.Path(dir_okay=False), help="Also write the Markdown table here."
)
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write the comparison as JSON here.")
def compare(
    baseline_dir: str,
    candidate_dir: str,
    tolerances: Sequence[str],
    min_change_us: float,
    min_change_rps: float,
    confidence: float,
    percentiles: str | None,
    calibration_file: str | None,
    force: bool,
    paired: bool,
    markdown_file: str | None,
    json_file: str | None,
) -> None:
    """Compare CANDIDATE against BASELINE (run directories or run sets); print a Markdown table of the changes.

    Each statistic is judged by the spread between runs: give run sets (`tritonload run --repeat 5`)
    on both sides for a verdict a shared machine cannot fake; one run per side only flags changes
    well beyond the noise floor.

    Exit codes: 0 no regression, 4 a regression beyond tolerance, 5 the runs are not comparable
    (or a directory is not a readable run or run set), 2 invalid usage, 1 an output file cannot be written.
    """
    from loadtest.recording.rundir import RunDirectoryError
    from loadtest.recording.runset import load_runset
    from loadtest.report.compare import compare_sets

    options = build_options(tolerances, min_change_us, min_change_rps, confidence, percentiles, calibration_file)
    try:
        comparison = compare_sets(load_runset(baseline_dir), load_runset(candidate_dir), options, paired=paired)
    except RunDirectoryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.NOT_COMPARABLE)
    sys.exit(finish_comparison(comparison, force, markdown_file, json_file))


def finish_comparison(comparison: Comparison, force: bool, markdown_file: str | None, json_file: str | None) -> int:
    """Print the comparison, write the requested files and return the exit code (shared with ``ab``)."""
    from loadtest.report._compare_markdown import render_comparison

    if comparison.problems and not force:
        comparison.rows = []
    text = render_comparison(comparison)
    click.echo(text, nl=False)
    if markdown_file:
        _write(markdown_file, text)
    if json_file:
        _write(json_file, json.dumps(comparison.to_dict(), indent=2) + "\n")
    if comparison.problems and not force:
        click.echo("error: the runs are not comparable (use --force to compare anyway)", err=True)
        return ExitCode.NOT_COMPARABLE
    if not comparison.rows:
        click.echo("error: the runs have no traffic entry and metric in common", err=True)
        return ExitCode.NOT_COMPARABLE
    return ExitCode.REGRESSION if comparison.regressions else ExitCode.OK
