"""The interval log's columns and how it is read back, including logs other tools wrote."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from loadtest.recording.hlog import IntervalLogError, IntervalLogWriter, _CompleteLines, read_intervals, read_totals
from loadtest.recording.recorder import new_histogram


def _histogram(metric: str, *values: int) -> HdrHistogram:
    histogram = new_histogram(metric, 21_000_000)
    for value in values:
        histogram.record_value(value)
    return histogram


def test_the_header_gives_the_start_in_utc_whatever_the_local_zone() -> None:
    stream = io.StringIO()
    IntervalLogWriter(stream, start_epoch_s=1_790_000_000.5, comment="tritonload run x")
    assert stream.getvalue().splitlines() == [
        "#[Histogram log format version 1.3]",
        "#[tritonload run x]",
        "#[StartTime: 1790000000.500 (seconds since epoch), 2026-09-21T14:13:20.500+00:00]",
        "#[BaseTime: 1790000000.500 (seconds since epoch)]",
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]


def test_each_line_holds_start_length_and_max_in_milliseconds() -> None:
    stream = io.StringIO()
    writer = IntervalLogWriter(stream, start_epoch_s=0.0)
    latency = _histogram("latency", 100, 2_047)  # exact at 3 digits
    writer.write(2.0, 3.5, {("a/b", "latency"): latency, ("a/b", "ttfr"): _histogram("ttfr")})
    lines = stream.getvalue().splitlines()[-2:]
    assert lines[0] == f"Tag=a/b/latency,2.000,1.500,2.047,{latency.encode().decode()}"
    assert lines[1].startswith("Tag=a/b/ttfr,2.000,1.500,0.000,")


def test_reading_back_gives_relative_starts_lengths_keys_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "latency.hlog"
    with path.open("w") as stream:
        writer = IntervalLogWriter(stream, start_epoch_s=1_790_000_000.0)
        writer.write(0.0, 1.0, {("a", "latency"): _histogram("latency", 10, 20)})
        writer.write(
            1.0, 2.5, {("a", "latency"): _histogram("latency", 30), ("s", "responses"): _histogram("responses", 7)}
        )
    intervals = list(read_intervals(path, 21_000_000))
    assert [(i.key, i.start_s, i.length_s, i.histogram.get_total_count()) for i in intervals] == [
        (("a", "latency"), 0.0, 1.0, 2),
        (("a", "latency"), 1.0, 1.5, 1),
        (("s", "responses"), 1.0, 1.5, 1),
    ]


def test_start_times_count_from_the_base_time_when_it_differs_from_the_start_time(tmp_path: Path) -> None:
    path = tmp_path / "other-tool.hlog"
    payload = _histogram("latency", 42).encode().decode()
    path.write_text(
        "#[StartTime: 1000.000 (seconds since epoch), 1970-01-01T00:16:40.000+00:00]\n"
        "#[BaseTime: 990.000 (seconds since epoch)]\n"
        f"Tag=a/latency,12.000,1.000,0.042,{payload}\n"
    )
    [interval] = read_intervals(path, 21_000_000)
    assert (interval.start_s, interval.length_s) == (12.0, 1.0)


def test_a_log_without_base_time_counts_from_its_start_time(tmp_path: Path) -> None:
    path = tmp_path / "absolute.hlog"
    payload = _histogram("latency", 42).encode().decode()
    path.write_text(
        "#[StartTime: 1790000000.000 (seconds since epoch), 2026-09-21T14:13:20.000+00:00]\n"
        f"Tag=a/latency,1790000003.000,2.000,0.042,{payload}\n"
    )
    [interval] = read_intervals(path, 21_000_000)
    assert (interval.start_s, interval.length_s) == (3.0, 2.0)


def test_totals_keep_response_counts_above_the_time_range(tmp_path: Path) -> None:
    path = tmp_path / "latency.hlog"
    with path.open("w") as stream:
        writer = IntervalLogWriter(stream, start_epoch_s=0.0)
        for second in range(2):
            writer.write(second, second + 1, {("s", "responses"): _histogram("responses", 1_500, 60_000)})
    totals = read_totals(path, highest_us=1_000)
    responses = totals[("s", "responses")]
    assert responses.get_total_count() == 4
    assert responses.get_max_value() == responses.get_highest_equivalent_value(60_000)


def _log_with_intervals(path: Path, count: int) -> list[str]:
    """Write ``count`` one-second intervals; returns the file's lines (four header lines come first)."""
    with path.open("w") as stream:
        writer = IntervalLogWriter(stream, start_epoch_s=1_790_000_000.0)
        for second in range(count):
            writer.write(second, second + 1, {("a", "latency"): _histogram("latency", 10 + second)})
    return path.read_text().splitlines(keepends=True)


def test_a_torn_last_line_is_left_out_and_the_lines_before_it_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "torn.hlog"
    lines = _log_with_intervals(path, 3)
    path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # cut mid-payload, no newline
    assert [i.start_s for i in read_intervals(path, 21_000_000)] == [0.0, 1.0]


def test_a_last_line_that_only_lacks_its_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "no-newline.hlog"
    lines = _log_with_intervals(path, 2)
    path.write_text("".join(lines)[:-1])
    assert [i.start_s for i in read_intervals(path, 21_000_000)] == [0.0, 1.0]


def _corrupt_start(path: Path, start_text: str) -> ValueError:
    """A log whose second interval line has ``start_text`` as its start; the error float() gives for it."""
    lines = _log_with_intervals(path, 3)
    payload = lines[5].split(",", 4)[4]
    lines[5] = f"Tag=a/latency,{start_text},1.000,0.010,{payload}"
    path.write_text("".join(lines))
    try:
        float(start_text)
    except ValueError as exc:
        return exc
    raise AssertionError(f"{start_text!r} is a valid float")


def test_a_corrupt_line_in_the_middle_is_named_by_its_number_and_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.hlog"
    start_text = "1.2." + "3" * 39  # float()'s message is exactly 80 characters: kept whole
    expected = _corrupt_start(path, start_text)
    assert len(str(expected)) == 80
    read: list[float] = []
    with pytest.raises(IntervalLogError) as caught:
        read.extend(i.start_s for i in read_intervals(path, 21_000_000))
    assert read == [0.0]  # the line before was read
    error = caught.value
    assert (error.line, error.reason) == (6, f"not a valid interval line (ValueError: {expected})")
    assert str(error) == f"line 6: not a valid interval line (ValueError: {expected})"


def test_a_long_decoder_message_is_cut_to_80_characters(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.hlog"
    expected = str(_corrupt_start(path, "1.2." + "3" * 40))
    assert len(expected) == 81
    with pytest.raises(IntervalLogError) as caught:
        list(read_intervals(path, 21_000_000))
    assert caught.value.reason == f"not a valid interval line (ValueError: {expected[:77]}...)"


def test_complete_lines_count_lines_and_note_a_missing_last_newline() -> None:
    lines = _CompleteLines(io.StringIO("one\ntwo\nthr"))
    assert (lines.number, lines.torn) == (0, False)  # nothing read, nothing torn
    assert (lines.readline(), lines.number, lines.torn) == ("one\n", 1, False)
    assert (lines.readline(), lines.number, lines.torn) == ("two\n", 2, False)
    assert (lines.readline(), lines.number, lines.torn) == ("thr", 3, True)
    assert (lines.readline(), lines.number, lines.torn) == ("", 3, False)  # the end is not a line
    assert (lines.readline(), lines.number, lines.torn) == ("", 3, False)
    lines.close()
    assert lines.stream.closed
