"""tritonload from Python: run a scenario, read a finished run.

Owns the library face of the harness: :func:`run_scenario` (the same semantics as ``tritonload run``,
for notebooks and pytest benchmarks), :class:`RunResult`, the typed errors it raises instead of
exiting, and :func:`load_run` for finished run directories. Never prints unless asked
(``quiet=False``) and never calls ``sys.exit``.

Usage::

    import loadtest

    result = loadtest.run_scenario("scenarios/sync.yaml", overrides={"duration_s": 3, "warmup_s": 1})
    print(result.exit_code, result.summary["overall"]["requests"], result.run_dir)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hdrh.histogram import HdrHistogram

from loadtest.engine._split import processes_for
from loadtest.engine.config import check_secrets
from loadtest.engine.distributed import DistributedOptions, run_distributed
from loadtest.engine.local import run_local
from loadtest.engine.preflight import PreflightError
from loadtest.engine.progress import Progress
from loadtest.engine.session import RunSession
from loadtest.exit_codes import ExitCode
from loadtest.plan.payloads import PayloadPool, build_pools
from loadtest.recording.recorder import TagKey
from loadtest.recording.rundir import SUMMARY_FILE, Run, load_run, make_run_id
from loadtest.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

DEFAULT_REPORTS_DIR = "reports"


class RunError(Exception):
    """A run could not start; its run directory (if any) says why. ``exit_code`` is what the CLI exits with."""

    def __init__(self, message: str, *, exit_code: int, run_dir: Path | None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.run_dir = run_dir


class ServerUnreachableError(RunError):
    """The target server (or the embedded one) could not be reached or did not start."""


class ModelMismatchError(RunError):
    """A traffic entry's payload or method does not fit its model (the preflight request was rejected)."""


@dataclass
class RunResult:
    """What a run left behind: the exit code the CLI would give, the summary and the run directory."""

    exit_code: int
    """0 ok, 1 the run failed mid-way (data kept), 3 an SLO was breached, 130 interrupted."""
    run_dir: Path
    summary: dict[str, Any]
    """The parsed ``summary.json``."""

    def histograms(self) -> dict[TagKey, HdrHistogram]:
        """Whole-run HDR histograms by ``(traffic, metric)``, read from the run's ``latency.hlog``."""
        return load_run(self.run_dir).histograms()


def _overrides(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        # --set values are YAML: dump each value so that numbers, lists and strings survive as typed.
        return [f"{path}={_yaml_value(value)}" for path, value in overrides.items()]
    return [str(item) for item in overrides]


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip()
    return text.removesuffix("...").strip()


def prepare_scenario(
    scenario: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | Sequence[str] | None = None
) -> Scenario:
    """Load and validate ``scenario`` (a file path or a mapping) with ``overrides`` (``--set`` paths).

    Raises:
        ScenarioError: every problem of the scenario, with its path.
    """
    settings = _overrides(overrides)
    if isinstance(scenario, Mapping):
        return parse_scenario(yaml.safe_dump(dict(scenario), sort_keys=False), overrides=settings)
    return load_scenario(str(scenario), settings)


def run_scenario(
    scenario: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    out: str | Path | None = None,
    quiet: bool = True,
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
    web: bool = False,
    web_port: int = 8089,
) -> RunResult:
    """Run a scenario exactly as ``tritonload run`` does and return what it left.

    Usage::

        result = run_scenario("scenarios/sync.yaml", overrides={"duration_s": 3})
        assert result.exit_code == 0

    Args:
        scenario: a scenario file, or the scenario as a mapping (relative paths resolve from the
            current directory).
        overrides: ``{"load.users": 8}`` or ``["load.users=8"]``, like ``--set``.
        out: the run directory to create (default ``<reports_dir>/<run-id>/``).
        quiet: no progress lines and no table (the default here; the CLI shows them).

    Raises:
        ScenarioError: the scenario is invalid (every problem, with its path).
        ServerUnreachableError: the server could not be reached, or the embedded one did not start.
        ModelMismatchError: a payload does not fit its model.
        FileExistsError: ``out`` already holds a run.
    """
    loaded = prepare_scenario(scenario, overrides)
    run_dir = Path(out) if out else Path(reports_dir) / make_run_id(loaded.name or "run")
    console = Progress.silent() if quiet else Progress(sys.stderr, True, sys.stdout)
    return run_loaded(loaded, build_pools(loaded), run_dir, console=console, web=web, web_port=web_port)


def run_loaded(
    scenario: Scenario,
    pools: Mapping[str, PayloadPool],
    run_dir: Path,
    *,
    console: Progress,
    web: bool = False,
    web_port: int = 8089,
    distributed: DistributedOptions | None = None,
) -> RunResult:
    """Run an already loaded scenario with its payload pools into ``run_dir`` (``tritonload run`` and
    :func:`run_scenario` both end here).

    Args:
        distributed: spread the run over worker processes or machines (default: the scenario's
            ``processes``, else this process alone).

    Raises:
        ScenarioError: an access token's environment variable is unset.
        FileExistsError: ``run_dir`` already holds a run.
        ServerUnreachableError, ModelMismatchError: as :func:`run_scenario`; the run directory is left.
    """
    check_secrets(scenario)
    if (run_dir / SUMMARY_FILE).exists():
        raise FileExistsError(f"{run_dir} already holds a run; choose another --out")
    session = RunSession(scenario, pools, run_dir, console=console)
    if distributed is None and scenario.processes is not None:
        distributed = DistributedOptions(processes=processes_for(scenario.processes))
    if distributed is not None:
        outcome = run_distributed(session, distributed, web=web, web_port=web_port)
    else:
        outcome = run_local(session, web=web, web_port=web_port)
    if isinstance(outcome.failure, PreflightError):
        error_class = ModelMismatchError if outcome.exit_code == ExitCode.USAGE else ServerUnreachableError
        raise error_class(str(outcome.failure), exit_code=outcome.exit_code, run_dir=run_dir)
    return RunResult(exit_code=outcome.exit_code, run_dir=run_dir, summary=outcome.summary)


__all__ = [
    "ModelMismatchError",
    "Run",
    "RunError",
    "RunResult",
    "ScenarioError",
    "ServerUnreachableError",
    "load_run",
    "prepare_scenario",
    "run_loaded",
    "run_scenario",
]
