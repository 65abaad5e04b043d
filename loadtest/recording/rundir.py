"""The run directory: the contract between ``tritonload run`` and everything after it.

Owns the files of ``reports/<run-id>/`` and their formats: writing them while a run goes (so a crash,
Ctrl-C or a full disk still leaves what was measured, every file whole), and reading them back for
reports and comparisons without the server or the scenario file. Never talks to a server and never
decides what to measure.
The summary's statistics (per entry, per kind, overall) are computed in ``_summary``.

Files (see docs/results.md):

- ``scenario.yaml``: the resolved scenario (defaults filled in, no secrets);
- ``summary.json``: versioned summary (:data:`SUMMARY_VERSION`), rewritten at every interval and
  at the end; ``complete`` is false until the run finished normally;
- ``latency.hlog``: HdrHistogram interval log, one tag per (traffic entry, metric);
- ``intervals.jsonl``: per-interval counters (ok, errors by kind, late sends, users, in flight);
- ``server-stats.jsonl``: per-interval snapshots of Triton's statistics and metrics, when available;
- ``run.log``: the run's log;
- ``.space-reserve``: only while a run writes (:data:`RESERVE_BYTES` held back for the final summary).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hdrh.histogram import HdrHistogram

from loadtest.recording import hlog
from loadtest.recording._files import AppendFile, SpaceReserve, write_atomic
from loadtest.recording._readcheck import (
    MAX_SCENARIO_BYTES,
    MAX_SUMMARY_BYTES,
    RunDirectoryError,
    check_summary,
    check_summary_version,
    interval_record_problem,
    parse_json,
    read_bounded_text,
    read_jsonl,
    server_stats_record_problem,
)
from loadtest.recording._summary import (  # noqa: F401  (re-exported: the run directory's readers import them from here)
    DEFAULT_PERCENTILES,
    KINDS,
    OVERALL,
    STREAM,
    SUMMARY_VERSION,
    UNARY,
    build_summary,
    console_totals,
    entry_kind,
    histogram_stats,
    kind_summaries,
    merge_traffic,
    percentile_key,
    traffic_summary,
)
from loadtest.recording.recorder import Interval, TagKey

T = TypeVar("T")
SCENARIO_FILE = "scenario.yaml"
SUMMARY_FILE = "summary.json"
HLOG_FILE = "latency.hlog"
INTERVALS_FILE = "intervals.jsonl"
SERVER_STATS_FILE = "server-stats.jsonl"
LOG_FILE = "run.log"
RESERVE_FILE = ".space-reserve"
RESERVE_BYTES = 64 * 1024
"""Space a run holds back while it writes, given up only to write the final summary on a full disk."""


class RunWriteError(Exception):
    """A file of a run directory could not be written (a full disk, no permission).

    The message is one line: ``cannot write to <run dir>: <the system's reason>``.
    """

    def __init__(self, run_dir: Path, error: OSError) -> None:
        super().__init__(f"cannot write to {run_dir}: {error.strerror or error}")
        self.run_dir = run_dir
        self.errno = error.errno


def make_run_id(name: str, now_s: float | None = None) -> str:
    """A sortable run id: ``YYYYmmdd-HHMMSS-<name>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now_s))
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    return f"{stamp}-{safe}"


NOT_SHARED_WRITABLE = 0o022
"""Permission bits a run directory and the files tritonload writes into it never have (group and
world write), whatever the umask: no other account can change or replace what was measured."""


def without_shared_write(path: Path) -> None:
    """Remove group and world write permission from ``path`` (a file or directory)."""
    mode = path.stat().st_mode
    if mode & NOT_SHARED_WRITABLE:
        path.chmod(mode & 0o7777 & ~NOT_SHARED_WRITABLE)


def make_output_dir(path: Path) -> None:
    """Create ``path`` (and its parents) for a run or its reports, never group- or world-writable."""
    path.mkdir(parents=True, exist_ok=True)
    without_shared_write(path)


