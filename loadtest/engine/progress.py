"""What a run prints while it goes: one progress line per interval, notices, and the final table.

Owns the console output of a run (progress and notices on stderr, the table on stdout). Reads
intervals and summaries; never records and never decides anything.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.recorder import LATENCY, Interval
from loadtest.recording.rundir import console_totals, merge_traffic, percentile_key


class Progress:
    """The one-line-per-interval progress output and the final table."""

    def __init__(self, stream: TextIO, enabled: bool, table_stream: TextIO | None, *, errors: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled
        self._table_stream = table_stream
        self._errors = errors

    @classmethod
    def silent(cls) -> Progress:
        """Prints nothing at all (the Python API's default)."""
        return cls(sys.stderr, False, None, errors=False)

    def line(self, text: str) -> None:
        """A notice (shown unless quiet)."""
        if self._enabled:
            print(text, file=self._stream, flush=True)

    def notice(self, text: str) -> None:
        """Something the user must know even in quiet mode (a stall, a saturated generator)."""
        if self._errors:
            print(f"warning: {text}", file=self._stream, flush=True)

    def error(self, text: str) -> None:
        """An error (always shown)."""
        if self._errors:
            print(f"error: {text}", file=self._stream, flush=True)

    def _print(self, text: str) -> None:
        if self._table_stream is not None:
            print(text, file=self._table_stream, flush=True)

    def interval(
        self, elapsed_s: float, total_s: float | None, interval: Interval, in_flight: int, users: int, warmup: bool
    ) -> None:
        """The progress line of one interval: time, throughput, p50/p99, errors, in flight, users."""
        if not self._enabled:
            return
        length_s = max((interval.end_ns - interval.start_ns) / 1e9, 1e-9)
        ok = sum(c.ok for c in interval.counters.values())
        errors = sum(c.error_count for c in interval.counters.values())
        latency = merge_traffic({k: h for k, h in interval.histograms.items() if k[1] == LATENCY}, 1 << 40).get(LATENCY)
        if latency is not None and latency.get_total_count():
            p50, p99 = (value / 1000 for value in value_at_percentiles(latency, (50, 99)))
            lat = f"p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
        else:
            lat = f"p50 {'-':>8} ms  p99 {'-':>8} ms"
        tag = " warm-up" if warmup else ""
        clock = f"{elapsed_s:6.1f}s" if total_s is None else f"{elapsed_s:6.1f}/{total_s:.0f}s"
        self.line(
            f"[{clock}] {ok / length_s:9.1f} req/s  {lat}  errors {errors:5d}  "
            f"in flight {in_flight:4d}  users {users:4d}{tag}"
        )

    def table(self, summary: Mapping[str, Any]) -> None:
        """The final table: requests, errors, throughput and latency percentiles per traffic entry."""
        wanted = [p for p in (50.0, 90.0, 99.0, 99.9) if p in summary.get("percentiles", [])]
        header = f"{'traffic':<24} {'requests':>9} {'errors':>7} {'req/s':>9} " + " ".join(
            f"{percentile_key(p) + ' ms':>10}" for p in wanted
        )
        self._print("")
        self._print(header)
        rows = [*summary.get("traffic", {}).items(), *console_totals(summary)]
        for name, entry in rows:
            stats = entry.get("metrics", {}).get(LATENCY, {})
            cells = []
            for p in wanted:
                value = stats.get(percentile_key(p))
                cells.append(f"{value / 1000:10.2f}" if value is not None else f"{'-':>10}")
            self._print(
                f"{name[:24]:<24} {entry.get('requests', 0):>9} {entry.get('errors', 0):>7} "
                f"{entry.get('throughput_rps', 0):>9.1f} " + " ".join(cells)
            )


__all__ = ["Progress"]
