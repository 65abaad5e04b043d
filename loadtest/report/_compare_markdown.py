"""The Markdown report of ``tritonload compare`` and ``ab``: one row per traffic entry, metric and statistic.

Owns the presentation of a :class:`~loadtest.report.compare.Comparison` (units, signs, verdict marks,
the reason behind each verdict, and one closing line that says what would decide the inconclusive
rows) and the escaping of names that came from the scenario. Pure: a comparison in, text out.
"""

from __future__ import annotations

from loadtest.report._markdown import md_code, md_escape, md_table
from loadtest.report._view import METRIC_LABELS, fmt_ms
from loadtest.report.compare import (
    ERROR_RATE,
    IMPROVED,
    INCONCLUSIVE,
    REGRESSED,
    THROUGHPUT,
    UNCHANGED,
    VERDICTS,
    Comparison,
    Row,
)

_MARKS = {REGRESSED: "❌ regressed", IMPROVED: "✅ improved", UNCHANGED: "unchanged", INCONCLUSIVE: "❔ inconclusive"}


def _value(row: Row, value: float) -> str:
    if row.unit == "/s":
        return f"{value:.1f}/s"
    if row.unit == "ratio":
        return f"{value * 100:.2f}%"
    return f"{fmt_ms(value)} ms"


def _sign(value: float) -> str:
    return "+" if value > 0 else "−" if value < 0 else "±"


def _signed(row: Row, value: float) -> str:
    magnitude = abs(value)
    if row.unit == "/s":
        return f"{_sign(value)}{magnitude:.1f}/s"
    if row.unit == "ratio":
        return f"{_sign(value)}{magnitude * 100:.2f} pp"
    return f"{_sign(value)}{fmt_ms(magnitude)} ms"


def _relative(row: Row, value: float) -> str:
    """A change as a percentage of the baseline (percentage points for the error rate)."""
    base = row.judgement.baseline
    if row.unit == "ratio" or not base:
        return _signed(row, value)
    relative = 100.0 * value / base
    return f"{_sign(relative)}{abs(relative):.1f}%"


def _tolerance(row: Row) -> str:
    j = row.judgement
    text = f"±{_relative(row, j.allowed)[1:]}"
    if j.band > j.allowed:
        text += f" (drift ±{_relative(row, j.band)[1:]})"
    return text


def _row(row: Row) -> list[str]:
    j = row.judgement
    metric = row.metric if row.metric in (THROUGHPUT, ERROR_RATE) else METRIC_LABELS.get(row.metric, row.metric)
    change = _signed(row, j.change)
    if row.unit != "ratio" and j.baseline:
        change += f" ({_relative(row, j.change)})"
    return [
        md_escape(row.traffic),
        metric.replace("_", " "),
        "" if row.statistic in (THROUGHPUT, ERROR_RATE) else row.statistic,
        _value(row, j.baseline),
        _value(row, j.candidate),
        change,
        "" if j.method == "identical" else f"{_relative(row, j.ci_low)} … {_relative(row, j.ci_high)}",
        _tolerance(row),
        f"{_MARKS[j.verdict]} — {j.reason.replace('|', '/')}",
    ]


def _method(comparison: Comparison) -> str:
    options = comparison.options
    confidence = f"{options.confidence * 100:g}%"
    base_n, cand_n = comparison.baseline_runs, comparison.candidate_runs
    if comparison.paired:
        text = (
            f"{base_n} interleaved pairs of short runs. Change = pseudo-median of the paired relative differences "
            f"(candidate − baseline), {confidence} interval from the Wilcoxon signed-rank test."
        )
    else:
        text = (
            f"{base_n} baseline vs {cand_n} candidate run{'s' if cand_n != 1 else ''}; baseline and candidate "
            f"columns are medians across runs. Change = Hodges–Lehmann shift, {confidence} interval from the "
            f"Mann–Whitney test over the runs (between-run variation, not only within-run)."
        )
    per_stat = "".join(
        f", {k} {v * 100:g}{' pp' if k == ERROR_RATE else '%'}"
        for k, v in sorted(options.tolerance.per_statistic.items())
    )
    text += (
        f" Tolerance ±{options.tolerance.relative * 100:g}%{per_stat} of the baseline (at least "
        f"{fmt_ms(options.tolerance.floor_us)} ms or {options.tolerance.floor_rps:g}/s)."
    )
    if not comparison.paired:
        text += (
            f" Regressed or improved only when the whole interval lies beyond the tolerance and beyond "
            f"{options.drift_factor:g} × the run-to-run spread (drift between sets measured one after the other)."
        )
    else:
        text += " Regressed or improved only when the whole interval lies beyond the tolerance."
    if any(row.judgement.method == "noise floor" for row in comparison.rows):
        source = "measured by `tritonload calibrate`" if options.noise_source == "calibrated" else "defaults"
        text += f" With too few runs for a rank test, intervals use the noise floor ({source})."
    return text


