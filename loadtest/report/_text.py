"""The plain-text report: what a person reads in a terminal or a CI log.

Owns the text layout (aligned columns, times in milliseconds with three decimals). Pure: takes a
:class:`~loadtest.report._view.ReportView`, returns text; never reads or writes files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadtest.report._view import (
    METRIC_LABELS,
    RESPONSES,
    ReportView,
    fmt_measured,
    fmt_percent,
    fmt_rate,
    slo_scope,
    slo_status,
)


def _ms(value_us: float | None) -> str:
    return "-" if value_us is None else f"{value_us / 1000.0:.3f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Aligned columns: the first ``left`` columns flush left, the others flush right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if i < left else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def scenario_line(scenario: Mapping[str, Any]) -> str:
    """``scenario NAME (hash H, seed S)``, or a word on why a failed run does not know it."""
    if not scenario:
        return "scenario: not recorded (the run stopped before writing it)"
    name, seed = scenario.get("name", "unknown"), scenario.get("seed", "unknown")
    return f"scenario {name} (hash {scenario.get('hash', 'unknown')}, seed {seed})"


def _header(view: ReportView) -> list[str]:
    state = "complete" if view.complete else "INCOMPLETE"
    lines = [
        f"tritonload run {view.run_id}: {view.status} ({state})",
        f"started {view.started_at}, measured {view.duration_s:.1f} s"
        f" (warm-up excluded: {view.warmup_requests} requests)",
        scenario_line(view.scenario),
    ]
    if view.error:
        lines.append(f"error: {view.error}")
    lines += [f"warning: {note}" for note in view.health_notes]
    return lines


def _traffic(view: ReportView) -> list[str]:
    if view.no_traffic_note:
        return [view.no_traffic_note]
    rows = [
        [
            row.name,
            row.pattern or "-",
            str(row.requests),
            str(row.errors),
            fmt_percent(row.error_rate),
            fmt_rate(row.throughput_rps),
            str(row.late_sends),
        ]
        for row in view.rows
    ]
    return table(["traffic", "pattern", "requests", "errors", "error rate", "req/s", "late"], rows, left=2)


def _metric(view: ReportView, metric: str) -> list[str]:
    rows = view.metric_rows(metric)
    if not rows:
        return []
    count_metric = metric == RESPONSES
    keys = ["mean", *view.percentile_keys, "max"]

    def cell(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:g}" if count_metric else _ms(value)

    unit = "" if count_metric else " (ms)"
    cells = [
        [row.name, str(row.stat(metric, "count") or 0), *(cell(row.stat(metric, k)) for k in keys)] for row in rows
    ]
    return ["", f"{METRIC_LABELS[metric].capitalize()}{unit}", *table(["", "count", *keys], cells)]


def _slos(view: ReportView) -> list[str]:
    if not view.slos:
        return ["", "SLOs: none"]
    passed = sum(1 for slo in view.slos if slo.get("passed") is True)
    lines = ["", f"SLOs: {passed} passed, {view.slos_breached} breached, {view.slos_unmeasured} not measured"]
    rows = [
        [
            slo_status(slo),
            slo_scope(slo),
            str(slo.get("slo", "")),
            fmt_measured(str(slo.get("unit", "")), slo.get("measured")),
            str(slo.get("reason") or ""),
        ]
        for slo in view.slos
    ]
    lines += ["  " + line for line in table(["", "scope", "objective", "measured", ""], rows, left=3)]
    return lines


def slo_console_line(slo: Mapping[str, Any]) -> str:
    """One SLO result as ``tritonload run`` prints it: ``SLO FAIL: p99 latency < 10ms (measured 14.2 ms)``."""
    passed = slo.get("passed")
    why = str(slo.get("reason") or "")
    if passed is None and why.startswith("not judged"):
        return f"SLO not judged: {slo.get('slo')} ({why.removeprefix('not judged: ')})"
    verdict = "n/a" if passed is None else "pass" if passed else "FAIL"
    if slo.get("measured") is None:
        reason = slo.get("reason")
        return f"SLO {verdict}: {slo.get('slo')} (not measured{': ' + str(reason) if reason else ''})"
    return f"SLO {verdict}: {slo.get('slo')} (measured {fmt_measured(str(slo.get('unit', '')), slo['measured'])})"


def _errors(view: ReportView) -> list[str]:
    rows = [
        [entry.name, kind, str(count)]
        for entry in view.entries
        for kind, count in sorted(entry.errors_by_kind.items())
        if count
    ]
    return ["", "Errors by kind", *table(["traffic", "kind", "count"], rows, left=2)] if rows else []


def render_text(view: ReportView) -> str:
    """The text report of one run."""
    lines = [*_header(view), "", *_traffic(view)]
    for metric in view.metrics:
        lines += _metric(view, metric)
    lines += _errors(view)
    lines += _slos(view)
    return "\n".join(lines) + "\n"
