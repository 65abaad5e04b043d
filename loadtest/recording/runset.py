"""The run set: several run directories of one scenario under one parent, with an index.

Owns the layout that ``tritonload run --repeat N``, ``ab`` and ``calibrate`` leave and that ``compare``
and ``report`` read (see docs/results.md)::

    reports/<run-id>/
      runset.json        the index below, rewritten after every run (a Ctrl-C leaves a valid one)
      r01/ r02/ ...      each a normal run directory (see loadtest.recording.rundir)

A plain run directory reads as a set of one, so every consumer takes either. Never runs anything
and never judges the runs; only files.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.recording.rundir import SUMMARY_FILE, Run, RunDirectoryError, load_run

RUNSET_FILE = "runset.json"
RUNSET_VERSION = 1


def repeat_dir_name(index: int, count: int) -> str:
    """Directory name of repeat ``index`` (1-based) of ``count``: ``r01`` ... (wider beyond 99)."""
    return f"r{index:0{max(2, len(str(count)))}d}"


def is_runset(path: str | Path) -> bool:
    """True when ``path`` holds a ``runset.json`` index."""
    return (Path(path) / RUNSET_FILE).is_file()


def _now_iso() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class RunSetWriter:
    """Keeps a run set's ``runset.json`` up to date while its runs go.

    Args:
        path: the parent directory (created; it must not already hold a run or a run set).
        planned: how many runs the set is meant to hold.
        kind: what made the set (``repeat``, ``ab-baseline``, ``calibration-a``, ...).
        info: more fields for the index (scenario name and hash, the command, ...).
    """

    def __init__(self, path: Path, *, planned: int, kind: str, info: Mapping[str, Any] | None = None) -> None:
        if (path / SUMMARY_FILE).exists() or (path / RUNSET_FILE).exists():
            raise RunDirectoryError(f"{path} already holds a run or a run set; choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.index: dict[str, Any] = {
            "runset_version": RUNSET_VERSION,
            "kind": kind,
            **dict(info or {}),
            "planned": planned,
            "status": "running",
            "exit_code": None,
            "started_at": _now_iso(),
            "ended_at": None,
            "runs": [],
        }
        self._write()

    def run_dir(self, index: int) -> Path:
        """Where run ``index`` (1-based) goes."""
        return self.path / repeat_dir_name(index, int(self.index["planned"]))

    def add(self, run_dir: Path, exit_code: int, status: str, extra: Mapping[str, Any] | None = None) -> None:
        """Record one finished (or interrupted) run."""
        entry = {"dir": run_dir.name, "exit_code": exit_code, "status": status, **dict(extra or {})}
        self.index["runs"].append(entry)
        self._write()

    def finish(self, status: str, exit_code: int) -> None:
        """Close the set: ``completed``, ``interrupted`` or ``failed``, and the set's exit code."""
        self.index.update({"status": status, "exit_code": exit_code, "ended_at": _now_iso()})
        self._write()

    def _write(self) -> None:
        target = self.path / RUNSET_FILE
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.index, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)


@dataclass
class RunSet:
    """A run set read back (or one run directory as a set of one)."""

    path: Path
    runs: list[Run]
    index: dict[str, Any] = field(default_factory=dict)
    """The ``runset.json`` contents (empty for a single run directory)."""
    notes: list[str] = field(default_factory=list)
    """Runs listed in the index that could not be read, and why."""

    @property
    def is_set(self) -> bool:
        """False for a plain run directory read as a set of one."""
        return bool(self.index)

    @property
    def name(self) -> str:
        """The set's directory name, or the run id of a single run."""
        if self.is_set or not self.runs:
            return self.path.name
        return str(self.runs[0].summary.get("run_id", self.path.name))

    def complete_runs(self) -> list[Run]:
        """The runs that ended normally (``complete: true``)."""
        return [run for run in self.runs if run.summary.get("complete", False)]


def load_runset(path: str | Path) -> RunSet:
    """Read a run set, or a run directory as a set of one.

    Raises:
        RunDirectoryError: neither a run directory nor a run set, an index of an unknown version,
            or a set none of whose runs can be read.
    """
    root = Path(path)
    index_path = root / RUNSET_FILE
    if not index_path.is_file():
        if not (root / SUMMARY_FILE).is_file():
            raise RunDirectoryError(f"{root} is not a run directory (no {SUMMARY_FILE}) or run set (no {RUNSET_FILE})")
        return RunSet(root, [load_run(root)])
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirectoryError(f"{index_path} is unreadable: {exc}") from exc
    if not isinstance(index, dict) or index.get("runset_version") != RUNSET_VERSION:
        version = index.get("runset_version") if isinstance(index, dict) else None
        raise RunDirectoryError(f"{index_path} has runset_version {version!r}; this tritonload reads {RUNSET_VERSION}")
    runs, notes = [], []
    for entry in index.get("runs", []):
        try:
            runs.append(load_run(root / str(entry.get("dir", ""))))
        except RunDirectoryError as exc:
            notes.append(f"{entry.get('dir')}: {exc}")
    if not runs:
        raise RunDirectoryError(f"{root} is a run set without a readable run" + (f" ({notes[0]})" if notes else ""))
    return RunSet(root, runs, index, notes)
