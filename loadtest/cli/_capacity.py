"""``tritonload sweep`` and ``tritonload capacity``: measure a scenario at many load levels.

Owns these commands' options, their checks (every problem with its path, exit 2), the console output
(a line per window and per step unless ``-q``, the text report at the end) and the exit codes:
0 answer found (sweep: every step measured), 3 even the lowest level breaks the SLOs, 1 the run
failed, 2 bad input, 130 interrupted (the steps done so far are kept). The work is in
``loadtest.capacity``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from loadtest.cli._scenario import set_option
from loadtest.exit_codes import ExitCode

F = TypeVar("F", bound=Callable[..., object])
DEFAULT_REPORTS_DIR = "reports"


def _common(function: F) -> F:
    """Options every sweep shares: stability, warm-up, SLOs, where the run goes, quiet. A step setting not
    given comes from the scenario's ``load: {kind: sweep}``, else from the default in its help."""
    options = [
        click.option(
            "--slo",
            "slos",
            multiple=True,
            metavar="SLO",
            help='An SLO for every step, e.g. "p99 latency < 60ms" (repeatable; added to the scenario\'s).',
        ),
        click.option("--window-s", type=float, help="Length of one measurement window [default: 5]."),
        click.option("--windows", type=int, help="Windows that must agree for a step to be stable [default: 3]."),
        click.option(
            "--stability-pct",
            type=float,
            help="How far (±%) each of those windows' throughput and p99 may be from their mean [default: 10].",
        ),
        click.option(
            "--max-windows",
            type=int,
            help="Windows at most per step; a step not stable by then is marked unstable "
            "[default: 10 for a sweep, 6 for a capacity search].",
        ),
        click.option("--warmup-s", type=float, help="Warm-up of every step (sent, not measured) [default: 2]."),
        click.option(
            "--early-stop/--no-early-stop",
            default=None,
            help="Cut a step (and a sweep's higher levels) short once an SLO is clearly breached "
            "(p99 over twice its bound) [default: on].",
        ),
        click.option(
            "--out", type=click.Path(file_okay=False), help="Run directory to create (default: reports/<run-id>/)."
        ),
        click.option(
            "--reports-dir",
            default=DEFAULT_REPORTS_DIR,
            show_default=True,
            type=click.Path(file_okay=False),
            help="Where run directories go when --out is not given.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress lines; only the report at the end."),
    ]
    for option in reversed(options):
        function = option(function)
    return set_option(function)


SETTINGS = ("window_s", "windows", "stability_pct", "max_windows", "warmup_s", "early_stop")


def _execute(kind: str, scenario_file: str, options: Any, kwargs: dict[str, Any]) -> None:
    from loadtest.capacity.api import prepare
    from loadtest.capacity.options import SweepOptionsError
    from loadtest.capacity.run import REPORT_FILE, console, run_sweep
    from loadtest.cli._scenario import load_or_exit
    from loadtest.recording.rundir import SUMMARY_FILE, make_run_id
    from loadtest.scenario import ScenarioError

    overrides = list(kwargs["overrides"])
    load_or_exit(scenario_file, overrides)  # the scenario's own problems first, as `run` prints them
    settings = {key: kwargs[key] for key in SETTINGS}
    try:
        scenario, pools, slos = prepare(kind, scenario_file, overrides, options, kwargs["slos"], settings)
    except SweepOptionsError as exc:
        _problems_exit(exc.problems)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.USAGE)
    out = kwargs["out"]
    run_dir = Path(out) if out else Path(kwargs["reports_dir"]) / make_run_id(scenario.name or kind)
    if (run_dir / SUMMARY_FILE).exists():
        click.echo(f"error: {run_dir} already holds a run; choose another --out", err=True)
        sys.exit(ExitCode.USAGE)
    result = run_sweep(kind, scenario, pools, run_dir, options, slos, progress=console(kwargs["quiet"]))
    click.echo("")
    click.echo((run_dir / REPORT_FILE).read_text(encoding="utf-8"), nl=False)
    click.echo(f"run directory: {run_dir}")
    if result.exit_code == ExitCode.INTERRUPTED:
        click.echo("interrupted: the steps measured so far are kept in the run directory", err=True)
    sys.exit(result.exit_code)


