"""``tritonload ab``: interleaved short chunks of a baseline and a candidate, judged as pairs.

Owns the orchestration: each side's scenario (the common ``--set`` overrides, the side's own, the chunk
length and warm-up, and the overrides that point its targets at its server), the embedded servers a
side needs (started once for the whole measurement, not per chunk, and stopped at the end), and the
chunk loop (:func:`loadtest.gate.runs.run_interleaved`). Leaves::

    <out>/baseline/   run set (runset.json, r01 ...) and tritonserver.log when embedded
    <out>/candidate/  run set
    <out>/comparison.md, <out>/comparison.json   (written by the command from the paired comparison)

The paired statistics are in :mod:`loadtest.report.compare`. Never parses YAML itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.exit_codes import ExitCode
from loadtest.gate.runs import Side, run_interleaved
from loadtest.gate.targets import TargetChoice, needs_server, server_parameters, target_overrides
from loadtest.recording.runset import RunSetWriter

SIDES: tuple[str, str] = ("baseline", "candidate")


class AbError(Exception):
    """``ab`` cannot start: the message says why; ``exit_code`` is 2 (usage) or 1 (a server failed)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class AbSide:
    """What one side measures."""

    target: TargetChoice
    overrides: Sequence[str] = ()
    """This side's own ``--set`` overrides (after the common ones)."""


@dataclass(frozen=True)
class AbPlan:
    """Everything one ``ab`` measurement needs."""

    scenario_file: str
    overrides: Sequence[str]
    """``--set`` overrides common to both sides."""
    baseline: AbSide
    candidate: AbSide
    chunks: int
    chunk_s: float
    warmup_s: float
    out_dir: Path
    progress: bool = True

    def side(self, name: str) -> AbSide:
        """The plan of side ``baseline`` or ``candidate``."""
        return self.baseline if name == "baseline" else self.candidate

    def chunk_overrides(self) -> list[str]:
        """Overrides that turn the scenario into one chunk."""
        return [f"duration_s={self.chunk_s:g}", f"warmup_s={self.warmup_s:g}"]


@dataclass
class AbResult:
    """The two run sets and the worst exit code of their runs."""

    exit_code: int
    sets: dict[str, Path] = field(default_factory=dict)


def _load(path: str, overrides: Sequence[str]) -> tuple[Any, Any]:
    from loadtest.plan.payloads import build_pools
    from loadtest.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(path, list(overrides))
        return scenario, build_pools(scenario)
    except ScenarioError as exc:
        raise AbError(str(exc), ExitCode.USAGE) from None


@contextmanager
def _server(choice: TargetChoice, scenario: Any, log_path: Path, say: Callable[[str], None]) -> Iterator[Any]:
    """This side's embedded server (None when it needs none), stopped on the way out."""
    if not needs_server(choice, scenario):
        yield None
        return
    from loadtest.embedded import EmbeddedServerError, EmbeddedTriton, EmbeddedUnavailableError

    settings = scenario.embedded
    server = EmbeddedTriton(
        models=settings.models if settings else None,
        model_parameters=server_parameters(choice, scenario),
        startup_timeout_s=settings.startup_timeout_s if settings else 60.0,
        log_path=log_path,
    )
    try:
        server.start()
    except (EmbeddedServerError, EmbeddedUnavailableError, ValueError) as exc:
        raise AbError(
            f"the embedded server of {log_path.parent.name} did not start: {exc}", ExitCode.RUNTIME_ERROR
        ) from None
    say(
        f"{log_path.parent.name}: embedded Triton ready in {server.startup_s:.1f} s: "
        f"{server.http_url} {server.grpc_url}"
    )
    try:
        yield server
    finally:
        server.stop(grace_s=0)  # its runs are over and written: no need to wait for Triton's own shutdown


def run_ab(plan: AbPlan, say: Callable[[str], None] = print) -> AbResult:
    """Start the servers, run the interleaved chunks, stop the servers; return the two run sets.

    Raises:
        AbError: a side's scenario is invalid (exit code 2) or its server did not start (1).
    """
    from loadtest.gate.targets import TargetError

    base_overrides = {name: [*plan.overrides, *plan.side(name).overrides, *plan.chunk_overrides()] for name in SIDES}
    first = {name: _load(plan.scenario_file, base_overrides[name])[0] for name in SIDES}
    for name in SIDES:
        if (plan.out_dir / name).exists():
            raise AbError(f"{plan.out_dir / name} exists; choose another --out", ExitCode.USAGE)
    with ExitStack() as stack:
        sides = []
        for name in SIDES:
            choice = plan.side(name).target
            (plan.out_dir / name).mkdir(parents=True)
            server = stack.enter_context(_server(choice, first[name], plan.out_dir / name / "tritonserver.log", say))
            urls = {"http": server.http_url, "grpc": server.grpc_url} if server is not None else None
            try:
                pointing = target_overrides(first[name], choice, urls)
            except TargetError as exc:
                raise AbError(f"--{name}: {exc}", ExitCode.USAGE) from None
            scenario, pools = _load(plan.scenario_file, [*base_overrides[name], *pointing])
            writer = RunSetWriter(
                plan.out_dir / name,
                planned=plan.chunks,
                kind=f"ab-{name}",
                info={
                    "scenario": {"name": scenario.name, "hash": scenario.scenario_hash},
                    "target": choice.text,
                    "overrides": list(plan.side(name).overrides),
                    "chunk_s": plan.chunk_s,
                    "warmup_s": plan.warmup_s,
                },
            )
            sides.append(Side(name, scenario, pools, writer))
        exit_code = run_interleaved((sides[0], sides[1]), plan.chunks, progress=plan.progress, say=say)
    return AbResult(exit_code, {name: plan.out_dir / name for name in SIDES})
