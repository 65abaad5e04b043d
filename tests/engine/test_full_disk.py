"""A run directory on a disk that fills up: every file stays whole and readable (unit tests, no server).

The full disk is simulated through ``loadtest.recording._files._write`` (the one place the writer's
bytes go through); the end-to-end test on a real tmpfs is in test_faults.py.
"""

from __future__ import annotations

import errno
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from loadtest.recording import _files, hlog
from loadtest.recording._files import AppendFile, SpaceReserve, write_atomic
from loadtest.recording.recorder import Recorder, RequestOutcome
from loadtest.recording.rundir import (
    HLOG_FILE,
    INTERVALS_FILE,
    RESERVE_BYTES,
    RESERVE_FILE,
    SUMMARY_FILE,
    RunDirectoryError,
    RunWriteError,
    RunWriter,
    build_summary,
    load_run,
)

HIGHEST_US = 10_000_000


class Disk:
    """Lets ``free_bytes`` more bytes through ``_files._write``, then fails like a full disk (a short
    write first, as a real one does)."""

    def __init__(self, free_bytes: int) -> None:
        self.free_bytes = free_bytes

    def write(self, fd: int, data: memoryview | bytes) -> int:
        if self.free_bytes <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        count = min(len(data), self.free_bytes)
        self.free_bytes -= count
        return _REAL_WRITE(fd, bytes(data[:count]))


_REAL_WRITE = _files._write


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    disk = Disk(free_bytes=1 << 40)
    monkeypatch.setattr(_files, "_write", disk.write)
    return disk


def recorder_with() -> tuple[Recorder, Callable[[int], object]]:
    recorder = Recorder(highest_us=HIGHEST_US)
    recorder.declare("a", ["latency"])
    recorder.start_measuring(0)

    def interval(second: int) -> object:
        for value in range(100, 300):
            recorder.record(RequestOutcome("a", latency_us=value * (second + 1)))
        recorder.record(RequestOutcome("a", error_kind="timeout"))
        return recorder.roll((second + 1) * 10**9)

    return recorder, interval


def summary_of(recorder: Recorder, run_dir: Path, status: str, error: str | None = None) -> dict[str, object]:
    return build_summary(
        recorder,
        run_id=run_dir.name,
        status=status,
        complete=status == "completed",
        started_at_s=1_790_000_000.0,
        ended_at_s=1_790_000_003.0,
        duration_s=3.0,
        percentiles=[50, 99],
        meta={},
        traffic_info={"a": {"pattern": "sync"}},
        error=error,
    )


def test_a_full_disk_mid_run_stops_the_writes_and_leaves_every_file_whole(tmp_path: Path, disk: Disk) -> None:
    run_dir = tmp_path / "run"
    recorder, interval = recorder_with()
    writer = RunWriter(run_dir, scenario_yaml="version: 1\n", start_epoch_s=1_790_000_000.0)
    assert (run_dir / RESERVE_FILE).stat().st_size == RESERVE_BYTES
    writer.write_interval(interval(0))  # type: ignore[arg-type]
    writer.write_summary(summary_of(recorder, run_dir, "running"))
    hlog_before = (run_dir / HLOG_FILE).read_bytes()
    intervals_before = (run_dir / INTERVALS_FILE).read_bytes()

    disk.free_bytes = 20  # the next interval's histogram line does not fit: a short write, then ENOSPC
    with pytest.raises(RunWriteError) as raised:
        writer.write_interval(interval(1))  # type: ignore[arg-type]
    assert str(raised.value) == f"cannot write to {run_dir}: No space left on device"
    assert writer.failure is raised.value
    assert (run_dir / HLOG_FILE).read_bytes() == hlog_before  # the torn line was cut off again
    assert (run_dir / INTERVALS_FILE).read_bytes() == intervals_before

    writer.write_interval(interval(2))  # type: ignore[arg-type]  # after a failure: nothing, quietly
    writer.write_server_stats({"t_s": 3.0})
    assert (run_dir / HLOG_FILE).read_bytes() == hlog_before

    # The final summary gets the reserve: the disk frees exactly what the writer held back.
    disk.free_bytes = RESERVE_BYTES
    final = summary_of(recorder, run_dir, "failed", error=str(raised.value))
    writer.write_summary(final)
    writer.close()
    assert not (run_dir / RESERVE_FILE).exists()
    assert not list(run_dir.glob("*.tmp"))

    run = load_run(run_dir)
    assert run.summary["status"] == "failed" and run.summary["error"].endswith("No space left on device")
    assert run.summary["traffic"]["a"]["requests"] == 3 * 201  # every request counted, in memory
    assert [i["traffic"]["a"]["ok"] for i in run.intervals] == [200]  # what reached the disk reads back
    assert run.histograms()[("a", "latency")].get_total_count() == 200


