"""``tritonload compare``: a candidate run against a baseline run, with a verdict and an exit code.

Owns the command's options and exit codes: 0 no regression, 4 a regression beyond tolerance,
5 the runs are not comparable (different scenario hash, model config or server version; ``--force``
compares anyway) or a directory is not a readable run, 2 invalid usage. The statistics are in
:mod:`loadtest.report.compare`; the Markdown table in :mod:`loadtest.report._compare_markdown`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from loadtest.exit_codes import ExitCode


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


@click.command()
@click.argument("baseline_dir", metavar="BASELINE_DIR", type=click.Path(exists=True, file_okay=False))
@click.argument("candidate_dir", metavar="CANDIDATE_DIR", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="[STAT=]PCT",
    help="Allowed change before a regression: 5% (default) for all, or per statistic: p99.9=15%, "
    "throughput=3% (repeat).",
)
@click.option(
    "--min-change-us",
    type=click.FloatRange(min=0),
    default=100.0,
    show_default=True,
    help="Time changes smaller than this (µs) are always within tolerance.",
)
@click.option(
    "--min-change-rps",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Throughput changes smaller than this (requests/s) are always within tolerance.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option(
    "--resamples",
    type=click.IntRange(100, 100_000),
    default=1000,
    show_default=True,
    help="Bootstrap resamples per metric.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap (results are repeatable).")
@click.option(
    "--percentiles", metavar="LIST", help="Percentiles to compare, e.g. 50,99 (default: those both runs recorded)."
)
@click.option("--force", is_flag=True, help="Compare even when the runs are not comparable.")
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
    resamples: int,
    seed: int,
    percentiles: str | None,
    force: bool,
    markdown_file: str | None,
    json_file: str | None,
) -> None:
    """Compare CANDIDATE_DIR against BASELINE_DIR; print a Markdown table of the changes.

    Exit codes: 0 no regression, 4 a regression beyond tolerance, 5 the runs are not comparable
    (or a directory is not a readable run), 2 invalid usage.
    """
    from loadtest.recording.rundir import RunDirectoryError, load_run
    from loadtest.report._compare_markdown import render_comparison
    from loadtest.report.compare import (
        CompareOptions,
        Comparison,
        Tolerance,
        ToleranceError,
        comparability_problems,
        compare_runs,
        parse_tolerances,
    )

    try:
        tolerance = parse_tolerances(tolerances, Tolerance(floor_us=min_change_us, floor_rps=min_change_rps))
    except ToleranceError as exc:
        raise click.BadParameter(str(exc), param_hint="--tolerance") from None
    options = CompareOptions(
        tolerance=tolerance,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        percentiles=_percentiles(percentiles),
    )
    try:
        baseline, candidate = load_run(baseline_dir), load_run(candidate_dir)
        problems = comparability_problems(baseline.summary, candidate.summary)
        if problems and not force:
            comparison = Comparison(baseline.summary, candidate.summary, options, [], problems, [])
        else:
            comparison = compare_runs(baseline, candidate, options)
    except RunDirectoryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.NOT_COMPARABLE)
    text = render_comparison(comparison)
    click.echo(text, nl=False)
    if markdown_file:
        _write(markdown_file, text)
    if json_file:
        _write(json_file, json.dumps(comparison.to_dict(), indent=2) + "\n")
    if comparison.problems and not force:
        click.echo("error: the runs are not comparable (use --force to compare anyway)", err=True)
        sys.exit(ExitCode.NOT_COMPARABLE)
    if not comparison.rows:
        click.echo("error: the runs have no traffic entry and metric in common", err=True)
        sys.exit(ExitCode.NOT_COMPARABLE)
    sys.exit(ExitCode.REGRESSION if comparison.regressions else ExitCode.OK)
