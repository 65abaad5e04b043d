"""The CSV report: one row per traffic entry, with perf_analyzer's column names where they mean the same.

Spreadsheets and dashboards built on ``perf_analyzer -f`` output find their columns here:
``Concurrency`` (closed loop: users x in-flight requests), ``Request Rate`` (open loop),
``Inferences/Second``, ``Server Queue``, ``Server Compute Input``, ``Server Compute Infer``,
``Server Compute Output``, ``p50 latency`` ... ``p99 latency``, ``Avg latency`` (all times in
integer microseconds, as perf_analyzer writes them). Columns of our own follow (``Traffic``,
``Requests``, ``Errors``, ...). Names that a spreadsheet would read as a formula get a leading
``'``. Pure: takes a view, returns text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from loadtest.report._view import GAP, LATENCY, RESPONSE_TIME, TTFR, EntryView, ReportView

_SERVER_COLUMNS = {
    "queue": "Server Queue",
    "compute_input": "Server Compute Input",
    "compute_infer": "Server Compute Infer",
    "compute_output": "Server Compute Output",
}
_OWN_METRIC_NAMES = {RESPONSE_TIME: "response time", TTFR: "ttfr", GAP: "gap"}


def _text(value: str) -> str:
    """Names from the scenario, made inert for spreadsheets (no formula injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _us(value: Any) -> Any:
    return "" if value is None else round(float(value))


Column = tuple[str, Callable[[EntryView], Any]]


def _stat(title: str, metric: str, key: str) -> Column:
    return title, lambda entry: _us(entry.stat(metric, key))


def _server(title: str, phase: str) -> Column:
    return title, lambda entry: "" if entry.server is None else _us(entry.server.phase_us.get(phase))


def _columns(view: ReportView) -> list[Column]:
    keys = view.percentile_keys
    perf_analyzer_keys = [k for k in keys if k in ("p50", "p90", "p95", "p99")]
    columns: list[Column] = [
        ("Traffic", lambda e: _text(e.name)),
        ("Pattern", lambda e: _text(e.pattern)),
        ("Concurrency", lambda e: "" if e.concurrency is None else e.concurrency),
        ("Request Rate", lambda e: "" if e.request_rate is None else e.request_rate),
        ("Inferences/Second", lambda e: round(e.throughput_rps * e.batch_size, 3)),
        ("Requests/Second", lambda e: e.throughput_rps),
    ]
    for phase, title in _SERVER_COLUMNS.items():
        columns.append(_server(title, phase))
    columns += [_stat(f"{k} latency", LATENCY, k) for k in perf_analyzer_keys]
    columns.append(_stat("Avg latency", LATENCY, "mean"))
    columns += [
        ("Requests", lambda e: e.requests),
        ("Errors", lambda e: e.errors),
        ("Error Rate", lambda e: round(e.error_rate, 6)),
        ("Late Sends", lambda e: e.late_sends),
        _stat("Min latency", LATENCY, "min"),
        *(_stat(f"{k} latency", LATENCY, k) for k in keys if k not in perf_analyzer_keys),
        _stat("Max latency", LATENCY, "max"),
    ]
    for metric, name in _OWN_METRIC_NAMES.items():
        if metric in view.metrics:
            columns += [_stat(f"{k} {name}", metric, k) for k in keys]
            columns.append(_stat(f"Avg {name}", metric, "mean"))
    if TTFR in view.metrics:
        columns.append(("Avg responses", lambda e: e.stat("responses", "mean") if e.streaming else ""))
    return columns


def render_csv(view: ReportView) -> str:
    """The CSV report of one run (a header line, then one line per traffic entry)."""
    columns = _columns(view)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([title for title, _ in columns])
    for entry in view.entries:
        writer.writerow([value(entry) for _, value in columns])
    return buffer.getvalue()
