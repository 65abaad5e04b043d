"""Text and Markdown reports of a sweep or capacity run: the answer, then one row per step.

Owns both layouts and the column set they share (:func:`step_table`); escapes every name from the
scenario or the server in Markdown (through :func:`~loadtest.report._markdown.md_escape`). Pure:
takes a :class:`~loadtest.report._capacity_view.CapacityView`, returns text.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtest.report._capacity_view import CapacityView, StepRow
from loadtest.report._markdown import md_code, md_escape, md_table
from loadtest.report._view import fmt_ms, fmt_percent

_PHASE_COLUMNS = (
    ("queue ms", "queue"),
    ("input ms", "compute_input"),
    ("infer ms", "compute_infer"),
    ("output ms", "compute_output"),
)


def _saturated(step: StepRow) -> str:
    if step.generator_saturated:
        return "generator"
    return step.saturation[0] if step.saturation else ""


def _gpu(step: StepRow) -> str:
    gpu = step.server.gpu if step.server else None
    if gpu is None or gpu.utilization_max is None:
        return "-"
    return f"{gpu.utilization_max:.0%}"


def _batches(step: StepRow) -> str:
    sizes = step.server.batch_sizes if step.server else {}
    return " ".join(f"{size}×{count}" for size, count in sizes.items()) or "-"


def step_table(view: CapacityView) -> tuple[list[str], list[list[str]], str]:
    """Headers, rows (plain text cells) and alignment letters of the per-step table."""
    headers = ["step", view.variable or "level", "req/s", "p50 ms", "p99 ms", "errors", "stable (windows)", "verdict"]
    headers += ["saturated", *(name for name, _ in _PHASE_COLUMNS), "batches"]
    if view.has_pending:
        headers.append("pending")
    if view.has_gpu:
        headers.append("GPU util")
    rows = []
    for step in view.steps:
        row = [
            f"{step.index}{'*' if step.is_answer else ''}",
            f"{step.level:g}",
            "-" if step.throughput_rps is None else f"{step.throughput_rps:.1f}",
            fmt_ms(step.latency_us.get("p50")),
            fmt_ms(step.latency_us.get("p99")),
            f"{step.errors} ({fmt_percent(step.error_rate)})" if step.errors else "0",
            step.stable_text,
            step.verdict,
            _saturated(step),
            *(step.phase_ms(phase) for _, phase in _PHASE_COLUMNS),
            _batches(step),
        ]
        if view.has_pending:
            pending = step.server.pending_requests if step.server else None
            row.append("-" if pending is None else f"{pending:g}")
        if view.has_gpu:
            row.append(_gpu(step))
        rows.append(row)
    align = "rrrrrrlll" + "r" * len(_PHASE_COLUMNS) + "l" + "r" * (len(headers) - 10 - len(_PHASE_COLUMNS))
    return headers, rows, align


def _stability(view: CapacityView) -> str:
    rule = view.stability
    if not rule:
        return ""
    return (
        f"Stable: the last {rule.get('windows', '?')} windows of {rule.get('window_s', '?')} s within "
        f"±{rule.get('tolerance_pct', '?')} % for throughput and p99, at most {rule.get('max_windows', '?')} windows."
    )


def _title(view: CapacityView) -> str:
    what = "Capacity search" if view.kind == "capacity" else f"Sweep over {view.variable}"
    return f"{what}: {view.scenario or view.run_id}"


def _notes(view: CapacityView) -> list[str]:
    notes = []
    for step in view.steps:
        if step.generator_saturated:
            notes.append(
                f"step {step.index}: {step.generator_text}; "
                "the step is no measurement of the server and is never the answer"
            )
        if step.failed_slos:
            notes.append(f"step {step.index}: breached {', '.join(step.failed_slos)}")
        if step.note:
            notes.append(f"step {step.index}: {step.note}")
    return notes


def render_capacity_text(view: CapacityView) -> str:
    """The plain-text report (what the console shows)."""
    headers, rows, align = step_table(view)
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if letter == "r" else cell.ljust(width)
            for cell, width, letter in zip(cells, widths, align, strict=True)
        ).rstrip()

    out = [_title(view), f"run {view.run_id}", ""]
    out += view.answer_lines()
    if view.slos:
        out.append("SLOs: " + "; ".join(view.slos))
    if _stability(view):
        out.append(_stability(view))
    out += ["", line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)]
    notes = _notes(view)
    if notes:
        out += ["", *notes]
    out += ["", "* the answer's level; server times are Triton's means per request (queue, compute input/infer/output)"]
    out[-1] += f" of {', '.join(view.server_labels)}." if view.server_labels else "."
    return "\n".join(out) + "\n"


def render_capacity_markdown(view: CapacityView) -> str:
    """The Markdown report (a CI step summary or a pull-request comment)."""
    headers, rows, align = step_table(view)
    escaped = [[md_escape(cell) for cell in row] for row in rows]
    lines = [f"### tritonload: {md_escape(_title(view))}", "", f"Run {md_code(view.run_id)}.", ""]
    lines += [f"- {md_escape(text)}" for text in view.answer_lines()]
    if view.slos:
        lines.append("- SLOs: " + ", ".join(md_code(slo) for slo in view.slos))
    if _stability(view):
        lines.append(f"- {md_escape(_stability(view))}")
    lines += ["", *md_table([md_escape(h) for h in headers], escaped, align)]
    notes = _notes(view)
    if notes:
        lines += ["", *(f"- {md_escape(note)}" for note in notes)]
    lines += [
        "",
        md_escape(
            "* the answer's level. Server columns: Triton's mean time per request in its queue and in "
            "compute input, infer and output; batches: executed batch size × executions"
            + (f"; statistics of {', '.join(view.server_labels)}." if view.server_labels else ".")
        ),
    ]
    return "\n".join(lines) + "\n"
