"""Server-side statistics of a run: Triton's own counts and times per model, from ``server-stats.jsonl``.

Owns reading Triton's statistics extension snapshots into one row per model, and the meaning of its
counters, which reports must not confuse:

- ``requests``: requests the model completed successfully (``inference_stats.success.count``); the
  queue and compute times are averages per request;
- ``failed``: requests that failed (``inference_stats.fail.count``);
- ``inferences``: batch rows inferred (``inference_count``; a request of 8 rows counts 8);
- ``executions``: model executions (``execution_count``; dynamic batching runs several requests in one).

Triton counts per model, not per URL: the engine polls each (model, URL) a run used and labels the
snapshot ``model@url``, so one model reached over HTTP and gRPC appears twice with the same numbers.
Labels of one model and version on one host are one row here (old runs render right too). Pure:
takes the snapshots already read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SERVER_PHASES: tuple[str, ...] = ("queue", "compute_input", "compute_infer", "compute_output")
"""Triton statistics phases averaged per request (in µs) for the server-side columns."""


@dataclass(frozen=True)
class ServerTimes:
    """One model's server-side counts and average times per request between the first and last snapshot."""

    label: str
    """The ``model@url`` label whose snapshots are shown (the first of ``labels``)."""
    model: str
    requests: int
    """Requests completed successfully (Triton's ``success.count``)."""
    executions: int
    """Model executions (Triton's ``execution_count``)."""
    phase_us: dict[str, float | None]
    """Average µs per request in each of :data:`SERVER_PHASES` (None: no request in the window)."""
    inferences: int = 0
    """Batch rows inferred (Triton's ``inference_count``)."""
    failed: int = 0
    """Requests that failed (Triton's ``fail.count``)."""
    version: str = ""
    labels: tuple[str, ...] = ()
    """Every ``model@url`` label of this model on this server (HTTP and gRPC ports of one host)."""

    @property
    def average_batch(self) -> float | None:
        """Batch rows per model execution (dynamic batching shows as > 1)."""
        return self.inferences / self.executions if self.executions else None


def _number(value: Any) -> int:
    """Triton's gRPC statistics carry 64-bit counters as strings; HTTP as numbers."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def model_totals(model: Mapping[str, Any]) -> dict[str, Any] | None:
    """Counts of one statistics reply's first model: name, version, ``phases`` (phase -> (count, ns)),
    ``requests``, ``failed``, ``inferences``, ``executions``; None when the reply has no model."""
    stats = (model.get("model_stats") or [None])[0]
    if not isinstance(stats, Mapping):
        return None
    inference = stats.get("inference_stats") or {}
    return {
        "name": str(stats.get("name", "")),
        "version": str(stats.get("version", "")),
        "phases": {
            phase: (_number(inference.get(phase, {}).get("count")), _number(inference.get(phase, {}).get("ns")))
            for phase in SERVER_PHASES
        },
        "requests": _number(inference.get("success", {}).get("count")),
        "failed": _number(inference.get("fail", {}).get("count")),
        "inferences": _number(stats.get("inference_count")),
        "executions": _number(stats.get("execution_count")),
    }


def _host(label: str) -> str:
    url = label.split("@", 1)[1] if "@" in label else ""
    try:
        return urlsplit(url if "://" in url else f"//{url}").hostname or url
    except ValueError:
        return url


def server_times(snapshots: Sequence[Mapping[str, Any]]) -> dict[str, ServerTimes]:
    """Per ``model@url`` label: the model's row; labels of one model on one host share one row."""
    firsts: dict[str, dict[str, Any]] = {}
    lasts: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        for label, model in (snapshot.get("models") or {}).items():
            totals = model_totals(model) if isinstance(model, Mapping) else None
            if totals is not None:
                firsts.setdefault(label, totals)
                lasts[label] = totals
    groups: dict[tuple[str, str, str], list[str]] = {}
    for label, last in lasts.items():
        groups.setdefault((last["name"], last["version"], _host(label)), []).append(label)
    result: dict[str, ServerTimes] = {}
    for labels in groups.values():
        shown = labels[0]
        first, last = firsts[shown], lasts[shown]
        phase_us: dict[str, float | None] = {}
        for phase in SERVER_PHASES:
            count = last["phases"][phase][0] - first["phases"][phase][0]
            spent_ns = last["phases"][phase][1] - first["phases"][phase][1]
            phase_us[phase] = spent_ns / count / 1000.0 if count > 0 else None
        times = ServerTimes(
            label=shown,
            model=last["name"],
            version=last["version"],
            requests=last["requests"] - first["requests"],
            failed=last["failed"] - first["failed"],
            inferences=last["inferences"] - first["inferences"],
            executions=last["executions"] - first["executions"],
            phase_us=phase_us,
            labels=tuple(labels),
        )
        result.update(dict.fromkeys(labels, times))
    return result


def distinct(servers: Mapping[str, ServerTimes]) -> list[ServerTimes]:
    """One :class:`ServerTimes` per model (the values of :func:`server_times` without repeats)."""
    return list({id(times): times for times in servers.values()}.values())


def server_for(
    block: Mapping[str, Any], servers: Mapping[str, ServerTimes], models: Mapping[str, Any]
) -> ServerTimes | None:
    """The statistics of the model a traffic entry sent to, when the run says which one it is."""
    label = block.get("model_label")
    if isinstance(label, str):
        return servers.get(label)
    model = block.get("model")
    url = block.get("server", block.get("url"))
    if isinstance(model, str) and isinstance(url, str):
        return servers.get(f"{model}@{url}")
    if isinstance(model, str):
        matches = [servers[k] for k, m in models.items() if m.get("model") == model and k in servers]
        return matches[0] if matches else None
    distinct_servers = distinct(servers)
    return distinct_servers[0] if len(distinct_servers) == 1 else None
