"""The options of ``tritonload run`` that spread a run over worker processes or machines.

Owns their declaration and their checks (exit 2 with the option's name), and turns them into
``DistributedOptions``. Never starts anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from loadtest.engine.distributed import DistributedOptions

_OPTIONS = [
    click.option(
        "--processes",
        metavar="N|auto",
        help="Run N generator processes on this machine under one coordinator (Locust's distributed runner); "
        "'auto': one per usable core. Overrides the scenario's `processes`.",
    ),
    click.option(
        "--master",
        "as_master",
        is_flag=True,
        help="Coordinate workers on other machines (`tritonload worker --master HOST:PORT`) instead of "
        "generating load here.",
    ),
    click.option(
        "--expect-workers",
        type=click.IntRange(1),
        default=1,
        show_default=True,
        help="With --master: workers to wait for before the run starts.",
    ),
    click.option("--master-bind-host", default="*", show_default=True, help="With --master: interface to listen on."),
    click.option(
        "--master-bind-port", type=click.IntRange(1, 65535), default=5557, show_default=True, help="With --master."
    ),
    click.option(
        "--min-workers",
        type=click.IntRange(1),
        default=1,
        show_default=True,
        help="The run fails (exit 1, partial results kept) when fewer workers than this remain.",
    ),
    click.option(
        "--workers-timeout-s",
        type=click.FloatRange(0, min_open=True),
        default=60.0,
        show_default=True,
        help="How long the start waits for every expected worker (exit 1 when one never comes).",
    ),
]


def fleet_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the distributed-run options to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def distributed_options(
    *,
    processes: str | None,
    as_master: bool,
    expect_workers: int,
    master_bind_host: str,
    master_bind_port: int,
    min_workers: int,
    workers_timeout_s: float,
) -> DistributedOptions | None:
    """The options as given on the command line; None for a plain one-process run (or the scenario's
    ``processes``, which the run reads itself).

    Raises:
        click.UsageError: contradictory options (exit 2).
    """
    from loadtest.engine._split import processes_for
    from loadtest.engine.distributed import DistributedOptions

    if processes is not None and as_master:
        raise click.UsageError("--processes and --master exclude each other (a master runs no users itself)")
    count = 0
    if processes is not None:
        try:
            count = processes_for(processes)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--processes") from None
    if not count and not as_master:
        return None
    expected = count or expect_workers
    if min_workers > expected:
        message = f"{min_workers} is more than the {expected} workers the run starts with"
        raise click.BadParameter(message, param_hint="--min-workers")
    return DistributedOptions(
        processes=count,
        expect_workers=expected,
        bind_host=master_bind_host,
        bind_port=master_bind_port,
        min_workers=min_workers,
        workers_timeout_s=workers_timeout_s,
    )


__all__ = ["distributed_options", "fleet_options"]
