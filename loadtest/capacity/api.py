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

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtest.capacity.options import CONCURRENCY, RATE, SweepOptions, SweepOptionsError
from loadtest.capacity.run import StepProgress, SweepResult, run_sweep, session_overrides, sweep_slos
from loadtest.engine.config import check_secrets
from loadtest.engine.progress import Progress
from loadtest.recording.rundir import SUMMARY_FILE, make_run_id
from loadtest.scenario import Scenario
from loadtest.slo import SloError

DEFAULT_REPORTS_DIR = "reports"
Scenarioish = str | Path | Mapping[str, Any]
Overrides = Mapping[str, Any] | Sequence[str] | None


def prepare(
    kind: str,
    scenario: Scenarioish,
    overrides: Overrides,
    options: SweepOptions,
    slos: Sequence[str],
    settings: Mapping[str, Any] | None = None,
) -> tuple[Scenario, Any, list[Any]]:
    """The scenario at step 0, its payload pools and the SLOs, or every problem at once.

    ``settings`` are the step settings the caller gave (``window_s``, ``windows``, ``stability_pct``,
    ``max_windows``, ``warmup_s``, ``early_stop``; None = not given): they win over the scenario's
    ``load: {kind: sweep}``, which wins over the defaults (see :meth:`SweepOptions.settle`).

    Raises:
        ScenarioError: the scenario (with the overrides) is invalid.
        SweepOptionsError: the options or an SLO are invalid (every problem, with its path).
    """
    from loadtest.api import _overrides, prepare_scenario
    from loadtest.plan.payloads import build_pools

    user_overrides = _overrides(overrides)
    loaded = prepare_scenario(scenario, user_overrides)
    options.settle(kind, settings or {}, loaded.load)
    problems = options.problems(kind)
    good = []
    for index, text in enumerate(slos):
        try:
            sweep_slos(loaded, [text])
            good.append(text)
        except SloError as exc:
            problems.append((f"{kind}.slos[{index}]", str(exc)))
    all_slos = sweep_slos(loaded, good)
    if kind == "capacity" and not all_slos:
        problems.append(("capacity.slos", "a capacity search needs at least one SLO (--slo or the scenario's slos)"))
    if problems:
        raise SweepOptionsError(problems)
    first = options.levels[0] if kind == "sweep" else float(options.low or 1)
    at_step0 = prepare_scenario(scenario, [*user_overrides, *session_overrides(loaded, options, first)])
    check_secrets(at_step0)
    return at_step0, build_pools(at_step0), all_slos


def _run(
    kind: str,
    scenario: Scenarioish,
    options: SweepOptions,
    settings: Mapping[str, Any],
    *,
    slos: Sequence[str],
    overrides: Overrides,
    out: str | Path | None,
    reports_dir: str | Path,
    quiet: bool,
) -> SweepResult:
    at_step0, pools, all_slos = prepare(kind, scenario, overrides, options, slos, settings)
    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(at_step0.name or kind)
    if (run_dir / SUMMARY_FILE).exists():
        raise FileExistsError(f"{run_dir} already holds a run; choose another out")
    console = Progress.silent() if quiet else StepProgress(sys.stderr, True, None)
    return run_sweep(kind, at_step0, pools, run_dir, options, all_slos, progress=console)


def _settings(**values: Any) -> dict[str, Any]:
    return values


