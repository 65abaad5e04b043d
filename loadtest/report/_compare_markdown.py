"""The Markdown table of ``tritonload compare``: one row per traffic entry, metric and statistic.

Owns the presentation of a :class:`~loadtest.report.compare.Comparison` (units, signs, verdict marks) and
the escaping of names that came from the scenario. Pure: a comparison in, text out.
"""

from __future__ import annotations

from loadtest.report._markdown import md_code, md_escape, md_table
from loadtest.report._view import METRIC_LABELS, fmt_ms
from loadtest.report.compare import IMPROVED, INCONCLUSIVE, REGRESSED, THROUGHPUT, UNCHANGED, Comparison, Row

_MARKS = {REGRESSED: "❌ regressed", IMPROVED: "✅ improved", UNCHANGED: "unchanged", INCONCLUSIVE: "❔ inconclusive"}


def _value(row: Row, value: float) -> str:
    return f"{value:.1f}/s" if row.unit == "/s" else f"{fmt_ms(value)} ms"


def _signed(row: Row, value: float) -> str:
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    magnitude = abs(value)
    return f"{sign}{magnitude:.1f}/s" if row.unit == "/s" else f"{sign}{fmt_ms(magnitude)} ms"


def _percent(change: float, baseline: float) -> str:
    if not baseline:
        return ""
    relative = 100.0 * change / baseline
    return f" ({'+' if relative > 0 else '−' if relative < 0 else '±'}{abs(relative):.1f}%)"


def _row(row: Row) -> list[str]:
    metric = THROUGHPUT if row.metric == THROUGHPUT else METRIC_LABELS.get(row.metric, row.metric)
    note = f" — {md_escape(row.note)}" if row.note else ""
    return [
        md_escape(row.traffic),
        metric,
        "" if row.statistic == THROUGHPUT else row.statistic,
        _value(row, row.baseline),
        _value(row, row.candidate),
        _signed(row, row.change) + _percent(row.change, row.baseline),
        f"{_signed(row, row.ci_low)} … {_signed(row, row.ci_high)}",
        f"±{_value(row, row.allowed)}",
        _MARKS[row.verdict] + note,
    ]


def render_comparison(comparison: Comparison) -> str:
    """The Markdown report of one comparison."""
    options = comparison.options
    regressions = len(comparison.regressions)
    if comparison.problems:
        title = "⚠️ runs not comparable"
    elif regressions:
        title = f"❌ {regressions} regression{'s' if regressions != 1 else ''}"
    else:
        title = "✅ no regression"
    baseline = comparison.baseline.get("run_id", "baseline")
    candidate = comparison.candidate.get("run_id", "candidate")
    lines = [
        f"### tritonload compare: {title}",
        "",
        f"Baseline {md_code(baseline)} → candidate {md_code(candidate)}.",
    ]
    if comparison.problems:
        lines += [
            "",
            "**Not comparable** (compared anyway with `--force`):" if comparison.rows else "**Not comparable:**",
        ]
        lines += [f"- {md_escape(problem)}" for problem in comparison.problems]
    if comparison.notes:
        lines += ["", *(f"- {md_escape(note)}" for note in comparison.notes)]
    if comparison.rows:
        confidence = f"{options.confidence * 100:g}%"
        headers = [
            "traffic",
            "metric",
            "stat",
            "baseline",
            "candidate",
            "change",
            f"{confidence} CI",
            "tolerance",
            "verdict",
        ]
        lines += ["", *md_table(headers, [_row(row) for row in comparison.rows], "lllrrrrrl")]
        per_stat = "".join(f", {k} {v * 100:g}%" for k, v in sorted(options.tolerance.per_statistic.items()))
        lines += [
            "",
            f"Change = candidate − baseline. {confidence} confidence interval from a seeded bootstrap "
            f"({options.resamples} resamples, seed {options.seed}) over blocks of recording intervals. "
            f"Tolerance ±{options.tolerance.relative * 100:g}%{per_stat} of the baseline, at least "
            f"{fmt_ms(options.tolerance.floor_us)} ms or {options.tolerance.floor_rps:g}/s. "
            "Regressed or improved only when the whole interval lies outside the tolerance.",
        ]
        if any(row.method == "requests" for row in comparison.rows):
            lines[-1] += f" Runs with fewer than {options.min_blocks} intervals were resampled by request."
    return "\n".join(lines) + "\n"
