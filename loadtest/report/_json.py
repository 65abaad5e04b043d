"""The JSON report: the run's numbers, SLO verdicts and server-side times for other programs.

Owns the report document (``report_version`` :data:`REPORT_VERSION`); ``summary.json`` stays the
run directory's contract, this is its rendered, self-contained view. Pure: takes a view, returns text.
"""

from __future__ import annotations

import json
from typing import Any

from loadtest.report._server import ServerTimes
from loadtest.report._view import EntryView, ReportView

REPORT_VERSION = 1


def _server(server: ServerTimes | None) -> dict[str, Any] | None:
    if server is None:
        return None
    return {
        "label": server.label,
        "labels": list(server.labels),
        "model": server.model,
        "version": server.version,
        "requests": server.requests,
        "failed_requests": server.failed,
        "inferences": server.inferences,
        "executions": server.executions,
        "average_batch": None if server.average_batch is None else round(server.average_batch, 3),
        "phase_us": {k: None if v is None else round(v, 3) for k, v in server.phase_us.items()},
    }


def _entry(entry: EntryView) -> dict[str, Any]:
    return {
        **dict(entry.info),
        "pattern": entry.pattern or None,
        "concurrency": entry.concurrency,
        "request_rate": entry.request_rate,
        "requests": entry.requests,
        "ok": entry.ok,
        "errors": entry.errors,
        "errors_by_kind": dict(entry.errors_by_kind),
        "error_rate": entry.error_rate,
        "throughput_rps": entry.throughput_rps,
        "late_sends": entry.late_sends,
        "clamped_values": entry.clamped_values,
        "metrics": {metric: dict(stats) for metric, stats in entry.metrics.items()},
        "server": _server(entry.server),
    }


def _total(row: EntryView) -> dict[str, Any]:
    return {k: v for k, v in _entry(row).items() if k not in ("pattern", "server")}


def report_document(view: ReportView) -> dict[str, Any]:
    """The JSON report as a dict."""
    return {
        "report_version": REPORT_VERSION,
        "run_id": view.run_id,
        "status": view.status,
        "complete": view.complete,
        "error": view.error,
        "verdict": view.verdict,
        "started_at": view.started_at,
        "ended_at": view.ended_at,
        "duration_s": view.duration_s,
        "warmup_requests": view.warmup_requests,
        "percentiles": list(view.percentiles),
        "scenario": dict(view.scenario),
        "load": dict(view.load),
        "slos": view.slos,
        "traffic": {entry.name: _entry(entry) for entry in view.entries},
        "overall": _total(view.overall),
        "overall_by_kind": {kind: {**_total(row), "entries": list(row.members)} for kind, row in view.kinds.items()},
        "servers": [_server(server) for server in view.servers],
        "provenance": dict(view.provenance),
    }


def render_json(view: ReportView) -> str:
    """The JSON report of one run (indented, keys in a stable order)."""
    return json.dumps(report_document(view), indent=2, default=str) + "\n"
