"""Repeated runs of one scenario into a run set, through the one call that starts a run.

Owns :func:`run_one` (the only place the gate reaches the run engine, so it can be re-pointed at a
public run API in one line) and :func:`run_repeats`, the loop behind ``tritonload run --repeat N``:
N full runs back to back (each with its warm-up, and its embedded server when the scenario asks for
one), each in its own run directory, with the set's ``runset.json`` rewritten after every run. Never
parses YAML and never judges results.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.exit_codes import ExitCode
from loadtest.recording.rundir import SUMMARY_FILE, load_run
from loadtest.recording.runset import RunSetWriter

if TYPE_CHECKING:
    from loadtest.api import RunResult
    from loadtest.engine.distributed import DistributedOptions
    from loadtest.plan.payloads import PayloadPool
    from loadtest.scenario import Scenario

EXIT_PRECEDENCE: tuple[int, ...] = (
    ExitCode.INTERRUPTED,
    ExitCode.USAGE,
    ExitCode.RUNTIME_ERROR,
    ExitCode.SLO_BREACHED,
    ExitCode.OK,
)
"""Worst first: the exit code of a run set is the first of these that any of its runs returned."""


def worst_exit_code(codes: Sequence[int]) -> int:
    """The exit code of several runs: 130 > 2 > 1 > 3 > 0 (an unknown code counts as 1)."""
    known = [code if code in EXIT_PRECEDENCE else ExitCode.RUNTIME_ERROR for code in codes]
    for code in EXIT_PRECEDENCE:
        if code in known:
            return int(code)
    return int(ExitCode.OK)


def run_one(
    scenario: Scenario,
    pools: Mapping[str, PayloadPool],
    run_dir: Path,
    *,
    progress: bool = True,
    web: bool = False,
    web_port: int = 8089,
    distributed: DistributedOptions | None = None,
) -> RunResult:
    """Run a loaded scenario once and leave its run directory in ``run_dir``; a run that could not start
    (server unreachable, payload rejected) is returned with its exit code, like any other.

    Raises:
        ScenarioError: the scenario cannot become a run (e.g. an access token's variable is unset).
    """
    from loadtest.api import RunError, RunResult, run_loaded  # the engine loads Locust: only when a run starts
    from loadtest.engine.progress import Progress

    console = Progress(sys.stderr, progress, sys.stdout)
    try:
        return run_loaded(
            scenario, pools, run_dir, console=console, web=web, web_port=web_port, distributed=distributed
        )
    except RunError as exc:
        return RunResult(exit_code=exc.exit_code, run_dir=run_dir, summary=load_run(run_dir).summary)
    finally:
        _restore_ctrl_c()


def _restore_ctrl_c() -> None:
    """Make Ctrl-C raise KeyboardInterrupt again between runs.

    A run turns SIGINT into a graceful stop through a gevent (libev) watcher; when the watcher is
    cancelled libev leaves the default action behind, which would kill the process between two runs
    without closing the run set's index.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class RepeatResult:
    """What a run set left behind."""

    path: Path
    exit_code: int
    results: list[Any] = field(default_factory=list)
    """The :class:`~loadtest.api.RunResult` of every run, in order."""


def run_repeats(
    scenario: Scenario,
    pools: Mapping[str, PayloadPool],
    set_dir: Path,
    repeats: int,
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
    after_run: Callable[[Any], None] | None = None,
    info: Mapping[str, Any] | None = None,
    distributed: DistributedOptions | None = None,
) -> RepeatResult:
    """Run the scenario ``repeats`` times back to back into the run set ``set_dir``.

    Stops early at a run that fails (exit code 1 or 2) or is interrupted (130); an SLO breach (3)
    does not stop the set. A Ctrl-C between runs ends the set as interrupted too. The set's exit
    code is :func:`worst_exit_code` of its runs.

    Raises:
        RunDirectoryError: ``set_dir`` already holds a run or a run set.
        ScenarioError: see :func:`run_one` (raised before any run starts).
    """
    writer = RunSetWriter(
        set_dir,
        planned=repeats,
        kind="repeat",
        info={"scenario": {"name": scenario.name, "hash": scenario.scenario_hash}, **dict(info or {})},
    )
    from loadtest.scenario import ScenarioError

    outcome = RepeatResult(set_dir, int(ExitCode.OK))
    status, codes = "completed", []
    run_dir = writer.run_dir(1)
    try:
        for index in range(1, repeats + 1):
            run_dir = writer.run_dir(index)
            say(f"repeat {index}/{repeats}: {run_dir}")
            result = run_one(scenario, pools, run_dir, progress=progress, distributed=distributed)
            outcome.results.append(result)
            codes.append(result.exit_code)
            writer.add(run_dir, result.exit_code, str(result.summary.get("status", "")))
            if after_run is not None:
                after_run(result)
            if result.exit_code not in (ExitCode.OK, ExitCode.SLO_BREACHED):
                status = "interrupted" if result.exit_code == ExitCode.INTERRUPTED else "failed"
                break
    except KeyboardInterrupt:
        status = "interrupted"
        codes.append(int(ExitCode.INTERRUPTED))
        if (run_dir / SUMMARY_FILE).exists() and run_dir.name not in {e["dir"] for e in writer.index["runs"]}:
            writer.add(run_dir, int(ExitCode.INTERRUPTED), "interrupted")
    except ScenarioError:
        writer.finish("failed", int(ExitCode.USAGE))
        raise
    outcome.exit_code = worst_exit_code(codes)
    writer.finish(status, outcome.exit_code)
    return outcome


@dataclass
class Side:
    """One side of an interleaved measurement (``ab``'s baseline or candidate, ``calibrate``'s A or B)."""

    name: str
    scenario: Scenario
    pools: Mapping[str, PayloadPool]
    writer: RunSetWriter


def run_interleaved(
    sides: tuple[Side, Side],
    pairs: int,
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> int:
    """Run ``pairs`` pairs of runs, one per side, alternating which side goes first (A B, B A, A B, ...).

    Machine noise then falls on both sides alike, and neither side always runs first. Stops at a run
    that fails or is interrupted, like :func:`run_repeats`; finishes both sides' ``runset.json``.
    Returns the worst exit code of the runs.

    Raises:
        ScenarioError: see :func:`run_one`.
    """
    from loadtest.scenario import ScenarioError

    codes: list[int] = []
    status = "completed"
    current: tuple[Side, Path] | None = None
    try:
        for index in range(1, pairs + 1):
            order = sides if index % 2 else (sides[1], sides[0])
            for side in order:
                run_dir = side.writer.run_dir(index)
                current = (side, run_dir)
                say(f"pair {index}/{pairs}: {side.name} -> {run_dir}")
                result = run_one(side.scenario, side.pools, run_dir, progress=progress)
                current = None
                codes.append(result.exit_code)
                side.writer.add(run_dir, result.exit_code, str(result.summary.get("status", "")))
                if result.exit_code not in (ExitCode.OK, ExitCode.SLO_BREACHED):
                    status = "interrupted" if result.exit_code == ExitCode.INTERRUPTED else "failed"
                    break
            if status != "completed":
                break
    except KeyboardInterrupt:
        status = "interrupted"
        codes.append(int(ExitCode.INTERRUPTED))
        if current is not None and (current[1] / SUMMARY_FILE).exists():
            current[0].writer.add(current[1], int(ExitCode.INTERRUPTED), "interrupted")
    except ScenarioError:
        for side in sides:
            side.writer.finish("failed", int(ExitCode.USAGE))
        raise
    exit_code = worst_exit_code(codes)
    for side in sides:
        side.writer.finish(status, exit_code)
    return exit_code
