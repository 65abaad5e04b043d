"""What the server says about itself: metadata, model config hashes, statistics and metrics.

Owns the raw ``tritonclient`` calls the harness makes outside the measured traffic: server metadata
and model configs for provenance, and per-interval snapshots of Triton's statistics extension and
Prometheus metrics (``server-stats.jsonl``), so client and server numbers line up in time. Blocking
calls; the runner moves them off the gevent hub. Never records latencies.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtest.engine.targets import ClientOptions

TOKEN_HEADER = {"http": "triton-access-token", "grpc": "triton-grpc-protocol-triton-access-token"}
_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfINa]+)")
_KEPT_METRICS = ("nv_gpu_", "nv_energy_", "nv_cpu_", "nv_inference_", "nv_pinned_memory_")


def _host_port(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else url
    return rest.split("/", 1)[0]


@dataclass
class RawServer:
    """A raw tritonclient client for one server, with the target's TLS and token settings."""

    options: ClientOptions

    def __post_init__(self) -> None:
        self.protocol = self.options.protocol
        self._headers = {TOKEN_HEADER[self.protocol]: self.options.access_token} if self.options.access_token else None
        tls = dict(self.options.tls)
        secure = self.options.url.lower().startswith(("https://", "grpcs://"))
        timeout_s = max(self.options.inference_timeout_s, 1.0)
        if self.protocol == "grpc":
            import tritonclient.grpc as grpcclient

            def _read(key: str) -> bytes | None:
                path = tls.get(key)
                if not path:
                    return None
                with open(path, "rb") as handle:
                    return handle.read()

            self._client: Any = grpcclient.InferenceServerClient(
                _host_port(self.options.url),
                ssl=secure,
                root_certificates=_read("tls_ca_file"),
                private_key=_read("tls_key_file"),
                certificate_chain=_read("tls_cert_file"),
            )
            self._timeout_kwargs: dict[str, Any] = {"client_timeout": timeout_s}
        else:
            import tritonclient.http as httpclient

            ssl_options: dict[str, Any] = {}
            if tls.get("tls_ca_file"):
                ssl_options["ca_certs"] = str(tls["tls_ca_file"])
            if tls.get("tls_cert_file"):
                ssl_options["certfile"] = str(tls["tls_cert_file"])
            if tls.get("tls_key_file"):
                ssl_options["keyfile"] = str(tls["tls_key_file"])
            self._client = httpclient.InferenceServerClient(
                _host_port(self.options.url),
                ssl=secure,
                ssl_options=ssl_options or None,
                insecure=not tls.get("tls_verify", True),
                connection_timeout=timeout_s,
                network_timeout=timeout_s,
            )
            self._timeout_kwargs = {}

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._client, name)
        if self.protocol == "grpc":
            kwargs.setdefault("as_json", True)
        return method(*args, headers=self._headers, **kwargs, **self._timeout_kwargs)

    def metadata(self) -> dict[str, Any]:
        """Server name, version and extensions."""
        data = self._call("get_server_metadata")
        return {"name": data.get("name"), "version": data.get("version"), "extensions": data.get("extensions", [])}

    def model_config(self, model: str, version: str | None) -> dict[str, Any]:
        """The model's configuration as JSON."""
        data = self._call("get_model_config", model, version or "")
        config = data.get("config", data) if self.protocol == "grpc" else data
        return dict(config)

    def statistics(self, model: str) -> dict[str, Any]:
        """The statistics extension's counters for every version of ``model``."""
        return dict(self._call("get_inference_statistics", model))

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
