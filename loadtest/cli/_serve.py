"""``tritonload serve``: run the embedded Triton with the demo models until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from loadtest.exit_codes import ExitCode


def _parse_model_params(values: tuple[str, ...]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        model, dot, name = key.partition(".")
        if not sep or not dot or not model or not name:
            raise click.BadParameter(f"expected MODEL.KEY=VALUE, got {value!r}", param_hint="--model-param")
        parsed.setdefault(model, {})[name] = setting
    return parsed


@click.command()
@click.option("--http-port", type=int, default=8000, show_default=True, help="HTTP port (0 = any free port).")
@click.option("--grpc-port", type=int, default=8001, show_default=True, help="gRPC port (0 = any free port).")
@click.option("--metrics-port", type=int, default=8002, show_default=True, help="Metrics port (0 = any free).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--model", "models", multiple=True, metavar="NAME", help="Serve only these demo models (repeat).")
@click.option(
    "--model-param",
    "model_params",
    multiple=True,
    metavar="MODEL.KEY=VALUE",
    help="Set a model config parameter, e.g. Sleep.latency_ms=20 (repeat).",
)
@click.option("--startup-timeout-s", type=float, default=60.0, show_default=True)
@click.option("--log-file", type=click.Path(dir_okay=False), help="Write the server log here.")
def serve(
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    host: str,
    models: tuple[str, ...],
    model_params: tuple[str, ...],
    startup_timeout_s: float,
    log_file: str | None,
) -> None:
    """Run the embedded Triton with the demo models until Ctrl-C."""
    from loadtest.embedded import DEMO_MODELS, EmbeddedServerError, EmbeddedTriton, EmbeddedUnavailableError

    unknown = [m for m in models if m not in DEMO_MODELS]
    if unknown:
        raise click.BadParameter(f"unknown model {unknown[0]!r}; known: {', '.join(DEMO_MODELS)}", param_hint="--model")
    server = EmbeddedTriton(
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        host=host,
        models=list(models) or None,
        model_parameters=_parse_model_params(model_params),
        startup_timeout_s=startup_timeout_s,
        log_path=log_file,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except EmbeddedUnavailableError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.USAGE)
        except (EmbeddedServerError, ValueError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.RUNTIME_ERROR)
        click.echo(f"Triton Inference Server ready in {server.startup_s:.1f} s (pid {server.pid})")
        click.echo(f"  HTTP     {server.http_url}")
        click.echo(f"  gRPC     {server.grpc_url}")
        click.echo(f"  metrics  {server.metrics_url}")
        click.echo(f"  models   {', '.join(server.models)}")
        click.echo(f"  log      {server.log_path}")
        click.echo("Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            if not server.running:
                click.echo(f"error: tritonserver exited unexpectedly; see {server.log_path}", err=True)
                sys.exit(ExitCode.RUNTIME_ERROR)
        click.echo("Stopping ...")
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
