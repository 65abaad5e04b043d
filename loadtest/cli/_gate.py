"""``tritonload ab`` and ``tritonload calibrate``: the interleaved measurements of the regression gate.

Owns the two commands' options, output and exit codes. ``ab``: 0 no regression, 4 a regression,
5 no pair of complete chunks, 1 a run or a server failed, 2 invalid usage or scenario, 130
interrupted (the pairs finished so far are still compared and kept). ``calibrate``: 0 done, 1 a run
failed, 2 invalid usage, 130 interrupted. The orchestration is in :mod:`loadtest.gate`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from loadtest.cli._compare import build_options, finish_comparison, tolerance_options
from loadtest.cli._scenario import load_or_exit, set_option
from loadtest.exit_codes import ExitCode


def _say(quiet: bool) -> Callable[[str], None]:
    """Progress lines go to standard error (none with --quiet)."""

    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    return say


def _load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def _out_dir(out: str | None, reports_dir: str, name: str, suffix: str) -> Path:
    from loadtest.recording.rundir import make_run_id

    path = Path(out) if out else Path(reports_dir) / f"{make_run_id(name)}-{suffix}"
    if path.exists() and any(path.iterdir()):
        click.echo(f"error: {path} is not empty; choose another --out", err=True)
        sys.exit(ExitCode.USAGE)
    return path


@click.command()
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False))
@set_option
@click.option(
    "--baseline",
    "baseline_target",
    default="scenario",
    show_default=True,
    metavar="TARGET",
    help="Server of the baseline: scenario, embedded[:MODEL.KEY=VALUE,...] or URL[,URL].",
)
@click.option(
    "--candidate",
    "candidate_target",
    default="scenario",
    show_default=True,
    metavar="TARGET",
    help="Server of the candidate (same forms as --baseline).",
)
@click.option(
    "--baseline-set",
    "baseline_sets",
    multiple=True,
    metavar="PATH=VALUE",
    help="Scenario override for the baseline only (repeat).",
)
@click.option(
    "--candidate-set",
    "candidate_sets",
    multiple=True,
    metavar="PATH=VALUE",
    help="Scenario override for the candidate only (repeat).",
)
@click.option(
    "--chunks",
    type=click.IntRange(1, 500),
    default=10,
    show_default=True,
    help="Pairs of chunks (the rank test needs at least 8 at the default 99% confidence, 6 at 95%).",
)
@click.option(
    "--chunk-s", type=click.FloatRange(min=0.5), default=5.0, show_default=True, help="Measured seconds of each chunk."
)
@click.option(
    "--chunk-warmup-s", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Warm-up of each chunk."
)
@click.option("--out", type=click.Path(file_okay=False), help="Directory to create (default reports/<run-id>-ab/).")
@click.option("--reports-dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@tolerance_options(confidence=0.99)
def ab(
    scenario_file: str,
    overrides: Sequence[str],
    baseline_target: str,
    candidate_target: str,
    baseline_sets: Sequence[str],
    candidate_sets: Sequence[str],
    chunks: int,
    chunk_s: float,
    chunk_warmup_s: float,
    out: str | None,
    reports_dir: str,
    quiet: bool,
    tolerances: Sequence[str],
    min_change_us: float,
    min_change_rps: float,
    confidence: float,
    percentiles: str | None,
    calibration_file: str | None,
) -> None:
    """Interleave short chunks of SCENARIO against a baseline and a candidate; judge paired differences.

    Chunks alternate (baseline, candidate, then candidate, baseline, ...) so machine noise falls on
    both alike. Each row is judged at 99% confidence by default (an A/B judges a dozen rows at
    once). Leaves a run set per side plus comparison.md and comparison.json in the output directory.

    Exit codes: 0 no regression, 4 a regression, 5 no pair of complete chunks, 1 a run or server
    failed, 2 invalid usage or scenario, 130 interrupted.
    """
    from loadtest.gate.ab import AbError, AbPlan, AbSide, run_ab
    from loadtest.gate.targets import TargetError, parse_target
    from loadtest.recording.rundir import RunDirectoryError
    from loadtest.recording.runset import load_runset
    from loadtest.report.compare import compare_paired
    from loadtest.scenario import ScenarioError

    options = build_options(tolerances, min_change_us, min_change_rps, confidence, percentiles, calibration_file)
    sides = {}
    for name, text, sets in (
        ("baseline", baseline_target, baseline_sets),
        ("candidate", candidate_target, candidate_sets),
    ):
        try:
            sides[name] = AbSide(parse_target(text), tuple(sets))
        except TargetError as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{name}") from None
    scenario, _ = load_or_exit(scenario_file, overrides)
    out_dir = _out_dir(out, reports_dir, scenario.name or "run", "ab")
    interval_s = float(scenario.recording.interval_s)
    if abs(chunk_warmup_s / interval_s - round(chunk_warmup_s / interval_s)) > 1e-6:
        click.echo(
            f"warning: --chunk-warmup-s {chunk_warmup_s:g} is not a multiple of recording.interval_s "
            f"{interval_s:g}: measuring starts at the next interval tick, so each chunk measures less than "
            f"--chunk-s {chunk_s:g}",
            err=True,
        )
    plan = AbPlan(
        scenario_file,
        tuple(overrides),
        sides["baseline"],
        sides["candidate"],
        chunks,
        chunk_s,
        chunk_warmup_s,
        out_dir,
        progress=not quiet,
    )
    say = _say(quiet)
    say(
        f"ab: {chunks} pairs of {chunk_s:g} s chunks (+{chunk_warmup_s:g} s warm-up) into {out_dir}; "
        f"load {_load_average()}"
    )
    try:
        result = run_ab(plan, say=say)
    except AbError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # while a server starts; Ctrl-C during the chunks is handled by the loop
        click.echo(f"interrupted; what ran is in {out_dir}", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.USAGE)
    if result.exit_code not in (ExitCode.OK, ExitCode.SLO_BREACHED, ExitCode.INTERRUPTED):
        click.echo(f"error: a chunk failed (exit code {result.exit_code}); see its run.log in {out_dir}", err=True)
        sys.exit(result.exit_code)
    try:
        comparison = compare_paired(
            load_runset(result.sets["baseline"]), load_runset(result.sets["candidate"]), options
        )
    except RunDirectoryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INTERRUPTED if result.exit_code == ExitCode.INTERRUPTED else ExitCode.NOT_COMPARABLE)
    if result.exit_code == ExitCode.SLO_BREACHED:
        comparison.notes.append("SLOs were breached in some chunks (ab judges the comparison; see each chunk's report)")
    code = finish_comparison(comparison, True, str(out_dir / "comparison.md"), str(out_dir / "comparison.json"))
    click.echo(f"ab: {out_dir} (load {_load_average()})", err=True)
    sys.exit(ExitCode.INTERRUPTED if result.exit_code == ExitCode.INTERRUPTED else code)


@click.command()
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False))
@set_option
@click.option(
    "--repeat", type=click.IntRange(2, 200), default=5, show_default=True, help="Runs per side (A and B), interleaved."
)
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option(
    "--out", type=click.Path(file_okay=False), help="Directory to create (default reports/<run-id>-calibration/)."
)
@click.option("--reports-dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def calibrate(
    scenario_file: str,
    overrides: Sequence[str],
    repeat: int,
    confidence: float,
    out: str | None,
    reports_dir: str,
    quiet: bool,
) -> None:
    """Measure this machine's run-to-run noise with an A/A of SCENARIO; suggest tolerances.

    Runs the same scenario 2 x --repeat times, interleaved (A1 B1, B2 A2, ...), each a full run, and
    writes calibration.json (use it with `compare --calibration` or `ab --calibration`).

    Exit codes: 0 done, 1 a run failed, 2 invalid usage or scenario, 130 interrupted.
    """
    from loadtest.gate.calibration import CALIBRATION_FILE, measure_noise, render_calibration, write_calibration
    from loadtest.gate.runs import Side, run_interleaved
    from loadtest.recording.runset import RunSetWriter, load_runset
    from loadtest.report._runvalues import recorded_percentiles, run_values
    from loadtest.scenario import ScenarioError

    scenario, pools = load_or_exit(scenario_file, overrides)
    out_dir = _out_dir(out, reports_dir, scenario.name or "run", "calibration")
    info = {"scenario": {"name": scenario.name, "hash": scenario.scenario_hash}}
    sides = tuple(
        Side(name, scenario, pools, RunSetWriter(out_dir / name, planned=repeat, kind=f"calibration-{name}", info=info))
        for name in ("a", "b")
    )
    say = _say(quiet)
    load_before = _load_average()
    say(f"calibrate: {repeat} interleaved pairs of runs into {out_dir}; load {load_before}")
    try:
        code = run_interleaved((sides[0], sides[1]), repeat, progress=not quiet, say=say)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.USAGE)
    if code not in (ExitCode.OK, ExitCode.SLO_BREACHED):
        click.echo(f"error: calibration stopped (exit code {code}); runs so far are in {out_dir}", err=True)
        sys.exit(code)
    a_runs, b_runs = load_runset(out_dir / "a").runs, load_runset(out_dir / "b").runs
    percentiles = recorded_percentiles(a_runs[0])
    calibration = measure_noise(
        [run_values(r, percentiles) for r in a_runs],
        [run_values(r, percentiles) for r in b_runs],
        confidence=confidence,
    )
    write_calibration(
        out_dir / CALIBRATION_FILE,
        calibration,
        {"scenario": info["scenario"], "load_average": {"before": load_before, "after": _load_average()}},
    )
    click.echo(render_calibration(calibration), nl=False)
    click.echo(f"calibration: {out_dir / CALIBRATION_FILE}")
