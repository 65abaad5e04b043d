"""The HTML report: one self-contained page (inline CSS and SVG plots, no script, no external asset).

Owns which plots the page shows, the note that says why a section has none (a failed run), the
links to the run's files that exist, and the data handed to the Jinja2 template
(``templates/report.html.j2``, autoescaping on: every string from the scenario or the server is
escaped; the only markup passed through unescaped is the SVG matplotlib wrote, whose text it
escapes itself). Reads the run's histograms through :class:`~loadtest.recording.rundir.Run` and
checks which of its files exist; never writes files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from loadtest import __version__
from loadtest.recording.rundir import (
    HLOG_FILE,
    INTERVALS_FILE,
    LOG_FILE,
    SCENARIO_FILE,
    SERVER_STATS_FILE,
    SUMMARY_FILE,
)
from loadtest.report import _plots
from loadtest.report._server import SERVER_PHASES
from loadtest.report._view import (
    GAP,
    LATENCY,
    METRIC_LABELS,
    RESPONSE_TIME,
    TTFR,
    ReportView,
    fmt_measured,
    fmt_ms,
    fmt_percent,
    fmt_rate,
    slo_scope,
    slo_status,
)

_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
OVER_TIME_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class Plot:
    """One figure of the page: its heading, a caption and the SVG markup."""

    section: str
    title: str
    caption: str
    svg: Markup
    latency: bool = True
    """True for a figure of latency histograms (False: throughput, server-side times)."""


def jinja_environment() -> Environment:
    """The reports' Jinja2 environment: package templates, autoescaping on, strict undefined, number filters."""
    environment = Environment(
        loader=PackageLoader("loadtest.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(ms=fmt_ms, rate=fmt_rate, percent=fmt_percent)
    return environment


def inline_svg(text: str) -> Markup:
    """matplotlib's SVG as markup for a page (its metadata block dropped)."""
    # matplotlib escapes every text it writes into the SVG; its RDF metadata block is dropped
    return Markup(_METADATA.sub("", text))


def _spectrum_plots(view: ReportView, totals: dict[tuple[str, str], HdrHistogram]) -> list[Plot]:
    plots = []
    names = [entry.name for entry in view.entries]
    for metric, caption in (
        (LATENCY, "Service time of successful requests (send to complete response), per traffic entry."),
        (TTFR, "Streams: time from the request to its first response."),
        (GAP, "Streams: time between consecutive responses of one request."),
    ):
        series = [(name, totals[(name, metric)]) for name in names if (name, metric) in totals]
        if series:
            title = f"{METRIC_LABELS[metric].capitalize()}: percentile spectrum"
            plots.append(
                Plot("spectrum", title, caption, inline_svg(_plots.spectrum_svg(title, series, f"s-{metric}")))
            )
    for entry in view.entries:
        if entry.open_loop and (entry.name, RESPONSE_TIME) in totals and (entry.name, LATENCY) in totals:
            title = f"{entry.name}: service time and response time"
            series = [
                ("service time (send to response)", totals[(entry.name, LATENCY)]),
                ("response time (intended start to response)", totals[(entry.name, RESPONSE_TIME)]),
            ]
            caption = (
                "Open loop: the response time counts from each request's intended start, so waiting for a free "
                "slot (coordinated omission) shows here and not in the service time."
            )
            plots.append(
                Plot("spectrum", title, caption, inline_svg(_plots.spectrum_svg(title, series, f"o-{entry.name}")))
            )
    return plots


def _is_fragment(length_s: float, lengths_s: Sequence[float]) -> bool:
    """A final partial interval (the run stopped mid-interval): too short for a meaningful rate or tail."""
    ordered = sorted(lengths_s)
    return len(ordered) > 2 and length_s < 0.5 * ordered[len(ordered) // 2]


def _over_time_plots(view: ReportView) -> list[Plot]:
    intervals = view.run.interval_histograms()
    lengths = [interval.length_s for interval in intervals]
    per_key: dict[tuple[str, str], list[tuple[float, HdrHistogram]]] = {}
    for interval in intervals:
        if not _is_fragment(interval.length_s, lengths):
            per_key.setdefault(interval.key, []).append((interval.start_s + interval.length_s, interval.histogram))
    plots = []
    for entry in view.entries:
        for metric in (LATENCY, RESPONSE_TIME, TTFR):
            series = per_key.get((entry.name, metric))
            if not series:
                continue
            title = f"{entry.name}: {METRIC_LABELS[metric]} over time"
            svg = _plots.over_time_svg(title, series, OVER_TIME_PERCENTILES, f"t-{entry.name}-{metric}")
            caption = (
                "Percentiles of each recording interval (dotted: the interval's maximum); a final partial "
                "interval is left out."
            )
            plots.append(Plot("time", title, caption, inline_svg(svg)))
    return plots


def _throughput_plot(view: ReportView) -> list[Plot]:
    lengths = [float(record["end_s"]) - float(record["start_s"]) for record in view.run.intervals]
    records = [r for r, length in zip(view.run.intervals, lengths, strict=True) if not _is_fragment(length, lengths)]
    if not records:
        return []
    times = [float(record["end_s"]) for record in records]
    ok: dict[str, list[float]] = {entry.name: [] for entry in view.entries}
    errors: dict[str, list[float]] = {entry.name: [] for entry in view.entries}
    for record in records:
        length_s = max(float(record["end_s"]) - float(record["start_s"]), 1e-9)
        counters = record.get("traffic", {})
        for name, ok_rps in ok.items():
            entry = counters.get(name, {})
            ok_rps.append(entry.get("ok", 0) / length_s)
            errors[name].append(sum((entry.get("errors") or {}).values()) / length_s)
    svg = _plots.throughput_svg(times, ok, errors, "throughput")
    caption = (
        "Successful and failed requests per second in each recording interval, per traffic entry; a final "
        "partial interval is left out."
    )
    return [Plot("time", "Throughput and errors over time", caption, inline_svg(svg), latency=False)]


def _server_plots(view: ReportView) -> list[Plot]:
    plots = []
    for server in view.servers:
        times: list[float] = []
        phases: dict[str, list[float]] = {phase: [] for phase in SERVER_PHASES}
        previous: dict[str, tuple[int, int]] | None = None
        for snapshot in view.run.server_stats:
            model = (snapshot.get("models") or {}).get(server.label)
            stats = ((model or {}).get("model_stats") or [{}])[0]
            inference = stats.get("inference_stats", {}) if isinstance(stats, dict) else {}
            current = {
                phase: (
                    int(inference.get(phase, {}).get("count", 0) or 0),
                    int(inference.get(phase, {}).get("ns", 0) or 0),
                )
                for phase in SERVER_PHASES
            }
            if previous is not None:
                times.append(float(snapshot.get("t_s", len(times))))
                for phase in SERVER_PHASES:
                    count = current[phase][0] - previous[phase][0]
                    spent_ns = current[phase][1] - previous[phase][1]
                    phases[phase].append(spent_ns / count / 1e6 if count > 0 else float("nan"))
            previous = current
        if len(times) >= 2:
            title = f"Server side: {server.model}"
            svg = _plots.server_time_svg(title, times, phases, f"m-{server.label}")
            caption = f"Triton's statistics for {server.label}: average time per request in each interval."
            plots.append(Plot("server", title, caption, inline_svg(svg), latency=False))
    return plots


def build_plots(view: ReportView) -> list[Plot]:
    """Every figure of the page, in display order (no latency figures when the run wrote no histogram log)."""
    latency: list[Plot] = []
    if view.run.has_hlog:
        latency = [*_spectrum_plots(view, view.run.histograms()), *_over_time_plots(view)]
    spectra = [plot for plot in latency if plot.section == "spectrum"]
    over_time = [plot for plot in latency if plot.section == "time"]
    return [*spectra, *over_time, *_throughput_plot(view), *_server_plots(view)]


def empty_section_notes(view: ReportView, plots: Sequence[Plot]) -> dict[str, str]:
    """Why a section has no latency figure (``"spectrum"``, ``"time"``), so an empty heading never just sits there."""
    sections = {plot.section for plot in plots if plot.latency}
    if view.overall.ok == 0:
        if view.complete:
            reason = "No request succeeded, so no latency was recorded (the errors are counted above)."
        else:
            reason = f"The run {view.status} before any request succeeded, so no latency was recorded."
    elif not view.run.has_hlog:
        reason = f"The run wrote no {HLOG_FILE}, so there is no latency to plot."
    else:
        reason = "No successful request recorded a latency."
    notes = {}
    if "spectrum" not in sections:
        notes["spectrum"] = reason
    if "time" not in sections:
        short = "The run measured less than one full recording interval, so there is nothing to show over time."
        notes["time"] = reason if view.overall.ok == 0 or not view.run.has_hlog else short
    return notes


def render_html(view: ReportView, plots: Sequence[Plot] | None = None) -> str:
    """The HTML report of one run (``plots``: defaults to :func:`build_plots`)."""
    template = jinja_environment().get_template("report.html.j2")
    figures = list(build_plots(view) if plots is None else plots)
    context: dict[str, Any] = {
        "view": view,
        "plots": figures,
        "notes": empty_section_notes(view, figures),
        "metric_labels": METRIC_LABELS,
        "time_metrics": [m for m in view.metrics if m != "responses"],
        "slo_rows": [
            {
                "status": slo_status(slo),
                "scope": slo_scope(slo),
                "slo": slo.get("slo", ""),
                "measured": fmt_measured(str(slo.get("unit", "")), slo.get("measured")),
                "threshold": fmt_measured(str(slo.get("unit", "")), slo.get("threshold")),
                "reason": slo.get("reason") or "",
            }
            for slo in view.slos
        ],
        "files": [
            name
            for name in (SCENARIO_FILE, SUMMARY_FILE, HLOG_FILE, INTERVALS_FILE, SERVER_STATS_FILE, LOG_FILE)
            if (view.run.path / name).is_file()
        ],
        "version": __version__,
    }
    return template.render(**context)
