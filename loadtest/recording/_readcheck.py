"""Reading a run directory defensively: every file it holds may be truncated, corrupt or hostile.

Owns the reading rules for ``summary.json`` and the ``.jsonl`` files: size limits, encodings, JSON
nesting, the shape of every field a report or comparison relies on (a ``"requests": "many"`` must
become one clear error, not a ``ValueError`` deep inside a renderer), and the tolerance for a torn
last line (a run killed mid-write, or a full disk). Every problem is a :class:`RunDirectoryError`
with a one-line message naming the file. Never writes anything and never interprets the numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MAX_SUMMARY_BYTES = 64 << 20
"""Largest ``summary.json`` read (64 MiB; a summary of a hundred traffic entries is ~100 KiB)."""
MAX_SCENARIO_BYTES = 4 << 20
"""Largest ``scenario.yaml`` of a run read (the resolved form of a scenario file of at most 1 MiB)."""
MAX_SHOWN_PROBLEMS = 3
_STRING_INFO = ("pattern", "method", "model", "version", "protocol", "target", "url", "server", "model_label")
_COUNT_INFO = ("users", "in_flight", "concurrency", "batch_size")
_ENTRY_COUNTS = ("requests", "ok", "errors", "late_sends", "clamped_values")
_HIGHEST_TRACKABLE_LIMIT_US = 1 << 53


class RunDirectoryError(Exception):
    """A run directory is missing, unreadable or of an unknown format."""


def read_bounded_text(path: Path, limit_bytes: int) -> str:
    """The UTF-8 text of ``path``, read without ever holding more than ``limit_bytes`` + 1 bytes.

    Raises:
        RunDirectoryError: unreadable, larger than the limit, or not UTF-8.
    """
    try:
        with path.open("rb") as stream:
            data = stream.read(limit_bytes + 1)
    except OSError as exc:
        raise RunDirectoryError(f"{path} is unreadable: {exc.strerror or exc}") from None
    if len(data) > limit_bytes:
        raise RunDirectoryError(f"{path} is larger than {limit_bytes >> 20} MiB; it is not a file tritonload wrote")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunDirectoryError(f"{path} is not UTF-8 text (byte offset {exc.start})") from None


def parse_json(text: str, where: str) -> Any:
    """JSON text as Python data; malformed or absurdly nested JSON is a :class:`RunDirectoryError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirectoryError(f"{where} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise RunDirectoryError(f"{where} is not valid JSON: nested too deeply") from None


def check_summary_version(summary: Any, where: str, supported: int) -> None:
    """Refuse a summary that is not an object, has no version, or was written by a newer tritonload."""
    if not isinstance(summary, dict):
        raise RunDirectoryError(f"{where} is not a tritonload summary (a JSON object)")
    if "summary_version" not in summary:
        raise RunDirectoryError(f"{where} is not a tritonload summary (no summary_version)")
    version = summary["summary_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > supported:
        raise RunDirectoryError(
            f"{where} was written by a newer tritonload (summary_version {version}); this one reads "
            f"summary_version {supported}: upgrade tritonload to read it"
        )
    if version != supported or not _is_int(version):
        raise RunDirectoryError(
            f"{where} has an unknown summary_version {version!r}; this tritonload reads {supported}"
        )


def check_summary(summary: Mapping[str, Any], where: str) -> None:
    """Check the type of every field reports and comparisons read (absent optional fields are fine).

    Raises:
        RunDirectoryError: the first problems found, each with its path in the summary.
    """
    problems = summary_problems(summary)
    if problems:
        shown = "; ".join(problems[:MAX_SHOWN_PROBLEMS])
        more = f" (and {len(problems) - MAX_SHOWN_PROBLEMS} more)" if len(problems) > MAX_SHOWN_PROBLEMS else ""
        raise RunDirectoryError(f"{where} is not a valid summary: {shown}{more}")


def summary_problems(summary: Mapping[str, Any]) -> list[str]:
    """Every field of a summary whose type reports cannot use, as ``"path should be ..., got ..."``."""
    check = _Check()
    for key in ("run_id", "status", "started_at", "ended_at"):
        check.value(summary, key, _is_str, "a text")
    check.value(summary, "error", lambda v: v is None or _is_str(v), "a text or null")
    check.value(summary, "complete", lambda v: isinstance(v, bool), "true or false")
    check.value(summary, "duration_s", _is_non_negative, "a number >= 0")
    check.value(summary, "warmup_requests", _is_count, "a whole number >= 0")
    check.value(
        summary,
        "highest_trackable_us",
        lambda v: _is_int(v) and 2 <= v <= _HIGHEST_TRACKABLE_LIMIT_US,
        "a whole number of microseconds >= 2",
    )
    check.value(summary, "percentiles", _is_percentile_list, "a list of percentiles in (0, 100]")
    for key in ("scenario", "load", "provenance", "server_counts", "client"):
        check.value(summary, key, _is_dict, "a mapping")
    provenance = summary.get("provenance")
    if isinstance(provenance, dict):
        for key in ("servers", "models"):
            check.mapping_of(provenance, key, _is_dict, "a mapping", prefix="provenance.")
        for key in ("packages", "host"):
            check.value(provenance, key, _is_dict, "a mapping", prefix="provenance.")
        check.value(provenance, "command", lambda v: isinstance(v, list), "a list", prefix="provenance.")
    if check.value(summary, "traffic", _is_dict, "a mapping of traffic entries"):
        for name, entry in summary["traffic"].items():
            check.entry(entry, f"traffic.{name}")
    if "overall" in summary:
        check.entry(summary["overall"], "overall")
    if check.value(summary, "overall_by_kind", _is_dict, "a mapping"):
        for kind, entry in summary["overall_by_kind"].items():
            check.entry(entry, f"overall_by_kind.{kind}")
    if check.value(summary, "slos", lambda v: isinstance(v, list), "a list"):
        for index, slo in enumerate(summary["slos"]):
            check.slo(slo, f"slos[{index}]")
    return check.problems


class _Check:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def value(
        self, block: Mapping[str, Any], key: str, test: Callable[[Any], bool], what: str, prefix: str = ""
    ) -> bool:
        """True when ``key`` is present and passes ``test``; a problem when present and failing."""
        if key not in block:
            return False
        if test(block[key]):
            return True
        self.problems.append(f"{prefix}{key} should be {what}, got {_shown(block[key])}")
        return False

    def mapping_of(
        self, block: Mapping[str, Any], key: str, test: Callable[[Any], bool], what: str, prefix: str = ""
    ) -> None:
        if self.value(block, key, _is_dict, "a mapping", prefix):
            for name, item in block[key].items():
                if not test(item):
                    self.problems.append(f"{prefix}{key}.{name} should be {what}, got {_shown(item)}")

    def entry(self, entry: Any, path: str) -> None:
        if not isinstance(entry, dict):
            self.problems.append(f"{path} should be a mapping, got {_shown(entry)}")
            return
        prefix = f"{path}."
        for key in _ENTRY_COUNTS:
            self.value(entry, key, _is_count, "a whole number >= 0", prefix)
        for key in ("error_rate", "throughput_rps"):
            self.value(entry, key, _is_non_negative, "a number >= 0", prefix)
        self.value(entry, "rate_share", _is_non_negative, "a number >= 0", prefix)
        for key in _COUNT_INFO:
            self.value(entry, key, _is_count, "a whole number >= 0", prefix)
        for key in _STRING_INFO:
            self.value(entry, key, lambda v: v is None or _is_str(v), "a text", prefix)
        self.mapping_of(entry, "errors_by_kind", _is_count, "a whole number >= 0", prefix)
        if self.value(entry, "metrics", _is_dict, "a mapping", prefix):
            for metric, stats in entry["metrics"].items():
                self.stats(stats, f"{prefix}metrics.{metric}")

    def stats(self, stats: Any, path: str) -> None:
        if not isinstance(stats, dict):
            self.problems.append(f"{path} should be a mapping, got {_shown(stats)}")
            return
        for key, value in stats.items():
            if key == "unit":
                ok, what = _is_str(value), "a text"
            elif key == "count":
                ok, what = _is_count(value), "a whole number >= 0"
            else:
                ok, what = value is None or _is_number(value), "a number or null"
            if not ok:
                self.problems.append(f"{path}.{key} should be {what}, got {_shown(value)}")

    def slo(self, slo: Any, path: str) -> None:
        if not isinstance(slo, dict):
            self.problems.append(f"{path} should be a mapping, got {_shown(slo)}")
            return
        prefix = f"{path}."
        self.value(slo, "passed", lambda v: v is None or isinstance(v, bool), "true, false or null", prefix)
        for key in ("measured", "threshold"):
            self.value(slo, key, lambda v: v is None or _is_number(v), "a number or null", prefix)
        for key in ("slo", "unit", "traffic", "scope", "comparator", "reason", "metric", "statistic"):
            self.value(slo, key, lambda v: v is None or _is_str(v), "a text or null", prefix)


def read_jsonl(path: Path, check_record: Callable[[Any], str | None]) -> list[dict[str, Any]]:
    """The records of a ``.jsonl`` file (none when it does not exist), streamed line by line.

    A torn last line (a run killed mid-write, or a full disk) is left out. Any other line that is
    not JSON, or a record ``check_record`` refuses (it returns the reason), is an error.

    Raises:
        RunDirectoryError: with the file and line number.
    """
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    pending: tuple[int, str] | None = None  # a bad line is an error only when another line follows
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if pending is not None:
                    raise RunDirectoryError(f"{path}:{pending[0]}: {pending[1]}")
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    pending = (number, "not a JSON record")
                    continue
                reason = check_record(record)
                if reason is not None:
                    raise RunDirectoryError(f"{path}:{number}: {reason}")
                records.append(record)
    except UnicodeDecodeError as exc:
        raise RunDirectoryError(f"{path} is not UTF-8 text (byte offset {exc.start})") from None
    except OSError as exc:
        raise RunDirectoryError(f"{path} is unreadable: {exc.strerror or exc}") from None
    return records


def interval_record_problem(record: Any) -> str | None:
    """Why an ``intervals.jsonl`` record cannot be used, or None."""
    if not isinstance(record, dict):
        return "a record should be a JSON object"
    for key in ("start_s", "end_s"):
        if not _is_number(record.get(key)):
            return f"{key} should be a number, got {_shown(record.get(key))}"
    traffic = record.get("traffic", {})
    if not isinstance(traffic, dict):
        return f"traffic should be a mapping, got {_shown(traffic)}"
    for name, counters in traffic.items():
        if not isinstance(counters, dict):
            return f"traffic.{name} should be a mapping, got {_shown(counters)}"
        for key in ("ok", "late", "clamped"):
            if key in counters and not _is_count(counters[key]):
                return f"traffic.{name}.{key} should be a whole number >= 0, got {_shown(counters[key])}"
        errors = counters.get("errors", {})
        if not isinstance(errors, dict) or not all(_is_count(v) for v in errors.values()):
            return f"traffic.{name}.errors should map error kinds to counts, got {_shown(errors)}"
    return None


def server_stats_record_problem(record: Any) -> str | None:
    """Why a ``server-stats.jsonl`` record cannot be used, or None (only the containers are checked:
    Triton's counters come as numbers over HTTP and as strings over gRPC)."""
    if not isinstance(record, dict):
        return "a record should be a JSON object"
    if "t_s" in record and not _is_number(record["t_s"]):
        return f"t_s should be a number, got {_shown(record['t_s'])}"
    models = record.get("models", {})
    if not isinstance(models, dict):
        return f"models should be a mapping, got {_shown(models)}"
    for label, model in models.items():
        if not isinstance(model, dict):
            return f"models[{label!r}] should be a mapping, got {_shown(model)}"
        stats = model.get("model_stats", [])
        if not isinstance(stats, list) or not all(isinstance(s, dict) for s in stats):
            return f"models[{label!r}].model_stats should be a list of mappings"
        for item in stats:
            inference = item.get("inference_stats", {})
            if not isinstance(inference, dict) or not all(isinstance(p, dict) for p in inference.values()):
                return f"models[{label!r}].model_stats[].inference_stats should map phases to mappings"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _is_non_negative(value: Any) -> bool:
    return _is_number(value) and not math.isnan(value) and value >= 0


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _is_percentile_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_number(p) and 0 < p <= 100 for p in value)
