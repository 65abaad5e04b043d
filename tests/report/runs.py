"""Helpers for report tests: the committed fixture runs and synthetic run directories.

Synthetic runs go through the real writer (``Recorder`` -> ``RunWriter`` -> ``build_summary``), so
they are run directories exactly as ``tritonload run`` leaves them, with chosen numbers and names.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtest.recording.recorder import Recorder, RequestOutcome
from loadtest.recording.rundir import RunWriter, build_summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "runs"
START_EPOCH_S = 1_790_000_000.0


def fixture_copy(name: str, tmp_path: Path) -> Path:
    """A writable copy of a committed fixture run (reports are written into the run directory)."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def write_run(
    run_dir: Path,
    intervals: Sequence[Mapping[str, Sequence[int]]],
    *,
    errors: Mapping[str, Mapping[str, int]] | None = None,
    scenario_yaml: str = "version: 1\n",
    meta: Mapping[str, Any] | None = None,
    traffic_info: Mapping[str, Mapping[str, Any]] | None = None,
    percentiles: Sequence[float] = (50.0, 90.0, 99.0),
    interval_s: float = 1.0,
    error: str | None = None,
    slos: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Write a closed-loop run: ``intervals[i][traffic]`` are the latencies (µs) of interval ``i``.

    ``errors[traffic][kind]`` failed requests are added to the first interval.
    """
    names = list(dict.fromkeys(name for interval in intervals for name in interval))
    recorder = Recorder(highest_us=10_000_000)
    for name in names:
        recorder.declare(name, ["latency"])
    recorder.start_measuring(0)
    writer = RunWriter(run_dir, scenario_yaml=scenario_yaml, start_epoch_s=START_EPOCH_S)
    for index, interval in enumerate(intervals):
        for name, latencies in interval.items():
            for latency_us in latencies:
                recorder.record(RequestOutcome(name, latency_us=int(latency_us)))
        if index == 0:
            for name, kinds in (errors or {}).items():
                for kind, count in kinds.items():
                    for _ in range(count):
                        recorder.record(RequestOutcome(name, error_kind=kind))
        end_ns = int((index + 1) * interval_s * 1e9)
        writer.write_interval(recorder.roll(end_ns), {"users": 2, "in_flight": 1})
    duration_s = len(intervals) * interval_s
    summary = build_summary(
        recorder,
        run_id=run_dir.name,
        status="completed",
        complete=True,
        started_at_s=START_EPOCH_S,
        ended_at_s=START_EPOCH_S + duration_s,
        duration_s=duration_s,
        percentiles=percentiles,
        meta=dict(meta or {"scenario": {"name": "synthetic", "hash": "sha256:s", "seed": 0}}),
        traffic_info=dict(traffic_info or {name: {"pattern": "sync"} for name in names}),
        error=error,
        slos=slos,
    )
    writer.write_summary(summary)
    writer.close()
    return summary
