"""The Markdown summary: compact enough for a CI step summary or a pull-request comment.

Owns the Markdown layout and the escaping of every name that came from the scenario or the server
(so a traffic entry called ``a|b`` or ``<img ...>`` cannot break the table or inject HTML). Pure:
takes a :class:`~loadtest.report._view.ReportView`, returns text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from loadtest.report._view import (
    GAP,
    LATENCY,
    RESPONSE_TIME,
    TTFR,
    ReportView,
    fmt_measured,
    fmt_ms,
    fmt_percent,
    fmt_rate,
    slo_scope,
)

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_STATUS = {True: "✅ pass", False: "❌ **fail**", None: "⚪ not measured"}
_SHORT = {LATENCY: "latency", RESPONSE_TIME: "response time", TTFR: "TTFR", GAP: "gap"}


def md_escape(text: object) -> str:
    """Escape text for a Markdown table cell: HTML entities, Markdown punctuation, no line breaks."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(_SPECIAL.sub(r"\\\1", value).split())


def md_code(text: object) -> str:
    """Text as an inline code span in a table cell (only the pipe needs escaping there)."""
    return "`" + " ".join(str(text).replace("`", "'").replace("|", "\\|").split()) + "`"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A GitHub table; ``align`` has one letter per column, ``l`` or ``r``. Cells must be escaped already."""
    rule = ["---:" if letter == "r" else "---" for letter in align]
    return [f"| {' | '.join(row)} |" for row in (headers, rule, *rows)]


def _verdict(view: ReportView) -> str:
    if view.slos_breached:
        return f"❌ {view.slos_breached} of {len(view.slos)} SLOs breached"
    if not view.complete:
        return f"⚠️ run {md_escape(view.status)}: incomplete"
    if view.slos:
        return f"✅ all {len(view.slos) - view.slos_unmeasured} SLOs met"
    return "no SLOs"


def _traffic(view: ReportView) -> list[str]:
    if view.no_traffic_note:
        return [view.no_traffic_note]
    keys = view.percentile_keys
    metrics = [m for m in (LATENCY, RESPONSE_TIME, TTFR, GAP) if m in view.metrics]
    headers = ["traffic", "metric", "req/s", "errors", *(f"{k} ms" for k in keys), "max ms"]
    rows = []
    for entry in (*view.entries, *view.total_rows):
        recorded: list[str | None] = [m for m in metrics if m in entry.metrics] or [None]  # a row even when none
        for index, metric in enumerate(recorded):
            first = index == 0
            rows.append(
                [
                    f"**{md_escape(entry.name)}**" if first else "",
                    "-" if metric is None else _SHORT[metric],
                    fmt_rate(entry.throughput_rps) if first else "",
                    (f"{entry.errors} ({fmt_percent(entry.error_rate)})" if entry.errors else "0") if first else "",
                    *(fmt_ms(None if metric is None else entry.stat(metric, k)) for k in keys),
                    fmt_ms(None if metric is None else entry.stat(metric, "max")),
                ]
            )
    return md_table(headers, rows, "ll" + "r" * (len(headers) - 2))


def _slos(view: ReportView) -> list[str]:
    if not view.slos:
        return []
    rows = [
        [
            md_escape(slo_scope(slo)),
            md_code(slo.get("slo", "")),
            md_escape(fmt_measured(str(slo.get("unit", "")), slo.get("measured"))),
            _STATUS[slo.get("passed")],
        ]
        for slo in view.slos
    ]
    return ["", *md_table(["scope", "objective", "measured", "verdict"], rows, "llrl")]


def render_markdown(view: ReportView) -> str:
    """The Markdown summary of one run."""
    scenario = view.scenario
    lines = [
        f"### tritonload: {md_escape(scenario.get('name', view.run_id))} — {_verdict(view)}",
        "",
        f"Run {md_code(view.run_id)}: {md_escape(view.status)}, {view.duration_s:.1f} s measured, "
        f"{view.overall.requests} requests, "
        + (f"scenario hash {md_code(scenario['hash'])}." if scenario.get("hash") else "scenario not recorded."),
        "",
        *_traffic(view),
        *_slos(view),
    ]
    if view.error:
        lines += ["", f"Error: {md_escape(view.error)}"]
    return "\n".join(lines) + "\n"
