"""The tables of `bench_vs_perf_analyzer.py`: one measurement per tool, case and round, the per-round
lines, and the final medians with the ratios between tools.

Owns: the `Measurement` record, formatting, medians over successful rounds and the ratios
(tritonload / perf_analyzer, raw / perf_analyzer, tritonload / raw, each when both tools ran).
Never runs anything; pure functions of the measurements.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

TOOLS = ("perf_analyzer", "raw", "tritonload")
"""Every tool the benchmark knows, in its default order."""
RATIOS = (("tritonload", "perf_analyzer"), ("raw", "perf_analyzer"), ("tritonload", "raw"))
"""(numerator, denominator) of each ratio in the summary."""
SHORT = {"perf_analyzer": "PA", "raw": "raw", "tritonload": "TL"}


@dataclass
class Measurement:
    """One tool's result in one case and round; `error` says why a run gave no numbers."""

    case: str
    tool: str
    round: int
    throughput_rps: float | None = None
    server_rps: float | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    cpu_us_per_request: float | None = None
    whole_run_cpu_us_per_request: float | None = None
    own_cpu_us_per_request: float | None = None
    late_percent: float | None = None
    span_s: float | None = None
    error: str | None = None


def cell(value: float | None, digits: int = 0) -> str:
    """A number for a table, or `-` when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


ROUND_HEADER = (
    f"{'case':<11} {'tool':<13} {'req/s':>7} {'srv/s':>7} {'p50 µs':>7} {'p99 µs':>7} "
    f"{'CPU µs/req':>10} {'whole µs/req':>12} {'own µs/req':>10} {'late %':>6} {'span s':>6}"
)


def round_line(m: Measurement) -> str:
    """One row of the per-round table (or the error)."""
    if m.error:
        return f"{m.case:<11} {m.tool:<13} FAILED: {m.error}"
    return (
        f"{m.case:<11} {m.tool:<13} {cell(m.throughput_rps):>7} {cell(m.server_rps):>7} {cell(m.p50_us):>7} "
        f"{cell(m.p99_us):>7} {cell(m.cpu_us_per_request):>10} {cell(m.whole_run_cpu_us_per_request):>12} "
        f"{cell(m.own_cpu_us_per_request):>10} {cell(m.late_percent, 1):>6} {cell(m.span_s, 1):>6}"
    )


SUMMARY_FIELDS = (
    ("throughput_rps", "req/s"),
    ("server_rps", "server req/s"),
    ("p50_us", "p50 µs"),
    ("p99_us", "p99 µs"),
    ("cpu_us_per_request", "CPU µs/req"),
)
LATE_FIELD = ("late_percent", "late %")  # open loop only; no ratio (the tools' rules differ)


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that are present, or None."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass(frozen=True)
class SummaryRow:
    """One metric of one case: each tool's median over its successful rounds, and the ratios of medians."""

    case: str
    metric: str
    medians: dict[str, float | None]
    ratios: dict[str, float | None]
    ok_rounds: str


def ratio_name(numerator: str, denominator: str) -> str:
    return f"{numerator}/{denominator}"


def summary_rows(
    measurements: Sequence[Measurement], cases: Sequence[tuple[str, bool]], tools: Sequence[str]
) -> list[SummaryRow]:
    """Per case (name, is open loop) and metric: each tool's median over its successful rounds and the
    ratios between the tools that ran (late % in open loop, without ratios)."""
    pairs = [(n, d) for n, d in RATIOS if n in tools and d in tools]
    rows = []
    for case, is_open in cases:
        ok = {tool: [m for m in measurements if m.case == case and m.tool == tool and not m.error] for tool in tools}
        rounds = "/".join(str(len(ok[tool])) for tool in tools)
        for field, label in (*SUMMARY_FIELDS, LATE_FIELD) if is_open else SUMMARY_FIELDS:
            medians = {tool: median([getattr(m, field) for m in ok[tool]]) for tool in tools}
            ratios: dict[str, float | None] = {}
            for numerator, denominator in pairs if field != LATE_FIELD[0] else ():
                top, bottom = medians[numerator], medians[denominator]
                ratios[ratio_name(numerator, denominator)] = top / bottom if bottom and top is not None else None
            rows.append(SummaryRow(case, label, medians, ratios, rounds))
    return rows


def print_summary(rows: Sequence[SummaryRow], tools: Sequence[str]) -> None:
    """The final table: each tool's median and the ratios of medians."""
    pairs = [(n, d) for n, d in RATIOS if n in tools and d in tools]
    ratio_labels = [f"{SHORT[n]}/{SHORT[d]}" for n, d in pairs]
    header = f"\n{'case':<11} {'metric':<13} " + " ".join(f"{tool:>13}" for tool in tools)
    header += "".join(f" {label:>7}" for label in ratio_labels) + f" {'ok rounds':>9}"
    print(header)
    for row in rows:
        digits = 1 if row.metric == LATE_FIELD[1] else 0
        line = f"{row.case:<11} {row.metric:<13} " + " ".join(f"{cell(row.medians[t], digits):>13}" for t in tools)
        line += "".join(f" {cell(row.ratios.get(ratio_name(n, d)), 2):>7}" for n, d in pairs)
        print(f"{line} {row.ok_rounds:>9}")
    print(f"(ok rounds: {' / '.join(tools)}; ratios of the medians: " + ", ".join(ratio_labels) + ")")
