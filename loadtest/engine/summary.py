"""A run's summary.json as the session writes it: the recorder's results plus what the engine watched.

Pure assembly, no I/O: :func:`assemble` adds the generator's own cost and health, stalls and unfinished
requests to :func:`loadtest.recording.rundir.build_summary`'s figures; :func:`server_counts` turns the
server's success counts at the start and end of measuring into the deltas the summary carries;
:func:`judge_slos` evaluates the scenario's SLOs on a final summary (only a completed run is judged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from loadtest.engine.generator import LagProbe, run_summary
from loadtest.engine.watch import RunWatch
from loadtest.recording.recorder import Recorder
from loadtest.recording.rundir import build_summary
from loadtest.slo.verdicts import evaluate_slos

CLIENT_CPU_NOTE = "CPU time of the load-generator process while measuring (all its threads)"


def assemble(
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
    traffic_info: Mapping[str, Any],
    error: str | None,
    cpu_s: float | None,
    wall_s: float,
    open_loop: bool,
    lag_probe: LagProbe,
    watch: RunWatch,
    stalls_from_ns: int,
    end_ns: int,
) -> dict[str, Any]:
    """The summary of a run so far (``cpu_s`` None: measuring has not begun, no generator figures)."""
    summary = build_summary(
        recorder,
        run_id=run_id,
        status=status,
        complete=complete,
        started_at_s=started_at_s,
        ended_at_s=ended_at_s,
        duration_s=duration_s,
        percentiles=tuple(percentiles),
        meta=dict(meta),
        traffic_info=dict(traffic_info),
        error=error,
    )
    if cpu_s is not None:
        requests = summary["overall"]["requests"]
        summary["client"] = {
            "cpu_s": round(cpu_s, 3),
            "cpu_us_per_request": round(cpu_s * 1e6 / requests, 1) if requests else None,
            "note": CLIENT_CPU_NOTE,
        }
        load = meta.get("load") or {}
        offered_rps = load.get("rate") if open_loop and not load.get("stages") else None
        late = watch.late_sends if open_loop else None
        summary["generator"] = run_summary(
            cpu_s, wall_s, lag_probe, summary["overall"], late, offered_rps, watch.saturated_intervals
        )
    summary["stalls"] = watch.stall_list(stalls_from_ns, end_ns)
    if watch.unfinished:
        summary["unfinished"] = watch.unfinished
    return summary


def server_counts(start: Mapping[str, int], end: Mapping[str, int]) -> dict[str, dict[str, int | None]]:
    """Per model endpoint: the server's success count when measuring began, at the end, and the delta."""
    return {
        label: {
            "success_at_start": count,
            "success_at_end": end.get(label),
            "success_delta": end[label] - count if label in end else None,
        }
        for label, count in start.items()
    }


def judge_slos(
    slos: Sequence[Any], summary: Mapping[str, Any], status: str, histograms: Callable[[], Any]
) -> list[dict[str, Any]]:
    """The verdict of every SLO; on a run that did not complete each is ``passed: None`` with the reason.

    ``histograms`` reads the run's merged histograms, called only for a percentile the summary lacks.
    """
    results = evaluate_slos(slos, dict(summary), histograms)
    if status != "completed":  # SLOs speak of a whole run (docs/reports.md)
        for result in results:
            result.update(passed=None, reason=f"not judged: the run is {status}")
    return results


__all__ = ["CLIENT_CPU_NOTE", "assemble", "judge_slos", "server_counts"]
