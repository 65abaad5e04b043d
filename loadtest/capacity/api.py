"""``loadtest.sweep`` and ``loadtest.capacity``: the Python face of ``tritonload sweep`` / ``capacity``.

Owns preparing a sweep from what a caller gives (a scenario file or mapping, ``--set`` overrides, levels,
settings): every problem is raised at once (:class:`~loadtest.capacity.options.SweepOptionsError`, or
``ScenarioError`` for the scenario), before anything starts; then the run as ``loadtest.capacity.run``
does it. Never prints unless asked (``quiet=False``), never exits.

Usage::

    import loadtest
    result = loadtest.sweep("scenarios/capacity.yaml", concurrency=[1, 2, 4, 8], window_s=2)
    print(result.exit_code, [s["throughput_rps"] for s in result.data["steps"]])
    result = loadtest.capacity("scenarios/capacity.yaml", slos=["p99 latency < 60ms"], rate_min=50, rate_max=400)
    print(result.answer["level"], result.answer["first_fail"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtest.capacity.options import CONCURRENCY, RATE, SweepOptions, SweepOptionsError
from loadtest.capacity.run import StepProgress, SweepResult, run_sweep, session_overrides, sweep_slos
from loadtest.capacity.stability import StabilityRule
from loadtest.engine.config import check_secrets
from loadtest.engine.progress import Progress
from loadtest.recording.rundir import SUMMARY_FILE, make_run_id
from loadtest.scenario import Scenario
from loadtest.slo import SloError

DEFAULT_REPORTS_DIR = "reports"


def prepare(
    kind: str,
    scenario: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | Sequence[str] | None,
    options: SweepOptions,
    slos: Sequence[str],
) -> tuple[Scenario, Any, list[Any]]:
    """The scenario at step 0, its payload pools and the SLOs, or every problem at once.

    Raises:
        ScenarioError: the scenario (with the overrides) is invalid.
        SweepOptionsError: the options or an SLO are invalid (every problem, with its path).
    """
    from loadtest.api import _overrides, prepare_scenario
    from loadtest.plan.payloads import build_pools

    user_overrides = _overrides(overrides)
    loaded = prepare_scenario(scenario, user_overrides)
    problems = options.problems(kind)
    parsed = []
    for index, text in enumerate(slos):
        try:
            parsed.append(sweep_slos(loaded, [text])[-1])
        except SloError as exc:
            problems.append((f"{kind}.slos[{index}]", str(exc)))
    all_slos = sweep_slos(loaded, [text for text in slos if not _bad(loaded, text)])
    if kind == "capacity" and not all_slos:
        problems.append(("capacity.slos", "a capacity search needs at least one SLO (--slo or the scenario's slos)"))
    if problems:
        raise SweepOptionsError(problems)
    first = options.levels[0] if kind == "sweep" else float(options.low or 1)
    at_step0 = prepare_scenario(scenario, [*user_overrides, *session_overrides(loaded, options, first)])
    check_secrets(at_step0)
    return at_step0, build_pools(at_step0), all_slos


def _bad(scenario: Scenario, text: str) -> bool:
    try:
        sweep_slos(scenario, [text])
    except SloError:
        return True
    return False


def _run(
    kind: str,
    scenario: str | Path | Mapping[str, Any],
    options: SweepOptions,
    *,
    slos: Sequence[str],
    overrides: Mapping[str, Any] | Sequence[str] | None,
    out: str | Path | None,
    reports_dir: str | Path,
    quiet: bool,
) -> SweepResult:
    at_step0, pools, all_slos = prepare(kind, scenario, overrides, options, slos)
    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(at_step0.name or kind)
    if (run_dir / SUMMARY_FILE).exists():
        raise FileExistsError(f"{run_dir} already holds a run; choose another out")
    import sys

    console = Progress.silent() if quiet else StepProgress(sys.stderr, True, None)
    return run_sweep(kind, at_step0, pools, run_dir, options, all_slos, progress=console)


def _options(variable: str, window_s: float, windows: int, stability_pct: float, max_windows: int) -> SweepOptions:
    rule = StabilityRule(tolerance_pct=stability_pct, window_s=window_s, windows=windows, max_windows=max_windows)
    return SweepOptions(variable=variable, rule=rule)


def sweep(
    scenario: str | Path | Mapping[str, Any],
    *,
    concurrency: Sequence[float] | None = None,
    rate: Sequence[float] | None = None,
    slos: Sequence[str] = (),
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    window_s: float = 5.0,
    windows: int = 3,
    stability_pct: float = 10.0,
    max_windows: int = 10,
    warmup_s: float = 2.0,
    early_stop: bool = True,
    out: str | Path | None = None,
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
    quiet: bool = True,
) -> SweepResult:
    """Measure ``scenario`` at each concurrency (users) or open-loop rate (req/s), each step until stable.

    Returns the same data as ``sweep.json`` (``result.data``) and the CLI's exit code.

    Raises:
        ScenarioError: the scenario is invalid.
        SweepOptionsError: both or neither of ``concurrency`` / ``rate``, or bad settings (every problem).
        FileExistsError: ``out`` already holds a run.
    """
    if (concurrency is None) == (rate is None):
        raise SweepOptionsError([("sweep.levels", "give exactly one of concurrency or rate")])
    variable = CONCURRENCY if concurrency is not None else RATE
    options = _options(variable, window_s, windows, stability_pct, max_windows)
    options.levels = [float(x) for x in (concurrency if concurrency is not None else rate or [])]
    options.warmup_s, options.early_stop = warmup_s, early_stop
    return _run(
        "sweep", scenario, options, slos=slos, overrides=overrides, out=out, reports_dir=reports_dir, quiet=quiet
    )


def capacity(
    scenario: str | Path | Mapping[str, Any],
    *,
    slos: Sequence[str] = (),
    rate_min: float | None = None,
    rate_max: float | None = None,
    concurrency_min: int | None = None,
    concurrency_max: int | None = None,
    precision_pct: float = 5.0,
    target_rate: float | None = None,
    headroom_pct: float = 20.0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    window_s: float = 5.0,
    windows: int = 3,
    stability_pct: float = 10.0,
    max_windows: int = 10,
    warmup_s: float = 2.0,
    early_stop: bool = True,
    min_achieved_pct: float = 90.0,
    out: str | Path | None = None,
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
    quiet: bool = True,
) -> SweepResult:
    """Find the highest open-loop rate (or concurrency, with ``concurrency_min``) that meets every SLO.

    ``result.answer`` holds ``level`` (None when even the lowest level fails), ``last_pass``,
    ``first_fail``, ``confirmed``, ``knee`` and, with ``target_rate``, ``instances_needed``.

    Raises:
        ScenarioError: the scenario is invalid.
        SweepOptionsError: bad settings or SLOs, no SLO at all, rate and concurrency bounds mixed.
        FileExistsError: ``out`` already holds a run.
    """
    by_concurrency = concurrency_min is not None or concurrency_max is not None
    if by_concurrency and (rate_min is not None or rate_max is not None):
        raise SweepOptionsError([("capacity.variable", "give rate bounds or concurrency bounds, not both")])
    options = _options(CONCURRENCY if by_concurrency else RATE, window_s, windows, stability_pct, max_windows)
    if by_concurrency:
        options.low = float(concurrency_min if concurrency_min is not None else 1)
        options.high = None if concurrency_max is None else float(concurrency_max)
    else:
        options.low = float(rate_min if rate_min is not None else 10.0)
        options.high = rate_max
    options.precision_pct, options.target_rate, options.headroom_pct = precision_pct, target_rate, headroom_pct
    options.warmup_s, options.early_stop, options.min_achieved_pct = warmup_s, early_stop, min_achieved_pct
    return _run(
        "capacity", scenario, options, slos=slos, overrides=overrides, out=out, reports_dir=reports_dir, quiet=quiet
    )


__all__ = ["SweepOptionsError", "SweepResult", "capacity", "prepare", "sweep"]