def _advice(comparison: Comparison) -> list[str]:
    """One line per kind of inconclusive row: what would decide it."""
    blocked: dict[str, list[Row]] = {}
    for row in comparison.rows:
        if row.judgement.verdict == INCONCLUSIVE:
            blocked.setdefault(row.judgement.blocker or "overlap", []).append(row)
    lines = []
    if rows := blocked.get("few runs"):
        if comparison.paired:
            lines.append(f"{len(rows)} inconclusive: too few pairs for a rank test; run `ab` with more --chunks.")
        else:
            lines.append(
                f"{len(rows)} inconclusive because {comparison.baseline_runs} vs {comparison.candidate_runs} run(s) "
                "cannot separate run-to-run noise from a change: repeat each side "
                "(`tritonload run --repeat 5`), or measure the noise with `tritonload calibrate`."
            )
    if rows := blocked.get("overlap"):
        needed = max(row.judgement.repeats_needed or 0 for row in rows)
        unit = "pairs (`ab --chunks`)" if comparison.paired else "runs per side (`tritonload run --repeat`)"
        lines.append(f"{len(rows)} inconclusive: ≈ {needed} {unit} would likely decide them.")
    if rows := blocked.get("noise"):
        lines.append(
            f"{len(rows)} inconclusive beyond what more runs can practically decide: see each row "
            "(longer runs, quieter hardware, or ab)."
        )
    if rows := blocked.get("tail"):
        lines.append(f"{len(rows)} inconclusive for want of samples in the tail: run longer (see each row).")
    if rows := blocked.get("drift"):
        lines.append(
            f"{len(rows)} inconclusive within run-to-run drift: `tritonload ab` interleaves baseline and candidate."
        )
    return lines


def render_comparison(comparison: Comparison, title: str = "tritonload compare") -> str:
    """The Markdown report of one comparison."""
    regressions = len(comparison.regressions)
    if comparison.problems:
        verdict = "⚠️ runs not comparable"
    elif regressions:
        verdict = f"❌ {regressions} regression{'s' if regressions != 1 else ''}"
    else:
        verdict = "✅ no regression"
    lines = [
        f"### {title}: {verdict}",
        "",
        f"Baseline {md_code(comparison.baseline)} ({comparison.baseline_runs} run"
        f"{'s' if comparison.baseline_runs != 1 else ''}) → candidate {md_code(comparison.candidate)} "
        f"({comparison.candidate_runs} run{'s' if comparison.candidate_runs != 1 else ''}).",
    ]
    if not comparison.paired and max(comparison.baseline_runs, comparison.candidate_runs) == 1:
        lines += [
            "",
            "**One run per side cannot separate run-to-run noise from a change**: each verdict is judged "
            "against an assumed noise floor, so only a change well beyond it counts. For a gate, repeat each "
            "side (`tritonload run --repeat 5`) or interleave them (`tritonload ab`).",
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
        confidence = f"{comparison.options.confidence * 100:g}% CI"
        headers = ["traffic", "metric", "stat", "baseline", "candidate", "change", confidence, "tolerance", "verdict"]
        lines += ["", *md_table(headers, [_row(row) for row in comparison.rows], "lllrrrrrl")]
        counts = {v: sum(1 for r in comparison.rows if r.judgement.verdict == v) for v in VERDICTS}
        lines += ["", ", ".join(f"{count} {verdict}" for verdict, count in counts.items()) + "."]
        lines += [f"- {line}" for line in _advice(comparison)]
        lines += ["", _method(comparison)]
    return "\n".join(lines) + "\n"
