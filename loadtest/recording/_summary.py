"""``summary.json``'s statistics: per traffic entry, per kind (unary, stream) and overall, from histograms.

Owns how a run's totals become the summary's numbers: counts, throughput, error rate and the
latency percentiles of each entry; the ``(all unary)`` / ``(all streams)`` totals, whose latencies
are never merged; and the summary's top-level fields. Pure: reads a recorder's totals, writes
nothing (``rundir`` writes the file).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import summary_stats
from loadtest.recording.recorder import TIME_METRICS, TTFR, Recorder, TagKey, TrafficCounters, new_histogram

SUMMARY_VERSION = 1
OVERALL = "*"
"""Name of the pseudo traffic entry that merges every entry (global SLOs are evaluated on it)."""
UNARY = "unary"
STREAM = "stream"
KINDS: tuple[str, ...] = (UNARY, STREAM)
"""Kinds of traffic whose latencies are never merged in a report (see :func:`kind_summaries`)."""
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)


def percentile_key(percentile: float) -> str:
    """``50 -> "p50"``, ``99.9 -> "p99.9"``."""
    return f"p{percentile:g}"


def histogram_stats(histogram: HdrHistogram, percentiles: Sequence[float]) -> dict[str, Any]:
    """Count, min, mean, max, stddev and the percentiles of one histogram (``None`` when empty)."""
    return dict(summary_stats(histogram, percentiles))


def merge_traffic(histograms: Mapping[TagKey, HdrHistogram], highest_us: int) -> dict[str, HdrHistogram]:
    """Per metric, every traffic entry's histogram added together."""
    merged: dict[str, HdrHistogram] = {}
    for (_, metric), histogram in histograms.items():
        total = merged.get(metric)
        if total is None:
            total = merged[metric] = new_histogram(metric, highest_us)
        total.add(histogram)
    return merged


def traffic_summary(
    counters: TrafficCounters,
    histograms: Mapping[str, HdrHistogram],
    duration_s: float,
    percentiles: Sequence[float],
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary block of one traffic entry (or of the overall pseudo entry)."""
    requests = counters.ok + counters.error_count
    entry: dict[str, Any] = dict(info or {})
    entry.update(
        {
            "requests": requests,
            "ok": counters.ok,
            "errors": counters.error_count,
            "errors_by_kind": dict(sorted(counters.errors.items())),
            "error_rate": (counters.error_count / requests) if requests else 0.0,
            "throughput_rps": round(counters.ok / duration_s, 3) if duration_s > 0 else 0.0,
            "late_sends": counters.late,
            "clamped_values": counters.clamped,
            "metrics": {
                metric: {**histogram_stats(h, percentiles), "unit": "us" if metric in TIME_METRICS else "count"}
                for metric, h in histograms.items()
            },
        }
    )
    return entry


def entry_kind(block: Mapping[str, Any]) -> str:
    """``"stream"`` for a decoupled traffic entry (its latency runs to the final response), else ``"unary"``."""
    streaming = block.get("pattern") == "decoupled" or TTFR in (block.get("metrics") or {})
    return STREAM if streaming else UNARY


def kind_summaries(
    traffic: Mapping[str, Mapping[str, Any]],
    histograms: Mapping[TagKey, HdrHistogram],
    *,
    highest_us: int,
    duration_s: float,
    percentiles: Sequence[float],
) -> dict[str, dict[str, Any]]:
    """Unary entries and streams totalled apart (``summary.json["overall_by_kind"]``).

    A stream's latency runs to its final response, so a percentile over both kinds describes
    neither. Each kind present gets a block like a traffic entry's, plus ``entries`` (its names).

    Args:
        traffic: the summary's traffic blocks (their counters are added up).
        histograms: whole-run histograms per (traffic, metric) (merged per kind).
    """
    result: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        names = [name for name, block in traffic.items() if entry_kind(block) == kind]
        if not names:
            continue
        counters = TrafficCounters()
        for name in names:
            block = traffic[name]
            errors: Counter[str] = Counter(block.get("errors_by_kind") or {})
            counters.add(
                TrafficCounters(
                    int(block.get("ok", 0)),
                    errors,
                    int(block.get("late_sends", 0)),
                    int(block.get("clamped_values", 0)),
                )
            )
        chosen = {key: histogram for key, histogram in histograms.items() if key[0] in names}
        summary = traffic_summary(counters, merge_traffic(chosen, highest_us), duration_s, percentiles)
        result[kind] = {"entries": names, **summary}
    return result


def console_totals(summary: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The total rows of a console table: ``(all unary)`` and ``(all streams)`` when the run has both
    kinds (their latencies are never merged), else ``(all)``."""
    kinds = summary.get("overall_by_kind") or {}
    if UNARY in kinds and STREAM in kinds:
        return [("(all unary)", kinds[UNARY]), ("(all streams)", kinds[STREAM])]
    return [("(all)", summary.get("overall", {}))]


def build_summary(
    recorder: Recorder,
    *,
    run_id: str,
    status: str,
    complete: bool,
    started_at_s: float,
    ended_at_s: float,
    duration_s: float,
    percentiles: Sequence[float],
    meta: Mapping[str, Any],
    traffic_info: Mapping[str, Mapping[str, Any]],
    error: str | None = None,
    slos: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Assemble ``summary.json`` from a recorder's totals."""
    by_traffic: dict[str, dict[str, HdrHistogram]] = {}
    for (name, metric), histogram in recorder.totals.items():
        by_traffic.setdefault(name, {})[metric] = histogram
    names = list(dict.fromkeys([*traffic_info, *recorder.traffic_names(), *by_traffic]))
    traffic = {
        name: traffic_summary(
            recorder.total_counters.get(name, TrafficCounters()),
            by_traffic.get(name, {}),
            duration_s,
            percentiles,
            traffic_info.get(name),
        )
        for name in names
    }
    overall_counters = TrafficCounters()
    for counters in recorder.total_counters.values():
        overall_counters.add(counters)
    overall = traffic_summary(
        overall_counters, merge_traffic(recorder.totals, recorder.highest_us), duration_s, percentiles
    )
    by_kind = kind_summaries(
        traffic, recorder.totals, highest_us=recorder.highest_us, duration_s=duration_s, percentiles=percentiles
    )
    return {
        "summary_version": SUMMARY_VERSION,
        "run_id": run_id,
        "status": status,
        "complete": complete,
        "error": error,
        "started_at": _iso(started_at_s),
        "ended_at": _iso(ended_at_s),
        "duration_s": round(duration_s, 3),
        "warmup_requests": recorder.warmup_requests,
        "percentiles": list(percentiles),
        "highest_trackable_us": recorder.highest_us,
        **dict(meta),
        "traffic": traffic,
        "overall": overall,
        "overall_by_kind": by_kind,
        "slos": list(slos),
    }


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{int(epoch_s % 1 * 1000):03d}Z"
