"""Reading a sweep or capacity run's result file (``sweep.json`` / ``capacity.json``) for its reports.

Owns which file makes a run directory a capacity run, and the field-by-field check of what the
reports read (every problem with its path, e.g. ``steps[2].latency_us.p99 should be a number``), so a
broken or hostile file is refused with one clear line before anything is rendered. Fields the
reports do not read are left alone (the engine may add more). Never writes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadtest.recording._readcheck import RunDirectoryError, parse_json, read_bounded_text

SWEEP_FILE = "sweep.json"
CAPACITY_FILE = "capacity.json"
RESULT_FILES: tuple[str, ...] = (CAPACITY_FILE, SWEEP_FILE)
"""The files that make a run directory a capacity run (``capacity.json`` wins when both exist)."""
SUPPORTED_FORMAT = 1
MAX_RESULT_BYTES = 64 << 20
MAX_SHOWN_PROBLEMS = 5
_LATENCY_KEYS = ("p50", "p90", "p95", "p99", "p999", "max")


def result_file(run_dir: str | Path) -> Path | None:
    """The run directory's ``capacity.json`` or ``sweep.json``; None when it has neither."""
    for name in RESULT_FILES:
        path = Path(run_dir) / name
        if path.is_file():
            return path
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def _optional_number(value: Any) -> bool:
    return value is None or _number(value)


def _text(value: Any) -> bool:
    return isinstance(value, str)


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, block: Mapping[str, Any], key: str, test: Any, what: str, path: str, required: bool) -> bool:
        if key not in block:
            if required:
                self.found.append(f"{path}{key} is missing")
            return False
        if test(block[key]):
            return True
        shown = repr(block[key])
        self.found.append(f"{path}{key} should be {what}, got {shown[:60]}")
        return False


def result_problems(result: Any) -> list[str]:
    """Every field of a sweep/capacity result the reports cannot use, with its path."""
    problems = _Problems()
    if not isinstance(result, dict):
        return ["the file should hold a JSON object"]
    problems.check(result, "kind", lambda v: v in ("sweep", "capacity"), '"sweep" or "capacity"', "", True)
    for key in ("run_id", "scenario", "variable", "unit", "status"):
        problems.check(result, key, _text, "a text", "", key in ("run_id", "variable"))
    problems.check(result, "stability", lambda v: isinstance(v, dict), "a mapping", "", False)
    if problems.check(result, "slos", lambda v: isinstance(v, list), "a list", "", False):
        for index, slo in enumerate(result["slos"]):
            if not _text(slo):
                problems.found.append(f"slos[{index}] should be a text, got {repr(slo)[:60]}")
    problems.check(result, "notes", lambda v: isinstance(v, list), "a list", "", False)
    if problems.check(result, "steps", lambda v: isinstance(v, list), "a list", "", True):
        for index, step in enumerate(result["steps"]):
            _step_problems(step, f"steps[{index}].", problems)
    if problems.check(result, "answer", lambda v: v is None or isinstance(v, dict), "a mapping", "", False):
        answer = result.get("answer") or {}
        for key in ("level", "last_pass", "first_fail", "target_rate", "instances_now", "instances_needed"):
            problems.check(answer, key, _optional_number, "a number or null", "answer.", False)
        problems.check(answer, "headroom_pct", _optional_number, "a number or null", "answer.", False)
        problems.check(answer, "knee", lambda v: v is None or isinstance(v, dict), "a mapping", "answer.", False)
    return problems.found


def _step_problems(step: Any, path: str, problems: _Problems) -> None:
    if not isinstance(step, dict):
        problems.found.append(f"{path[:-1]} should be a mapping, got {repr(step)[:60]}")
        return
    problems.check(step, "level", _number, "a number", path, True)
    problems.check(
        step, "index", lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number", path, False
    )
    for key in ("throughput_rps", "error_rate", "start_s", "duration_s"):
        problems.check(step, key, _optional_number, "a number", path, False)
    for key in ("requests", "errors"):
        problems.check(
            step, key, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a count", path, False
        )
    for key in ("stable", "passed", "scouted"):
        problems.check(step, key, lambda v: v is None or isinstance(v, bool), "true, false or null", path, False)
    for key in ("tag", "note"):
        problems.check(step, key, lambda v: v is None or _text(v), "a text or null", path, False)
    for key in ("latency_us", "ttfr_us"):
        if problems.check(step, key, lambda v: v is None or isinstance(v, dict), "a mapping or null", path, False):
            for stat in _LATENCY_KEYS:
                problems.check(step[key] or {}, stat, _optional_number, "a number", f"{path}{key}.", False)
    for key in ("generator", "server"):
        problems.check(step, key, lambda v: v is None or isinstance(v, dict), "a mapping or null", path, False)
    if problems.check(step, "windows", lambda v: isinstance(v, list), "a list", path, False):
        for index, window in enumerate(step["windows"]):
            if not isinstance(window, dict):
                problems.found.append(f"{path}windows[{index}] should be a mapping")
    if problems.check(step, "slo", lambda v: isinstance(v, list), "a list", path, False):
        for index, slo in enumerate(step["slo"]):
            where = f"{path}slo[{index}]."
            if not isinstance(slo, dict):
                problems.found.append(f"{where[:-1]} should be a mapping")
                continue
            problems.check(slo, "slo", _text, "a text", where, False)
            problems.check(
                slo, "passed", lambda v: v is None or isinstance(v, bool), "true, false or null", where, False
            )
            for key in ("value", "measured", "threshold"):
                problems.check(slo, key, _optional_number, "a number or null", where, False)


def load_result(run_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The checked result of a sweep or capacity run directory, and its file.

    Raises:
        RunDirectoryError: no result file, unreadable, not JSON, a newer format, or a field of the wrong type.
    """
    path = result_file(run_dir)
    if path is None:
        raise RunDirectoryError(f"{run_dir} has no {CAPACITY_FILE} or {SWEEP_FILE}: not a sweep or capacity run")
    result = parse_json(read_bounded_text(path, MAX_RESULT_BYTES), str(path))
    version = result.get("format") if isinstance(result, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SUPPORTED_FORMAT:
        raise RunDirectoryError(
            f"{path} was written by a newer tritonload (format {version}); this one reads format {SUPPORTED_FORMAT}"
        )
    if isinstance(result, dict) and version != SUPPORTED_FORMAT:
        raise RunDirectoryError(f"{path} has an unknown format {version!r}; this tritonload reads {SUPPORTED_FORMAT}")
    problems = result_problems(result)
    if problems:
        more = f" (and {len(problems) - MAX_SHOWN_PROBLEMS} more)" if len(problems) > MAX_SHOWN_PROBLEMS else ""
        raise RunDirectoryError(
            f"{path} is not a valid {path.stem} result: {'; '.join(problems[:MAX_SHOWN_PROBLEMS])}{more}"
        )
    return path, result
