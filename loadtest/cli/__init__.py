"""The ``tritonload`` command line: a thin click group; each command lives in its own module.

Owns the command names and their registration. Commands parse arguments, call the module that does
the work and turn outcomes into the exit codes of ``loadtest.exit_codes``.
"""

from __future__ import annotations

import click

from loadtest import __version__
from loadtest.cli import _capacity as _cli_capacity
from loadtest.cli import _compare as _cli_compare
from loadtest.cli import _gate as _cli_gate
from loadtest.cli import _report as _cli_report
from loadtest.cli import _run as _cli_run
from loadtest.cli import _scenario as _cli_scenario
from loadtest.cli import _serve as _cli_serve
from loadtest.cli import _worker as _cli_worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tritonload")
def main() -> None:
    """Load-test and benchmark NVIDIA Triton Inference Server."""


main.add_command(_cli_run.run)
main.add_command(_cli_serve.serve)
main.add_command(_cli_worker.worker)
main.add_command(_cli_scenario.validate)
main.add_command(_cli_scenario.plan)
main.add_command(_cli_scenario.init)
main.add_command(_cli_scenario.schema)
main.add_command(_cli_report.report)
main.add_command(_cli_compare.compare)
main.add_command(_cli_gate.ab)
main.add_command(_cli_gate.calibrate)
main.add_command(_cli_capacity.sweep)
main.add_command(_cli_capacity.capacity)