def write_output_text(path: Path, text: str) -> None:
    """Write a file of a run directory or a report, never group- or world-writable."""
    path.write_text(text, encoding="utf-8")
    without_shared_write(path)


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"


class RunWriter:
    """Writes one run directory as the run goes.

    A failed write (a full disk, a lost permission) raises :class:`RunWriteError` once and leaves every
    file as it was before that write: the logs end with whole lines and hold the same intervals,
    ``summary.json`` is the previous one. After that the writer appends nothing more; :meth:`close`
    and :meth:`write_summary` give up the space the writer held in reserve (:data:`RESERVE_BYTES`), so
    that the final summary can still say why the run ended.

    Args:
        run_dir: the directory to create (it must not already hold a run).
        scenario_yaml: the resolved scenario text.
        start_epoch_s: wall-clock time of the measurement start (the interval log's base time).

    Raises:
        RunDirectoryError: ``run_dir`` already holds a run.
        RunWriteError: the directory or its first files cannot be written.
    """

    def __init__(self, run_dir: Path, *, scenario_yaml: str, start_epoch_s: float, comment: str = "") -> None:
        if (run_dir / SUMMARY_FILE).exists():
            raise RunDirectoryError(f"{run_dir} already holds a run; choose another --out")
        self.run_dir = run_dir
        self.failure: RunWriteError | None = None
        """The first failed write, after which nothing more is appended."""
        self._reserve: SpaceReserve | None = None
        self._hlog_file: AppendFile | None = None
        self._intervals: AppendFile | None = None
        self._server_stats: AppendFile | None = None
        self._base_ns: int | None = None
        try:
            make_output_dir(run_dir)
            self._reserve = SpaceReserve(run_dir / RESERVE_FILE, RESERVE_BYTES)
            write_atomic(run_dir / SCENARIO_FILE, scenario_yaml)
            self._hlog_file = AppendFile(run_dir / HLOG_FILE)
            self._hlog = hlog.IntervalLogWriter(self._hlog_file, start_epoch_s=start_epoch_s, comment=comment)
            self._intervals = AppendFile(run_dir / INTERVALS_FILE)
            for name in (SCENARIO_FILE, HLOG_FILE, INTERVALS_FILE):
                without_shared_write(run_dir / name)
        except OSError as exc:
            self.close()
            raise RunWriteError(run_dir, exc) from exc

    def _failed(self, exc: OSError) -> RunWriteError:
        self.failure = RunWriteError(self.run_dir, exc)
        return self.failure

    def write_interval(self, interval: Interval, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append one interval to ``latency.hlog`` and ``intervals.jsonl`` (to both or to neither);
        returns the jsonl record.

        Raises:
            RunWriteError: a file could not be written (nothing is appended after that).
        """
        if self._base_ns is None:
            self._base_ns = interval.start_ns
        start_s = (interval.start_ns - self._base_ns) / 1e9
        end_s = (interval.end_ns - self._base_ns) / 1e9
        record: dict[str, Any] = {
            "start_s": round(start_s, 3),
            "end_s": round(end_s, 3),
            "traffic": {name: counters.to_dict() for name, counters in interval.counters.items()},
        }
        record.update(extra or {})
        if self.failure is None and self._hlog_file is not None and self._intervals is not None:
            hlog_size = self._hlog_file.size
            try:
                self._hlog.write(start_s, end_s, interval.histograms)
                self._intervals.write(json.dumps(record) + "\n")
            except OSError as exc:
                self._hlog_file.cut_back(hlog_size)  # both files hold the same intervals
                raise self._failed(exc) from exc
        return record

    def write_server_stats(self, snapshot: Mapping[str, Any]) -> None:
        """Append one server statistics snapshot to ``server-stats.jsonl``.

        Raises:
            RunWriteError: the file could not be written (nothing is appended after that).
        """
        if self.failure is not None:
            return
        try:
            if self._server_stats is None:
                self._server_stats = AppendFile(self.run_dir / SERVER_STATS_FILE)
                without_shared_write(self.run_dir / SERVER_STATS_FILE)
            self._server_stats.write(json.dumps(snapshot, default=str) + "\n")
        except OSError as exc:
            raise self._failed(exc) from exc

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """(Re)write ``summary.json`` atomically. After a failed write, the reserve is given up for it.

        Raises:
            RunWriteError: ``summary.json`` could not be written (the previous one stays).
        """
        if self.failure is not None and self._reserve is not None:
            self._reserve.release()
        try:
            write_atomic(self.run_dir / SUMMARY_FILE, _json_text(summary))
            without_shared_write(self.run_dir / SUMMARY_FILE)
        except OSError as exc:
            if self.failure is None:
                raise self._failed(exc) from exc
            raise RunWriteError(self.run_dir, exc) from exc

    def close(self) -> None:
        """Close every open file and give up the reserve; safe to call twice."""
        for stream in (self._hlog_file, self._intervals, self._server_stats, self._reserve):
            if stream is not None:
                stream.close()


@dataclass
class Run:
    """A run directory read back: everything reports and comparisons need."""

    path: Path
    summary: dict[str, Any]
    scenario_yaml: str
    intervals: list[dict[str, Any]] = field(default_factory=list)
    server_stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def highest_us(self) -> int:
        """The histograms' highest trackable value."""
        return int(self.summary.get("highest_trackable_us", 3_600_000_000))

    @property
    def traffic_names(self) -> list[str]:
        """The run's traffic entries, in scenario order."""
        return list(self.summary.get("traffic", {}))

    def histograms(self) -> dict[TagKey, HdrHistogram]:
        """Whole-run histograms per (traffic, metric), recomputed from ``latency.hlog``.

        Raises:
            RunDirectoryError: ``latency.hlog`` is unreadable or corrupt.
        """
        return self._read_hlog(lambda path: hlog.read_totals(path, self.highest_us))

    def interval_histograms(self) -> list[hlog.LoggedInterval]:
        """Every interval histogram in file order.

        Raises:
            RunDirectoryError: ``latency.hlog`` is unreadable or corrupt.
        """
        return self._read_hlog(lambda path: list(hlog.read_intervals(path, self.highest_us)))

    @property
    def has_hlog(self) -> bool:
        """Whether the run wrote ``latency.hlog`` (a run that failed at once may not have)."""
        return (self.path / HLOG_FILE).is_file()

    def _read_hlog(self, read: Callable[[Path], T]) -> T:
        path = self.path / HLOG_FILE
        try:
            return read(path)
        except FileNotFoundError:
            raise RunDirectoryError(f"{path} is missing") from None
        except hlog.IntervalLogError as exc:
            raise RunDirectoryError(f"{path}:{exc.line}: {exc.reason}") from None
        except OSError as exc:
            raise RunDirectoryError(f"{path} is unreadable: {exc.strerror or exc}") from None


def load_run(path: str | Path) -> Run:
    """Read a run directory, checking every file it reads (see ``loadtest.recording._readcheck``).

    Raises:
        RunDirectoryError: not a run directory, a summary of an unknown or newer version, or a file
            that is truncated, corrupt or of the wrong shape (one line naming the file and the field).
    """
    run_dir = Path(path)
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.is_file():
        raise RunDirectoryError(f"{run_dir} is not a run directory (no {SUMMARY_FILE})")
    summary = parse_json(read_bounded_text(summary_path, MAX_SUMMARY_BYTES), str(summary_path))
    check_summary_version(summary, str(summary_path), SUMMARY_VERSION)
    check_summary(summary, str(summary_path))
    scenario_path = run_dir / SCENARIO_FILE
    scenario_yaml = read_bounded_text(scenario_path, MAX_SCENARIO_BYTES) if scenario_path.is_file() else ""
    return Run(
        path=run_dir,
        summary=summary,
        scenario_yaml=scenario_yaml,
        intervals=read_jsonl(run_dir / INTERVALS_FILE, interval_record_problem),
        server_stats=read_jsonl(run_dir / SERVER_STATS_FILE, server_stats_record_problem),
    )