def sweep(
    scenario: Scenarioish,
    *,
    concurrency: Sequence[float] | None = None,
    rate: Sequence[float] | None = None,
    slos: Sequence[str] = (),
    overrides: Overrides = None,
    window_s: float | None = None,
    windows: int | None = None,
    stability_pct: float | None = None,
    max_windows: int | None = None,
    warmup_s: float | None = None,
    early_stop: bool | None = None,
    out: str | Path | None = None,
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
    quiet: bool = True,
) -> SweepResult:
    """Measure ``scenario`` at each concurrency (users) or open-loop rate (req/s), each step until stable.

    Without ``concurrency`` and ``rate``, the scenario's ``load: {kind: sweep}`` gives the levels. Step
    settings left None come from that load section, else from the defaults (5 s windows, 3 windows within
    ±10 %, at most 10, 2 s warm-up, early stop on). Returns the same data as ``sweep.json``
    (``result.data``) and the CLI's exit code.

    Raises:
        ScenarioError: the scenario is invalid.
        SweepOptionsError: both ``concurrency`` and ``rate``, no levels at all, or bad settings (every problem).
        FileExistsError: ``out`` already holds a run.
    """
    if concurrency is not None and rate is not None:
        raise SweepOptionsError([("sweep.levels", "give concurrency or rate, not both")])
    options = SweepOptions(variable=CONCURRENCY if rate is None else RATE)
    options.levels = [float(x) for x in (concurrency if concurrency is not None else rate or [])]
    settings = _settings(
        window_s=window_s,
        windows=windows,
        stability_pct=stability_pct,
        max_windows=max_windows,
        warmup_s=warmup_s,
        early_stop=early_stop,
    )
    return _run(
        "sweep",
        scenario,
        options,
        settings,
        slos=slos,
        overrides=overrides,
        out=out,
        reports_dir=reports_dir,
        quiet=quiet,
    )


def capacity(
    scenario: Scenarioish,
    *,
    slos: Sequence[str] = (),
    rate_min: float | None = None,
    rate_max: float | None = None,
    concurrency_min: int | None = None,
    concurrency_max: int | None = None,
    precision_pct: float = 5.0,
    target_rate: float | None = None,
    headroom_pct: float = 20.0,
    overrides: Overrides = None,
    window_s: float | None = None,
    windows: int | None = None,
    stability_pct: float | None = None,
    max_windows: int | None = None,
    warmup_s: float | None = None,
    early_stop: bool | None = None,
    min_achieved_pct: float = 90.0,
    out: str | Path | None = None,
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
    quiet: bool = True,
) -> SweepResult:
    """Find the highest open-loop rate (or concurrency, with ``concurrency_min``) that meets every SLO.

    ``result.answer`` holds ``level`` (None when even the lowest level fails), ``last_pass``,
    ``first_fail``, ``confirmed``, ``knee`` and, with ``target_rate``, ``instances_needed``. Step
    settings left None come as in :func:`sweep`.

    Raises:
        ScenarioError: the scenario is invalid.
        SweepOptionsError: bad settings or SLOs, no SLO at all, rate and concurrency bounds mixed.
        FileExistsError: ``out`` already holds a run.
    """
    by_concurrency = concurrency_min is not None or concurrency_max is not None
    if by_concurrency and (rate_min is not None or rate_max is not None):
        raise SweepOptionsError([("capacity.variable", "give rate bounds or concurrency bounds, not both")])
    options = SweepOptions(variable=CONCURRENCY if by_concurrency else RATE)
    if by_concurrency:
        options.low = float(concurrency_min if concurrency_min is not None else 1)
        options.high = None if concurrency_max is None else float(concurrency_max)
    else:
        options.low = float(rate_min if rate_min is not None else 10.0)
        options.high = rate_max
    options.precision_pct, options.target_rate, options.headroom_pct = precision_pct, target_rate, headroom_pct
    options.min_achieved_pct = min_achieved_pct
    settings = _settings(
        window_s=window_s,
        windows=windows,
        stability_pct=stability_pct,
        max_windows=max_windows,
        warmup_s=warmup_s,
        early_stop=early_stop,
    )
    return _run(
        "capacity", scenario, options, settings, slos=slos, overrides=overrides, out=out, reports_dir=reports_dir,
        quiet=quiet,
    )  # fmt: skip


__all__ = ["SweepOptionsError", "SweepResult", "capacity", "prepare", "sweep"]
