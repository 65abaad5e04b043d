"""Helpers for report tests: the committed fixture runs and synthetic run directories.

Synthetic runs go through the real writer (``Recorder`` -> ``RunWriter`` -> ``build_summary``), so
they are run directories exactly as ``tritonload run`` leaves them, with chosen numbers and names.
"""

from __future__ import annotations

import json
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


def write_set(
    set_dir: Path,
    medians_us: Sequence[float],
    *,
    seed: int = 0,
    samples: int = 900,
    sigma: float = 0.1,
    scenario_hash: str = "sha256:s",
    incomplete: Sequence[int] = (),
) -> Path:
    """A run set of ``len(medians_us)`` synthetic runs of one traffic entry ``t``; run i has median ``medians_us[i]``.

    Each run holds ``samples`` lognormal latencies (shape ``sigma``) over 3 one-second intervals; the
    runs listed in ``incomplete`` (0-based) are marked interrupted.
    """
    import numpy as np

    from loadtest.recording.runset import RunSetWriter

    rng = np.random.default_rng(seed)
    writer = RunSetWriter(set_dir, planned=len(medians_us), kind="repeat")
    for index, median in enumerate(medians_us):
        run_dir = writer.run_dir(index + 1)
        values = rng.lognormal(np.log(median), sigma, samples).astype(int)
        thirds = np.array_split(values, 3)
        summary = write_run(
            run_dir,
            [{"t": list(part)} for part in thirds],
            meta={"scenario": {"name": "synthetic", "hash": scenario_hash, "seed": 0}},
            percentiles=(50.0, 90.0, 99.0),
        )
        status = "completed"
        if index in incomplete:
            status = "interrupted"
            summary.update(status=status, complete=False)
            (run_dir / "summary.json").write_text(json.dumps(summary))
        writer.add(run_dir, 0 if status == "completed" else 130, status)
    writer.finish("completed", 0)
    return set_dir
