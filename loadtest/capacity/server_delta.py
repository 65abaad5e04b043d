"""What the server did during one step: the difference of two statistics/metrics snapshots. Pure.

Owns subtracting two ``ServerPoller.snapshot`` results (Triton's statistics extension per model, and
the parsed Prometheus metrics per metrics page): every counter of ``inference_stats`` and
``batch_stats`` (count and ns) becomes its increase over the step, and the metrics are kept as
values at the step's end next to their increase. The interpretation (where the time went, what
saturated) belongs to the capacity report. Never talks to a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_STAT_FIELDS = (
    "success",
    "fail",
    "queue",
    "compute_input",
    "compute_infer",
    "compute_output",
    "cache_hit",
    "cache_miss",
)


def _number(value: Any) -> float | int | None:
    """Statistics counters arrive as ints (HTTP) or strings (gRPC's JSON form of int64)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _pair_delta(start: Mapping[str, Any] | None, end: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("count", "ns"):
        before = _number((start or {}).get(key)) or 0
        after = _number((end or {}).get(key))
        out[key] = None if after is None else after - before
    return out


def _model_delta(start: Mapping[str, Any] | None, end: Mapping[str, Any]) -> dict[str, Any]:
    start = start or {}
    stats_start, stats_end = start.get("inference_stats") or {}, end.get("inference_stats") or {}
    inference = {
        name: _pair_delta(stats_start.get(name), stats_end[name]) for name in _STAT_FIELDS if name in stats_end
    }
    batches_start = {_number(b.get("batch_size")): b for b in start.get("batch_stats") or []}
    batches = []
    for batch in end.get("batch_stats") or []:
        size = _number(batch.get("batch_size"))
        before = batches_start.get(size) or {}
        entry: dict[str, Any] = {"batch_size": size}
        for name in ("compute_input", "compute_infer", "compute_output"):
            if name in batch:
                entry[name] = _pair_delta(before.get(name), batch[name])
        if any((entry.get(name) or {}).get("count") for name in ("compute_input", "compute_infer", "compute_output")):
            batches.append(entry)
    counts = {}
    for key in ("inference_count", "execution_count"):
        after = _number(end.get(key))
        counts[key] = None if after is None else after - (_number(start.get(key)) or 0)
    return {
        "name": end.get("name"),
        "version": end.get("version"),
        **counts,
        "inference_stats": inference,
        "batch_stats": batches,
    }


def stats_delta(start: Mapping[str, Any] | None, end: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The step's server section: per ``model@url``, each model version's counters' increase; the metrics
    at the end and their increase (``metrics_delta``). None when the end snapshot is missing."""
    if not end:
        return None
    start = start or {}
    models: dict[str, Any] = {}
    for label, reply in (end.get("models") or {}).items():
        if not isinstance(reply, Mapping) or "error" in reply:
            models[label] = {"error": (reply or {}).get("error", "no statistics")}
            continue
        before = {
            (m.get("name"), m.get("version")): m
            for m in ((start.get("models") or {}).get(label) or {}).get("model_stats", [])
        }
        models[label] = [
            _model_delta(before.get((m.get("name"), m.get("version"))), m) for m in reply.get("model_stats", [])
        ]
    metrics: dict[str, float] = {}
    metrics_delta: dict[str, float] = {}
    for url, values in (end.get("metrics") or {}).items():
        before = (start.get("metrics") or {}).get(url) or {}
        for name, value in values.items():
            key = name if len(end.get("metrics") or {}) == 1 else f"{url} {name}"
            metrics[key] = value
            if name in before:
                metrics_delta[key] = value - before[name]
    section: dict[str, Any] = {"models": models, "metrics": metrics, "metrics_delta": metrics_delta}
    if start.get("t_s") is not None and end.get("t_s") is not None:
        section["window_s"] = round(float(end["t_s"]) - float(start["t_s"]), 3)
    return section


__all__ = ["stats_delta"]
