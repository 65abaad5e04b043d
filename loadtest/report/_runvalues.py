"""One number per run for every statistic a comparison judges.

Owns which statistics are compared and where each run's value comes from: per traffic entry (and,
when a run has more than one entry, for all traffic merged, shown as ``(all)``), each time metric's
percentiles (``summary.json``, or ``latency.hlog`` for a percentile the summary does not list), the
throughput and the error rate. Reads loaded runs only; never judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.rundir import OVERALL, Run, merge_traffic, percentile_key

THROUGHPUT = "throughput"
ERROR_RATE = "error_rate"
COMPARED_METRICS: tuple[str, ...] = ("latency", "response_time", "ttfr", "gap")
"""Time metrics compared (``responses`` is a count of the model's output, not a performance number)."""
OVERALL_LABEL = "(all)"
"""How the merged pseudo entry is shown."""

Key = tuple[str, str, str]
"""(traffic entry, metric, statistic): ``("sleep", "latency", "p99")``, ``("sleep", "throughput", "throughput")``."""


@dataclass
class RunValues:
    """The statistics of one run."""

    values: dict[Key, float] = field(default_factory=dict)
    samples: dict[tuple[str, str], int] = field(default_factory=dict)
    """(traffic, metric) -> samples in the run's histogram."""
    throughput_rps: dict[str, float] = field(default_factory=dict)


def recorded_percentiles(run: Run) -> tuple[float, ...]:
    """The percentiles a run's summary lists."""
    return tuple(float(p) for p in run.summary.get("percentiles", ()))


def run_values(run: Run, percentiles: Sequence[float]) -> RunValues:
    """Every compared statistic of ``run`` (time metrics, throughput, error rate per traffic entry)."""
    result = RunValues()
    blocks: dict[str, dict[str, Any]] = dict(run.summary.get("traffic", {}))
    if len(blocks) > 1 and run.summary.get("overall"):
        blocks[OVERALL] = run.summary["overall"]
    missing = [p for p in percentiles if p not in set(recorded_percentiles(run))]
    histograms: dict[tuple[str, str], HdrHistogram] | None = None
    for name, block in blocks.items():
        label = OVERALL_LABEL if name == OVERALL else name
        for metric in COMPARED_METRICS:
            stats = (block.get("metrics") or {}).get(metric)
            if not stats or not stats.get("count"):
                continue
            result.samples[(label, metric)] = int(stats["count"])
            if missing and histograms is None:
                histograms = _histograms(run)
            exact = (
                dict(zip(missing, _from_histogram(histograms, name, metric, missing), strict=True)) if missing else {}
            )
            for percentile in percentiles:
                key = percentile_key(percentile)
                value = exact.get(percentile, stats.get(key))
                if value is not None:
                    result.values[(label, metric, key)] = float(value)
        result.values[(label, THROUGHPUT, THROUGHPUT)] = float(block.get("throughput_rps", 0.0))
        result.values[(label, ERROR_RATE, ERROR_RATE)] = float(block.get("error_rate", 0.0))
        result.throughput_rps[label] = float(block.get("throughput_rps", 0.0))
    return result


def _histograms(run: Run) -> dict[tuple[str, str], HdrHistogram]:
    totals = run.histograms()
    merged = merge_traffic(totals, run.highest_us)
    return {**totals, **{(OVERALL, metric): histogram for metric, histogram in merged.items()}}


def _from_histogram(
    histograms: dict[tuple[str, str], HdrHistogram] | None, name: str, metric: str, percentiles: Sequence[float]
) -> list[float | None]:
    histogram = (histograms or {}).get((name, metric))
    if histogram is None or not histogram.get_total_count():
        return [None] * len(percentiles)
    return [float(v) for v in value_at_percentiles(histogram, percentiles)]