def _problems_exit(problems: Sequence[tuple[str, str]]) -> NoReturn:
    for path, message in problems:
        click.echo(f"error: {path}: {message}", err=True)
    sys.exit(ExitCode.USAGE)


@click.command()
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False))
@click.option("--concurrency", metavar="LEVELS", help="Users per step: 1,2,4,8 or start:stop:step.")
@click.option("--rate", metavar="LEVELS", help="Open-loop requests/s per step: 100,200 or 100:1000:100.")
@_common
def sweep(scenario_file: str, concurrency: str | None, rate: str | None, **kwargs: Any) -> None:
    """Measure SCENARIO at each load level, each step until stable; write sweep.json and the reports.

    Reports: report.txt, report.md and report.html (the latency-throughput curve). Without
    --concurrency or --rate, the scenario's `load: {kind: sweep}` gives the levels. Exit codes:
    0 every step measured, 3 the lowest level breaks an SLO, 1 the run failed, 2 bad input, 130
    interrupted (the steps done so far are kept).
    """
    from loadtest.capacity.options import CONCURRENCY, RATE, SweepOptions, parse_levels

    problems: list[tuple[str, str]] = []
    if concurrency is not None and rate is not None:
        problems.append(("sweep.levels", "give --concurrency or --rate, not both"))
    text = concurrency if concurrency is not None else rate
    levels = parse_levels(text, "sweep.levels", problems) if text is not None else []
    options = SweepOptions(variable=CONCURRENCY if rate is None else RATE, levels=levels)
    if problems:
        options.settle("sweep", {key: kwargs[key] for key in SETTINGS})
        _problems_exit(problems + [p for p in options.problems("sweep") if p[0] != "sweep.levels"])
    _execute("sweep", scenario_file, options, kwargs)


@click.command()
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False))
@click.option("--rate-min", type=float, help="Lowest open-loop rate (req/s) to try (default 10).")
@click.option("--rate-max", type=float, help="Highest rate to try (default: doubling goes on until a step fails).")
@click.option("--concurrency-min", type=int, help="Search over users instead of a rate: the lowest user count.")
@click.option("--concurrency-max", type=int, help="The highest user count to try.")
@click.option(
    "--precision-pct",
    type=float,
    default=5.0,
    show_default=True,
    help="Stop when the last passing level is within this % under the first failing one.",
)
@click.option("--target-rate", type=float, help="Also say how many instances serve this many req/s at the SLOs.")
@click.option(
    "--headroom-pct", type=float, default=20.0, show_default=True, help="Spare capacity to keep with --target-rate."
)
@click.option(
    "--min-achieved-pct",
    type=float,
    default=90.0,
    show_default=True,
    help="A step achieving less than this % of its offered rate fails (server saturated).",
)
@_common
def capacity(scenario_file: str, **kwargs: Any) -> None:
    """Find the highest open-loop rate (or user count) of SCENARIO whose stable step meets every SLO.

    Brackets by doubling from --rate-min (a bracketing step whose first window meets every SLO
    ends there), bisects to --precision-pct, confirms the answer with one more step measured to
    stability; writes capacity.json, report.txt, report.md and report.html. Exit codes: 0 answer
    found, 3 even the lowest level breaks the SLOs, 1 the run failed, 2 bad input, 130 interrupted
    (steps so far kept).
    """
    from loadtest.capacity.options import CONCURRENCY, RATE, SweepOptions

    by_users = kwargs["concurrency_min"] is not None or kwargs["concurrency_max"] is not None
    if by_users and (kwargs["rate_min"] is not None or kwargs["rate_max"] is not None):
        _problems_exit(
            [("capacity.variable", "give --rate-min/--rate-max or --concurrency-min/--concurrency-max, not both")]
        )
    low = kwargs["concurrency_min"] if by_users else kwargs["rate_min"]
    high = kwargs["concurrency_max"] if by_users else kwargs["rate_max"]
    options = SweepOptions(
        variable=CONCURRENCY if by_users else RATE,
        min_achieved_pct=kwargs["min_achieved_pct"],
        low=float(low) if low is not None else (1.0 if by_users else 10.0),
        high=None if high is None else float(high),
        precision_pct=kwargs["precision_pct"],
        target_rate=kwargs["target_rate"],
        headroom_pct=kwargs["headroom_pct"],
    )
    _execute("capacity", scenario_file, options, kwargs)


__all__ = ["capacity", "sweep"]
