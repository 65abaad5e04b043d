"""Start the embedded Triton a scenario asks for, for one run, with its log in the run directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtest.engine.preflight import PreflightError


def start_embedded(options: Any, run_dir: Path, say: Callable[[str], None]) -> Any:
    """Start an ``EmbeddedTriton`` with the scenario's ``embedded:`` options and return it, running.

    Raises:
        PreflightError: the server did not start (its error says why, quoting the server's log).
    """
    from loadtest.embedded import EmbeddedServerError, EmbeddedTriton, EmbeddedUnavailableError

    say("starting the embedded Triton Inference Server ...")
    server = EmbeddedTriton(
        models=options.models,
        model_parameters=options.model_parameters,
        startup_timeout_s=options.startup_timeout_s,
        log_path=run_dir / "tritonserver.log",
    )
    try:
        server.start()
    except (EmbeddedServerError, EmbeddedUnavailableError, ValueError) as exc:
        raise PreflightError(f"the embedded server did not start: {exc}") from exc
    say(f"embedded Triton ready in {server.startup_s:.1f} s: {server.http_url} {server.grpc_url}")
    return server


__all__ = ["start_embedded"]
