"""The run directory contract: written as the run goes, read back alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.recording.recorder import Recorder, RequestOutcome
from loadtest.recording.rundir import (
    SUMMARY_FILE,
    RunDirectoryError,
    RunWriter,
    build_summary,
    histogram_stats,
    load_run,
    make_run_id,
)


def _write_run(run_dir: Path, *, complete: bool) -> dict[str, object]:
    recorder = Recorder(highest_us=10_000_000)
    recorder.declare("a", ["latency"])
    recorder.start_measuring(0)
    writer = RunWriter(run_dir, scenario_yaml="version: 1\n", start_epoch_s=1_790_000_000.0)
    for second in range(2):
        for value in range(100, 200):
            recorder.record(RequestOutcome("a", latency_us=value * (second + 1)))
        recorder.record(RequestOutcome("a", error_kind="timeout"))
        writer.write_interval(recorder.roll((second + 1) * 10**9), {"users": 2, "in_flight": 1})
    summary = build_summary(
        recorder,
        run_id=run_dir.name,
        status="completed" if complete else "interrupted",
        complete=complete,
        started_at_s=1_790_000_000.0,
        ended_at_s=1_790_000_002.0,
        duration_s=2.0,
        percentiles=[50, 99],
        meta={"scenario": {"name": "t", "hash": "sha256:x", "seed": 0}},
        traffic_info={"a": {"pattern": "sync"}},
    )
    writer.write_summary(summary)
    writer.close()
    return summary


def test_a_written_run_reads_back_with_the_same_numbers(tmp_path: Path) -> None:
    summary = _write_run(tmp_path / "run", complete=True)
    run = load_run(tmp_path / "run")
    assert run.summary == json.loads(json.dumps(summary))
    entry = run.summary["traffic"]["a"]
    assert entry["requests"] == 202 and entry["ok"] == 200 and entry["errors_by_kind"] == {"timeout": 2}
    assert entry["throughput_rps"] == 100.0
    assert entry["pattern"] == "sync"
    recomputed = histogram_stats(run.histograms()[("a", "latency")], [50, 99])
    assert {k: entry["metrics"]["latency"][k] for k in recomputed} == recomputed
    assert [i["traffic"]["a"]["ok"] for i in run.intervals] == [100, 100]
    assert run.summary["overall"]["requests"] == 202


def test_an_interrupted_run_is_marked_incomplete(tmp_path: Path) -> None:
    _write_run(tmp_path / "run", complete=False)
    run = load_run(tmp_path / "run")
    assert run.summary["complete"] is False
    assert run.summary["status"] == "interrupted"


def test_a_torn_last_line_of_intervals_is_ignored(tmp_path: Path) -> None:
    _write_run(tmp_path / "run", complete=True)
    with (tmp_path / "run" / "intervals.jsonl").open("a") as stream:
        stream.write('{"start_s": 2.0, "end')
    assert len(load_run(tmp_path / "run").intervals) == 2


def test_load_run_rejects_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        load_run(tmp_path)
    (tmp_path / SUMMARY_FILE).write_text('{"summary_version": 99}')
    with pytest.raises(RunDirectoryError, match="summary_version 99"):
        load_run(tmp_path)


def test_a_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    _write_run(tmp_path / "run", complete=True)
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        RunWriter(tmp_path / "run", scenario_yaml="", start_epoch_s=0.0)


def test_run_ids_sort_by_time_and_are_path_safe() -> None:
    assert make_run_id("my scenario/x", 0).endswith("-my-scenario-x")
    assert make_run_id("a", 0) < make_run_id("a", 86_400)
