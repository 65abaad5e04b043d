"""The HdrHistogram interval log (``latency.hlog``): write as the run goes, read back later.

Owns the file format: the standard HdrHistogram interval-log layout (format 1.3 header lines, a
legend, then one ``Tag=<traffic>/<metric>,start,length,max,payload`` line per histogram per
interval), so HdrHistogram's own tools and the ``hdrhistogram`` package's ``HistogramLogReader``
read it. Timestamps are seconds relative to the measurement start (``BaseTime``); the max column is
in milliseconds (values are recorded in microseconds). Never decides what to record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from loadtest.recording.recorder import TagKey, key_of, new_histogram, tag_of

FORMAT_VERSION = "1.3"
LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
MAX_VALUE_UNIT_RATIO = 1000.0  # microseconds -> milliseconds in the max column


class TextSink(Protocol):
    """Where an interval log goes: an open text file, or ``rundir``'s whole-record ``AppendFile``."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class IntervalLogWriter:
    """Appends interval histograms to an open text file, one ``write`` per interval, flushing after each."""

    def __init__(self, stream: TextSink, *, start_epoch_s: float, comment: str = "") -> None:
        self._stream = stream
        stamp = dt.datetime.fromtimestamp(start_epoch_s, tz=dt.timezone.utc).isoformat(timespec="milliseconds")
        lines = [f"#[Histogram log format version {FORMAT_VERSION}]"]
        if comment:
            lines.append(f"#[{comment}]")
        lines += [
            f"#[StartTime: {start_epoch_s:.3f} (seconds since epoch), {stamp}]",
            f"#[BaseTime: {start_epoch_s:.3f} (seconds since epoch)]",
            LEGEND,
        ]
        stream.write("\n".join(lines) + "\n")
        stream.flush()

    def write(self, start_s: float, end_s: float, histograms: dict[TagKey, HdrHistogram]) -> None:
        """Write one interval (times in seconds since the measurement start); empty ones are kept."""
        lines = []
        for key, histogram in histograms.items():
            payload = histogram.encode().decode("ascii")
            max_ms = histogram.get_max_value() / MAX_VALUE_UNIT_RATIO
            lines.append(f"Tag={tag_of(key)},{start_s:.3f},{end_s - start_s:.3f},{max_ms:.3f},{payload}\n")
        self._stream.write("".join(lines))
        self._stream.flush()


@dataclass
class LoggedInterval:
    """One histogram line read back from an interval log."""

    key: TagKey
    start_s: float
    length_s: float
    histogram: HdrHistogram


class IntervalLogError(ValueError):
    """A line of an interval log cannot be read; ``line`` is its 1-based number."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class _CompleteLines:
    """The reader's file, line by line, counting lines and noting whether the last one read lacks its
    newline: such a line was cut off mid-write (a killed run, a full disk) unless it decodes whole."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.number = 0
        self.torn = False

    def readline(self) -> str:
        self.number += 1  # counted first, so a line that fails to decode is named
        line = self.stream.readline()
        if not line:
            self.number -= 1
        self.torn = bool(line) and not line.endswith("\n")
        return line

    def close(self) -> None:
        self.stream.close()


def read_intervals(path: str | Path, highest_us: int) -> Iterator[LoggedInterval]:
    """Read every interval histogram of ``path`` with the hdrhistogram package's own log reader.

    Raises:
        OSError: the file cannot be opened.
        IntervalLogError: a line (other than a torn last one) is not a valid interval line. A last line
            without its newline is read when it decodes whole, else left out.
    """
    reader = HistogramLogReader(str(path), new_histogram("latency", highest_us))
    lines = _CompleteLines(reader.input_file)
    reader.input_file = lines
    try:
        base_s: float | None = None
        while True:
            try:
                histogram = reader.get_next_interval_histogram()
            except Exception as exc:  # the decoders raise whatever base64/zlib/struct raise
                if lines.torn:
                    return  # a torn last line: what was written before it stays readable
                message = str(exc) if len(str(exc)) <= 80 else str(exc)[:77] + "..."
                reason = f"not a valid interval line ({type(exc).__name__}: {message})"
                raise IntervalLogError(lines.number, reason) from exc
            if histogram is None:
                return
            start_s = histogram.get_start_time_stamp() / 1000.0
            end_s = histogram.get_end_time_stamp() / 1000.0
            if base_s is None:
                base_s = reader.base_time_sec or reader.get_start_time_sec()
            yield LoggedInterval(key_of(histogram.get_tag()), start_s - base_s, end_s - start_s, histogram)
    finally:
        reader.close()


def read_totals(path: str | Path, highest_us: int) -> dict[TagKey, HdrHistogram]:
    """Sum of every interval per (traffic, metric): the whole run's histograms."""
    totals: dict[TagKey, HdrHistogram] = {}
    for interval in read_intervals(path, highest_us):
        total = totals.get(interval.key)
        if total is None:
            total = totals[interval.key] = new_histogram(interval.key[1], highest_us)
        total.add(interval.histogram)
    return totals
