"""``tritonload worker``: serve one distributed run as a generator process of a master elsewhere.

Exit codes: 0 the run ended normally, 1 the run was refused (another tritonload version, another
scenario hash, a missing payload file or access token) or no master answered, 2 bad usage.
"""

from __future__ import annotations

import sys

import click


@click.command()
@click.option(
    "--master",
    "master",
    required=True,
    metavar="HOST[:PORT]",
    help="The master to serve (`tritonload run SCENARIO --master`); the port defaults to 5557.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def worker(master: str, quiet: bool) -> None:
    """Generate load for the master at HOST[:PORT]: it sends the scenario, this process sends requests.

    The worker serves one run and exits. Access tokens are read from this machine's environment (the
    scenario names their variables); payload files must exist at the same paths as on the master.
    """
    from loadtest.engine._wire import parse_master

    try:
        parse_master(master)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--master") from None
    from loadtest.engine.worker import run_worker

    sys.exit(run_worker(master, quiet=quiet))


__all__ = ["worker"]
