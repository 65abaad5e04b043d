"""CLI commands about scenarios: ``validate``, ``plan``, ``init`` and ``schema``.

Owns what these commands print and their exit codes; the work is in ``loadtest.scenario``,
``loadtest.plan.payloads`` and ``loadtest.plan``. Sends no traffic and starts no server. Invalid input
prints every problem and exits with code 2, never a traceback. ``set_option`` and
:func:`load_or_exit` are shared with ``tritonload run``.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from loadtest.exit_codes import ExitCode

if TYPE_CHECKING:
    from loadtest.plan.payloads import PayloadPool
    from loadtest.scenario import Scenario

F = TypeVar("F", bound=Callable[..., object])
STARTER = "starter.yaml"
DEFAULT_INIT_PATH = "scenario.yaml"
STARTER_COMMAND_PREFIX = "#   tritonload "
"""The starter's example command lines, which name the file ``init`` writes."""


def set_option(function: F) -> F:
    """The ``--set PATH=VALUE`` option (repeatable), passed to the command as ``overrides``."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="PATH=VALUE",
        help="Override a scenario value before validation, e.g. --set load.users=4 --set traffic[0].weight=2.",
    )(function)


def _checked(path: str, overrides: Sequence[str]) -> tuple[Scenario, dict[str, PayloadPool]]:
    """Load, validate and resolve a scenario and generate its payloads.

    A file that cannot be read as a scenario mapping (hostile, broken, not YAML) is refused by the
    light first stage, before the scenario model, pydantic and numpy are imported.

    Raises:
        ScenarioError: every problem found.
    """
    from loadtest.scenario._source import precheck_file

    precheck_file(path, overrides)
    from loadtest.plan.payloads import build_pools
    from loadtest.scenario import load_scenario

    scenario = load_scenario(path, overrides)
    return scenario, build_pools(scenario)


def load_or_exit(path: str, overrides: Sequence[str]) -> tuple[Scenario, dict[str, PayloadPool]]:
    """Load, validate and resolve a scenario and generate its payloads; on problems print them and exit 2."""
    from loadtest.scenario._problems import ScenarioError

    try:
        return _checked(path, overrides)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(ExitCode.USAGE)


def summary(scenario: Scenario) -> str:
    """One line describing a scenario: traffic, patterns, load, time, SLOs."""
    from loadtest.plan import make_plan

    plan = make_plan(scenario)
    patterns = ", ".join(dict.fromkeys(t.pattern for t in scenario.traffic))
    load = scenario.load
    if plan.kind == "closed":
        shape = f"closed loop, {load.users} users"
    elif plan.kind == "open":
        shape = f"open loop, {load.rate:g} requests/s ({load.arrival})"
    elif plan.kind == "sweep":
        shape = f"sweep over {load.variable} ({', '.join(f'{x:g}' for x in load.levels or [])})"
    else:
        shape = f"{len(load.stages or [])} stages ({'open' if plan.open_loop else 'closed'} loop)"
    count = len(scenario.traffic)
    slos = len(scenario.all_slos())
    return (
        f"{scenario.name}: {count} traffic entr{'y' if count == 1 else 'ies'} ({patterns}), {shape}, "
        f"{plan.warmup_s:g} s warm-up + {plan.duration_s:g} s, {slos} SLO{'' if slos == 1 else 's'}"
    )


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@set_option
def validate(files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario files: print "ok" or every problem (exit code 2 on problems). Sends no traffic."""
    from loadtest.scenario._problems import ScenarioError

    failed = False
    for file in files:
        try:
            scenario, _ = _checked(file, overrides)
        except ScenarioError as exc:
            failed = True
            click.echo(str(exc), err=True)
            continue
        click.echo(f"ok: {file}: {summary(scenario)}")
    if failed:
        sys.exit(ExitCode.USAGE)


@click.command()
@click.argument("file", metavar="FILE")
@set_option
@click.option(
    "--show-scenario/--no-scenario",
    "show_scenario",
    default=False,
    help="Also print the resolved scenario (YAML, every default filled in) after the plan.",
)
def plan(file: str, overrides: tuple[str, ...], show_scenario: bool) -> None:
    """Print the plan of a scenario: users, schedule, expected requests. Sends no traffic."""
    from loadtest.plan import make_plan

    scenario, _ = load_or_exit(file, overrides)
    click.echo(make_plan(scenario).render(os.environ), nl=False)
    if show_scenario:
        click.echo(f"\n# resolved scenario (sha256 {scenario.scenario_hash})")
        click.echo(scenario.to_yaml(), nl=False)


@click.command()
@click.argument("path", default=DEFAULT_INIT_PATH, metavar="[PATH]")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(path: str, force: bool) -> None:
    """Write a commented starter scenario to PATH (default scenario.yaml)."""
    target = Path(path)
    if target.exists() and not force:
        click.echo(f"error: {path} exists; choose another path or pass --force to overwrite it", err=True)
        sys.exit(ExitCode.USAGE)
    text = starter_text(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(ExitCode.USAGE)
    click.echo(f"wrote {path}; check it with: tritonload validate {shlex.quote(path)}")


def starter_text(path: str) -> str:
    """The starter scenario, its example commands naming ``path`` (as a shell would need it)."""
    text = resources.files("loadtest.scenario").joinpath(STARTER).read_text(encoding="utf-8")
    shown = shlex.quote(path)
    lines = text.splitlines(keepends=True)
    return "".join(
        line.replace(DEFAULT_INIT_PATH, shown) if line.startswith(STARTER_COMMAND_PREFIX) else line for line in lines
    )


@click.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors; also docs/scenario.schema.json)."""
    from loadtest.scenario import json_schema_text

    click.echo(json_schema_text(), nl=False)
