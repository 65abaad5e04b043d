"""Before the run: probe every traffic entry once and record the run's provenance.

Owns the preflight probe (wait for the model, saying why once a second (``readiness``), read its
config, send one request, so a scenario that does not fit the model fails at once with one clear
error instead of thousands of failed requests) and the provenance written into summary.json
(packages, host, servers, model config hashes, the command line with secrets redacted). Blocking
calls; the session runs them before any user starts. Never records latencies.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from loadtest import __version__
from loadtest.engine.model import RunConfig, TrafficEntry
from loadtest.engine.readiness import NotReadyError, Watch, error_text, wait_for_model
from loadtest.engine.server_poll import RawServer, ServerPoller, config_hash
from loadtest.exit_codes import ExitCode
from loadtest.scenario import is_sensitive_header

LOGGER = logging.getLogger("loadtest.run")
_PACKAGES = ("tritonclient", "locust", "gevent", "grpcio", "numpy", "hdrhistogram", "nvidia-pytriton")


class PreflightError(Exception):
    """A traffic entry cannot run: the model is unreachable, or the payload does not fit it."""

    def __init__(self, message: str, exit_code: int = ExitCode.RUNTIME_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def probe(entry: TrafficEntry, watch: Watch | None = None) -> Any:
    """Wait for ``entry``'s model (a line a second through ``watch``), read its config and send one
    request; returns the model config.

    Raises:
        PreflightError: the model cannot be reached or refuses the client (exit code 1), or rejects
            the payload (exit code 2).
        KeyboardInterrupt: ``watch`` saw Ctrl-C while waiting.
    """
    from pytriton_client import DecoupledModelClient, ModelClient, PyTritonClientError

    options = entry.client
    watch = watch or Watch()
    try:
        init_timeout_s = wait_for_model(options, watch)
    except NotReadyError as exc:
        raise PreflightError(f"traffic '{entry.name}': {exc}") from exc
    except PyTritonClientError as exc:
        raise PreflightError(f"traffic '{entry.name}': {error_text(exc)}") from exc
    client_class = DecoupledModelClient if entry.pattern.streams else ModelClient
    kwargs = {**options.kwargs(), "init_timeout_s": init_timeout_s}
    try:
        with client_class(options.url, options.model, options.version, lazy_init=False, **kwargs) as client:
            config = client.model_config
            try:
                result = getattr(client, entry.method)(**entry.call_kwargs())
                if entry.pattern.streams:
                    for _ in result:
                        pass
            except PyTritonClientError as exc:
                if exc.kind in ("invalid_input", "not_supported"):
                    raise PreflightError(
                        f"traffic '{entry.name}' does not fit model '{options.model}': {exc}", ExitCode.USAGE
                    ) from exc
                LOGGER.warning("traffic '%s': the probe request failed (%s); going on", entry.name, exc)
    except PyTritonClientError as exc:
        raise PreflightError(f"traffic '{entry.name}': {error_text(exc)}") from exc
    return config


def host_info() -> dict[str, Any]:
    """Host name, platform, Python, CPU count and model."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
    }


def package_versions() -> dict[str, str]:
    """Versions of tritonload and the packages that shape its measurements."""
    versions = {"tritonload": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def redacted_command(argv: Sequence[str]) -> list[str]:
    """The command line, with the value of any ``--set`` whose path names a secret replaced."""
    command = list(argv)
    for index, arg in enumerate(command):
        previous = command[index - 1] if index else ""
        setting = arg[len("--set=") :] if arg.startswith("--set=") else (arg if previous == "--set" else None)
        if setting is not None and "=" in setting:
            path, _, _ = setting.partition("=")
            if is_sensitive_header(path.rsplit(".", 1)[-1]):
                command[index] = arg[: len(arg) - len(setting)] + f"{path}=<redacted>"
    return command


def provenance(config: RunConfig, poller: ServerPoller) -> dict[str, Any]:
    """The run's metadata for summary.json; registers every reachable model with ``poller``.

    Blocking; best effort: a server that does not answer is noted, not raised.
    """
    servers: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    for entry in config.traffic:
        options = entry.client
        label = f"{options.model}@{options.url}"
        if label in models:
            continue
        raw = RawServer(options)
        try:
            if options.url not in servers:
                servers[options.url] = raw.metadata()
            model_config = raw.model_config(options.model, options.version)
            models[label] = {
                "model": options.model,
                "version": options.version or "",
                "server": options.url,
                "config_hash": config_hash(model_config),
            }
            poller.servers.append((raw, options.model))
        except Exception as exc:  # provenance is best effort; the run does not need it
            LOGGER.warning("could not read metadata of %s: %s", options.url, exc)
            models[label] = {"model": options.model, "server": options.url, "error": str(exc)}
            raw.close()
    return {
        "scenario": {"name": config.name, "hash": config.scenario_hash, "seed": config.seed},
        "load": dict(config.load_info),
        "provenance": {
            "packages": package_versions(),
            "host": host_info(),
            "servers": servers,
            "models": models,
            "command": redacted_command(sys.argv),
        },
        "server_counts": {},
    }


__all__ = ["PreflightError", "host_info", "package_versions", "probe", "provenance", "redacted_command"]
