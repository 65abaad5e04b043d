"""What the server says about itself: metadata, model config hashes, statistics and metrics.

Owns the raw ``tritonclient`` calls the harness makes outside the measured traffic: server metadata
and model configs for provenance, and per-interval snapshots of Triton's statistics extension and
Prometheus metrics (``server-stats.jsonl``), so client and server numbers line up in time. Blocking
calls; the runner moves them off the gevent hub. Never records latencies.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import queue
import re
import threading
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from loadtest.engine.model import ClientOptions
from pytriton_client import ServerClient

LOGGER = logging.getLogger("loadtest.run")
T = TypeVar("T")
_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfINa]+)")
_KEPT_METRICS = ("nv_gpu_", "nv_energy_", "nv_cpu_", "nv_inference_", "nv_pinned_memory_")
POLL_TIMEOUT_S = 5.0
"""Upper bound of one statistics call: a slow answer must not keep the stats thread from the next poll."""


class RawServer:
    """One server as the harness polls it: the target's URL, TLS and token through ``pytriton_client.ServerClient``
    (the model clients' own connection code). Blocking; bound to the thread that first uses it."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        tls = {key: value for key, value in options.tls.items() if key.startswith("tls_")}
        self._client = ServerClient(
            options.url,
            access_token=options.access_token,
            timeout_s=min(max(options.inference_timeout_s, 1.0), POLL_TIMEOUT_S),
            **tls,
        )

    def metadata(self) -> dict[str, Any]:
        """Server name, version and extensions."""
        data = self._client.server_metadata()
        return {"name": data.get("name"), "version": data.get("version"), "extensions": data.get("extensions", [])}

    def model_config(self, model: str, version: str | None) -> dict[str, Any]:
        """The model's configuration as JSON."""
        return self._client.model_config(model, version)

    def statistics(self, model: str) -> dict[str, Any]:
        """The statistics extension's counters for every version of ``model``."""
        return self._client.model_statistics(model)

    def close(self) -> None:
        """Close the connection."""
        self._client.close()


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable hash of a model configuration (canonical JSON, sha256)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def success_count(statistics: Mapping[str, Any]) -> int:
    """Successful inferences counted by the server over every version in a statistics reply."""
    total = 0
    for model in statistics.get("model_stats", []):
        success = model.get("inference_stats", {}).get("success", {})
        total += int(success.get("count", 0))
    return total


def parse_metrics(text: str) -> dict[str, float]:
    """The GPU, CPU, energy and inference series of a Prometheus text page, keyed by name and labels."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(_KEPT_METRICS):
            continue
        match = _METRIC_LINE.match(line)
        if match:
            name, labels, value = match.groups()
            try:
                values[name + (labels or "")] = float(value)
            except ValueError:
                continue
    return values


def fetch_metrics(metrics_url: str, timeout_s: float = 2.0) -> dict[str, float]:
    """Read and parse Triton's Prometheus metrics page."""
    with urllib.request.urlopen(metrics_url, timeout=timeout_s) as response:
        return parse_metrics(response.read().decode("utf-8", errors="replace"))


class _DaemonWorker:
    """One daemon thread running submitted calls in order. Unlike a ``ThreadPoolExecutor``, a call stuck on a
    hung server never holds up the process's exit."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        while (item := self._calls.get()) is not None:
            function, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

    def submit(self, function: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._calls.put((function, future))
        return future

    def shutdown(self) -> None:
        self._calls.put(None)


class ServerPoller:
    """Every stats client of one run, on the one thread that owns them (HTTP clients are bound to the thread
    that made them). Callers get ``concurrent.futures.Future`` objects; the session waits on them from the
    hub without blocking it."""

    def __init__(self, metrics_urls: Sequence[str] = ()) -> None:
        self._thread = _DaemonWorker("tritonload-stats")
        self.servers: list[tuple[RawServer, str]] = []
        """(client, model) pairs whose statistics are polled."""
        self.metrics_urls: list[str] = list(metrics_urls)

    def submit(self, function: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``function`` on the stats thread."""
        return self._thread.submit(function)

    def success_counts(self) -> dict[str, int]:
        """Successful inferences per ``model@url`` (blocking; run it with :meth:`submit`)."""
        counts: dict[str, int] = {}
        for raw, model in self.servers:
            try:
                counts[f"{model}@{raw.options.url}"] = success_count(raw.statistics(model))
            except Exception as exc:
                LOGGER.warning("could not read statistics of %s: %s", model, exc)
        return counts

    def snapshot(self, t_s: float) -> dict[str, Any]:
        """Statistics of every polled model and every metrics page (blocking; run it with :meth:`submit`).

        A server that fails is noted in the snapshot, never raised: a dead server must not end the run's
        interval loop."""
        snapshot: dict[str, Any] = {"t_s": round(t_s, 3)}
        models: dict[str, Any] = {}
        for raw, model in self.servers:
            try:
                models[f"{model}@{raw.options.url}"] = raw.statistics(model)
            except Exception as exc:
                models[f"{model}@{raw.options.url}"] = {"error": str(exc)}
        snapshot["models"] = models
        for url in self.metrics_urls:
            try:
                snapshot.setdefault("metrics", {})[url] = fetch_metrics(url)
            except Exception as exc:
                snapshot.setdefault("metrics_errors", {})[url] = str(exc)
        return snapshot

    @property
    def active(self) -> bool:
        """Whether there is anything to poll."""
        return bool(self.servers or self.metrics_urls)

    def close(self) -> None:
        """Close every client on its thread and let the thread go (without waiting for a hung call)."""
        servers, self.servers = self.servers, []

        def _close() -> None:
            for raw, _ in servers:
                try:
                    raw.close()
                except Exception as exc:
                    LOGGER.debug("closing a stats client failed: %s", exc)

        self._thread.submit(_close)
        self._thread.shutdown()
