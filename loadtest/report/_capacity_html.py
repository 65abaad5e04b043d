"""The HTML report of a sweep or capacity run: one self-contained page (inline CSS and SVG, no script).

Owns the two figures (the latency-throughput curve with the SLO line, the knee and the answer; a
stacked bar per step of the server's queue and compute times) and the data handed to the template
(``templates/capacity.html.j2``, autoescaping on, sharing the run report's style). Pure: takes a
:class:`~loadtest.report._capacity_view.CapacityView`; never writes files.
"""

from __future__ import annotations

import math
from typing import Any

from loadtest import __version__
from loadtest.report import _plots
from loadtest.report._capacity_text import step_table
from loadtest.report._capacity_view import CapacityView
from loadtest.report._html import Plot, inline_svg, jinja_environment
from loadtest.report._server import SERVER_PHASES


def curve_plot(view: CapacityView) -> Plot | None:
    """p50/p99 against achieved throughput, SLO lines, knee and answer; None without a measured step."""
    points = [
        (
            step.throughput_rps,
            _ms(step.latency_us.get("p50")),
            _ms(step.latency_us.get("p99")),
            step.stable is not False,
        )
        for step in view.steps
        if step.throughput_rps is not None and not step.generator_saturated
    ]
    if not points:
        return None
    slo_lines = [(slo.text, slo.threshold_us / 1000.0) for slo in view.latency_slos]
    knee_point = None
    knee = view.knee()
    if knee is not None and knee[1] is not None and knee[2] is not None:
        knee_point = (knee[1], knee[2] / 1000.0)
    answer = None
    at = view.answer_throughput()
    if at is not None:
        answer = (
            at,
            view.throughput_at(_level(view.answer.get("last_pass"))),
            view.throughput_at(_level(view.answer.get("first_fail"))),
        )
    svg = _plots.latency_throughput_svg(points, slo_lines, knee_point, answer, "capacity-curve")
    caption = (
        "One point per step (in level order; steps where the generator saturated are left out, an x marks an "
        "unstable step). Dashed: the latency SLO; circled: the knee; the vertical line is the answer and the band "
        "spans the last passing to the first failing level."
    )
    return Plot("curve", "Latency against throughput", caption, inline_svg(svg), latency=True)


def breakdown_plot(view: CapacityView) -> Plot | None:
    """Per step: Triton's mean queue and compute times per request, stacked; None without statistics."""
    steps = [step for step in view.steps if step.server is not None]
    if not steps:
        return None
    labels = [f"{step.level:g} (#{step.index})" for step in steps]
    phases = {
        phase: [_ms(step.server.phase_us.get(phase)) if step.server else math.nan for step in steps]
        for phase in SERVER_PHASES
    }
    values = {phase: [math.nan if v is None else v for v in column] for phase, column in phases.items()}
    svg = _plots.server_breakdown_svg(labels, values, "capacity-breakdown")
    caption = (
        "Triton's statistics for the busiest model in each step: mean time per request waiting in the queue and in "
        "compute input, infer and output. A queue that grows while throughput stays flat is the server saturating."
    )
    return Plot("server", "Server time per request, by phase", caption, inline_svg(svg), latency=False)


def _ms(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1000.0


def _level(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value)


def render_capacity_html(view: CapacityView) -> str:
    """The HTML report of one sweep or capacity run."""
    headers, rows, align = step_table(view)
    context: dict[str, Any] = {
        "view": view,
        "title": ("Capacity search" if view.kind == "capacity" else f"Sweep over {view.variable}")
        + f": {view.scenario or view.run_id}",
        "answer_lines": view.answer_lines(),
        "headers": headers,
        "rows": rows,
        "align": align,
        "flags": [
            "fail" if step.verdict in ("FAIL", "invalid") else "pass" if step.verdict == "pass" else ""
            for step in view.steps
        ],
        "curve": curve_plot(view),
        "breakdown": breakdown_plot(view),
        "version": __version__,
    }
    return jinja_environment().get_template("capacity.html.j2").render(**context)
