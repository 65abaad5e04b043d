"""The text summary of a run set: one line per run and traffic entry, then the median and the spread.

Owns what ``tritonload run --repeat`` prints at the end and what ``tritonload report`` prints for a
run set (and writes as ``report.txt`` in the set's directory): per traffic entry the throughput,
latency p50/p99 and errors of every run, their median, and the run-to-run spread (coefficient of
variation), which is what a comparison of run sets judges against. Pure: a run set in, text out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from loadtest.recording.runset import RunSet
from loadtest.report._view import fmt_ms

_COLUMNS = f"{'traffic':<20} {'run':<12} {'status':<11} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}"


def _numbers(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _median(values: Sequence[float | None]) -> float | None:
    numbers = _numbers(values)
    return statistics.median(numbers) if numbers else None


def _cv(values: Sequence[float | None]) -> str:
    numbers = _numbers(values)
    if len(numbers) < 2 or not statistics.fmean(numbers):
        return "-"
    return f"{100.0 * statistics.stdev(numbers) / statistics.fmean(numbers):.1f}%"


def render_runset_text(runset: RunSet) -> str:
    """One block per traffic entry: each run's numbers, the median and the coefficient of variation."""
    index = runset.index
    planned = index.get("planned", len(runset.runs))
    status = index.get("status", "?")
    exit_code = index.get("exit_code")
    lines = [
        f"run set {runset.path}: {len(runset.runs)} of {planned} runs, {status}"
        + (f", exit code {exit_code}" if exit_code is not None else ""),
        "",
        _COLUMNS,
    ]
    names = list(dict.fromkeys(name for run in runset.runs for name in run.traffic_names))
    for name in names:
        rates: list[float | None] = []
        p50s: list[float | None] = []
        p99s: list[float | None] = []
        for run in runset.runs:
            entry = run.summary.get("traffic", {}).get(name)
            if entry is None:
                continue
            latency = (entry.get("metrics") or {}).get("latency") or {}
            rates.append(entry.get("throughput_rps"))
            p50s.append(latency.get("p50"))
            p99s.append(latency.get("p99"))
            lines.append(
                f"{name[:20]:<20} {run.path.name[:12]:<12} {str(run.summary.get('status', ''))[:11]:<11} "
                f"{entry.get('throughput_rps', 0.0):>9.1f} {fmt_ms(latency.get('p50')):>9} "
                f"{fmt_ms(latency.get('p99')):>9} {entry.get('errors', 0):>7}"
            )
        median_rate = _median(rates)
        lines.append(
            f"{name[:20]:<20} {'median':<24} {median_rate if median_rate is not None else 0.0:>9.1f} "
            f"{fmt_ms(_median(p50s)):>9} {fmt_ms(_median(p99s)):>9}"
        )
        lines.append(f"{name[:20]:<20} {'spread (CV)':<24} {_cv(rates):>9} {_cv(p50s):>9} {_cv(p99s):>9}")
    lines += [f"note: {note}" for note in runset.notes]
    return "\n".join(lines) + "\n"