def test_an_interval_that_fits_the_interval_log_but_not_the_counters_is_in_neither(tmp_path: Path, disk: Disk) -> None:
    run_dir = tmp_path / "run"
    _, interval = recorder_with()
    writer = RunWriter(run_dir, scenario_yaml="version: 1\n", start_epoch_s=1_790_000_000.0)
    writer.write_interval(interval(0))  # type: ignore[arg-type]
    hlog_before = (run_dir / HLOG_FILE).read_bytes()
    intervals_before = (run_dir / INTERVALS_FILE).read_bytes()
    second = interval(1)
    dry_run = io.StringIO()
    hlog.IntervalLogWriter(dry_run, start_epoch_s=1_790_000_000.0).write(1.0, 2.0, second.histograms)  # type: ignore[attr-defined]
    hlog_line = dry_run.getvalue().splitlines(keepends=True)[-1]
    disk.free_bytes = len(hlog_line) + 10  # the histogram line fits; the counters' line does not
    with pytest.raises(RunWriteError):
        writer.write_interval(second)  # type: ignore[arg-type]
    assert (run_dir / HLOG_FILE).read_bytes() == hlog_before
    assert (run_dir / INTERVALS_FILE).read_bytes() == intervals_before
    writer.close()


def test_a_summary_that_does_not_fit_keeps_the_previous_one(tmp_path: Path, disk: Disk) -> None:
    run_dir = tmp_path / "run"
    recorder, interval = recorder_with()
    writer = RunWriter(run_dir, scenario_yaml="version: 1\n", start_epoch_s=1_790_000_000.0)
    writer.write_interval(interval(0))  # type: ignore[arg-type]
    writer.write_summary(summary_of(recorder, run_dir, "running"))
    before = (run_dir / SUMMARY_FILE).read_text()
    disk.free_bytes = 500
    with pytest.raises(RunWriteError, match="No space left on device"):
        writer.write_summary(summary_of(recorder, run_dir, "completed"))
    assert (run_dir / SUMMARY_FILE).read_text() == before
    assert json.loads(before)["status"] == "running"
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [RESERVE_FILE, "scenario.yaml", SUMMARY_FILE, HLOG_FILE, INTERVALS_FILE]
    )
    writer.close()


def test_a_disk_too_full_to_start_a_run_is_one_clear_error_and_leaves_no_half_files(tmp_path: Path, disk: Disk) -> None:
    disk.free_bytes = RESERVE_BYTES // 2
    with pytest.raises(RunWriteError, match=r"^cannot write to .*/run: No space left on device$"):
        RunWriter(tmp_path / "run", scenario_yaml="version: 1\n", start_epoch_s=0.0)
    assert list((tmp_path / "run").iterdir()) == []


def test_append_file_writes_whole_records_or_none(tmp_path: Path, disk: Disk) -> None:
    stream = AppendFile(tmp_path / "log")
    stream.write("one\n")
    disk.free_bytes = 3
    with pytest.raises(OSError, match="No space left"):
        stream.write("two two\n")
    disk.free_bytes = 100
    stream.write("three\n")
    stream.close()
    stream.close()
    assert (tmp_path / "log").read_text() == "one\nthree\n"


def test_write_atomic_leaves_the_old_file_and_no_temporary_file(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "summary.json"
    write_atomic(path, "old\n")
    disk.free_bytes = 2
    with pytest.raises(OSError):
        write_atomic(path, "new and longer\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_reserve_holds_real_bytes_until_released(tmp_path: Path) -> None:
    reserve = SpaceReserve(tmp_path / "r", 8192)
    assert (tmp_path / "r").stat().st_blocks * 512 >= 8192  # not a sparse file
    reserve.release()
    reserve.release()
    assert not (tmp_path / "r").exists()


# -- reading what a full disk or a kill left ----------------------------------------------------------
def write_interval_log(path: Path, intervals: int) -> str:
    _, interval = recorder_with()
    with path.open("w") as stream:
        writer = hlog.IntervalLogWriter(stream, start_epoch_s=1_790_000_000.0)
        for second in range(intervals):
            writer.write(float(second), float(second + 1), interval(second).histograms)  # type: ignore[attr-defined]
    return path.read_text()


def test_an_interval_log_cut_anywhere_in_its_last_line_reads_back_every_whole_line(tmp_path: Path) -> None:
    path = tmp_path / HLOG_FILE
    text = write_interval_log(path, 2)
    last_line_start = text.rstrip("\n").rindex("\n") + 1
    read_back = []
    for cut in range(last_line_start, len(text)):
        path.write_text(text[:cut])
        intervals = list(hlog.read_intervals(path, HIGHEST_US))
        # Every interval read back is whole; a cut that took only the newline took no data, so that
        # last line is still read, and whole.
        assert [i.histogram.get_total_count() for i in intervals] == [200] * len(intervals), cut
        read_back.append(len(intervals))
    assert read_back == [1] * (len(text) - 1 - last_line_start) + [2]
    path.write_text(text)
    assert len(list(hlog.read_intervals(path, HIGHEST_US))) == 2


def test_a_damaged_line_that_is_not_the_last_is_still_an_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    recorder, interval = recorder_with()
    writer = RunWriter(run_dir, scenario_yaml="version: 1\n", start_epoch_s=1_790_000_000.0)
    for second in range(3):
        writer.write_interval(interval(second))  # type: ignore[arg-type]
    writer.write_summary(summary_of(recorder, run_dir, "completed"))
    writer.close()
    lines = (run_dir / HLOG_FILE).read_text().splitlines(keepends=True)
    lines[-2] = lines[-2][:-20] + "\n"  # the middle of the file, not its torn end
    (run_dir / HLOG_FILE).write_text("".join(lines))
    with pytest.raises(RunDirectoryError, match=r"latency.hlog:\d+: not a valid interval line"):
        load_run(run_dir).histograms()
