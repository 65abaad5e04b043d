"""The pure helpers of the perf_analyzer benchmark (tests/benchmarks/, which pytest does not collect):
reading perf_analyzer's CSV and text report, its command line, `ldd` output, the steady span over
which client CPU per request is computed, and the summary table (medians, ratios). Recorded outputs
come from perf_analyzer 2.41.0 against the embedded `Linear` model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


pa = _load("_perf_analyzer")
sampling = _load("_sampling")
table = _load("_vs_table")

CLOSED_LOOP_CSV = (
    "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,"
    "Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency\n"
    "8,3322.05,77,398,1650,25,213,39,0,2397,3040,3321,4470\n"
)
CLOSED_LOOP_STDOUT = """\
Request concurrency: 8
  Client:
    Request count: 24070
    Throughput: 3322.05 infer/sec
    Avg latency: 2405 usec (standard deviation 1094 usec)
    p50 latency: 2397 usec
    p99 latency: 4470 usec
  Server:
    Inference count: 24072
"""
REQUEST_RATE_CSV = (
    "Request Rate,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,"
    "Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency\n"
    "2000,1450.8,1984,4813,3724,24,358,72,0,7647,21806,30965,54102"
)
REQUEST_RATE_STDOUT = """\
Request Rate: 2000 inference requests per seconds
  Client:
    Request count: 10812
    Avg send request rate: 1467.50 infer/sec
    [WARNING] Perf Analyzer was not able to keep up with the desired request rate. 99.84% of the requests were delayed.
    Throughput: 1450.80 infer/sec
"""


def test_a_closed_loop_result_gives_throughput_percentiles_and_request_count() -> None:
    result = pa.parse_result(CLOSED_LOOP_CSV, CLOSED_LOOP_STDOUT)
    assert (result.throughput_rps, result.p50_us, result.p99_us) == (3322.05, 2397.0, 4470.0)
    assert result.request_count == 24070
    assert result.delayed_percent is None


def test_a_request_rate_result_gives_the_share_of_delayed_requests() -> None:
    result = pa.parse_result(REQUEST_RATE_CSV, REQUEST_RATE_STDOUT)
    assert (result.throughput_rps, result.p50_us, result.p99_us) == (1450.8, 7647.0, 54102.0)
    assert result.request_count == 10812
    assert result.delayed_percent == 99.84


def test_the_csv_row_is_read_by_column_name() -> None:
    row = pa.parse_csv(REQUEST_RATE_CSV)
    assert row["Request Rate"] == 2000.0
    assert row["Server Queue"] == 3724.0
    assert len(row) == 13


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "found 0 rows"),
        ("Concurrency,Inferences/Second\n", "found 1 rows"),
        ("Concurrency,Inferences/Second\n1,10\n2,20\n", "found 3 rows"),
        ("Concurrency,Inferences/Second\n1\n", "2 columns but its row 1"),
        ("Concurrency,Inferences/Second\n1,fast\n", "not a number"),
    ],
)
def test_a_malformed_csv_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pa.parse_csv(text)


def test_a_csv_without_the_latency_columns_names_them() -> None:
    with pytest.raises(ValueError, match="p50 latency, p99 latency"):
        pa.parse_result("Concurrency,Inferences/Second\n8,100\n", "")


def test_ldd_output_yields_the_libraries_not_found() -> None:
    ldd = """\
\tlinux-vdso.so.1 (0x00007f817ee12000)
\tlibb64.so.0d => not found
\tlibcudart.so.12 => not found
\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f817ede1000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f817ee14000)
"""
    assert pa.missing_libraries(ldd) == ["libb64.so.0d", "libcudart.so.12"]
    assert pa.missing_libraries(ldd.replace("not found", "/usr/lib/x.so (0x1)")) == []


def test_the_library_directory_goes_first_on_the_loader_path_of_perf_analyzer_only() -> None:
    installed = pa.PerfAnalyzer(binary=Path("/c/perf_analyzer"), lib_dir=Path("/c/lib"))
    assert installed.env({"LD_LIBRARY_PATH": "/opt/x", "HOME": "/h"}) == {
        "LD_LIBRARY_PATH": "/c/lib:/opt/x",
        "HOME": "/h",
    }
    assert installed.env({})["LD_LIBRARY_PATH"] == "/c/lib"


def test_the_command_line_of_a_closed_loop_and_of_a_request_rate_measurement() -> None:
    installed = pa.PerfAnalyzer(binary=Path("/c/perf_analyzer"), lib_dir=Path("/c/lib"))
    common = {"model": "Linear", "url": "127.0.0.1:8001", "protocol": "grpc", "csv_path": Path("/t/a.csv")}
    closed = pa.command(installed, **common, window_ms=3000, concurrency=8)
    assert closed[:7] == ["/c/perf_analyzer", "-m", "Linear", "-u", "127.0.0.1:8001", "-i", "grpc"]
    assert closed[closed.index("--concurrency-range") + 1] == "8"
    assert closed[closed.index("-p") + 1] == "3000"
    assert closed[closed.index("-f") + 1] == "/t/a.csv"
    assert "--request-rate-range" not in closed and "--max-threads" not in closed
    opened = pa.command(installed, **common, window_ms=1000, rate_rps=1500.0, max_threads=16, stability_percent=1000)
    assert opened[opened.index("--request-rate-range") + 1] == "1500"
    assert opened[opened.index("--request-distribution") + 1] == "constant"
    assert opened[opened.index("--max-threads") + 1] == "16"
    assert opened[opened.index("-s") + 1] == "1000"
    with pytest.raises(ValueError, match="exactly one"):
        pa.command(installed, **common, window_ms=1000, concurrency=8, rate_rps=10.0)
    with pytest.raises(ValueError, match="exactly one"):
        pa.command(installed, **common, window_ms=1000)


def _samples(rows: list[tuple[float, float, int]]) -> list[object]:
    return [sampling.Sample(t_s, cpu_s, count) for t_s, cpu_s, count in rows]


def test_the_steady_span_leaves_out_start_up_ramp_and_tear_down() -> None:
    # 0-2 s: imports (CPU, no requests); 2-8 s: traffic, 1000 req/s at 0.1 CPU s per s (100 µs per
    # request) after a slow first second; 8-9 s: writing reports (CPU, no requests).
    rows = [(0.0, 0.0, 0), (1.0, 0.9, 0), (2.0, 1.8, 0), (3.0, 2.3, 100)]
    rows += [(float(t), 2.3 + 0.1 * (t - 3), 100 + 1000 * (t - 3)) for t in range(4, 9)]
    rows += [(9.0, 3.5, 5100)]
    span = sampling.steady_span(_samples(rows), trim_start_s=1.0, trim_end_s=0.5, min_s=1.0)
    assert (span.start.t_s, span.end.t_s) == (3.0, 7.0)
    assert span.requests == 4000
    assert span.cpu_us_per_request == pytest.approx(100.0)
    assert span.throughput_rps == pytest.approx(1000.0)
    assert span.duration_s == 4.0


def test_the_steady_span_ends_at_the_last_rise_of_the_server_count() -> None:
    rows = [(0.0, 0.0, 0), (1.0, 0.1, 0), (2.0, 0.2, 50), (3.0, 0.3, 150), (4.0, 0.4, 250), (5.0, 0.9, 250)]
    span = sampling.steady_span(_samples(rows), trim_start_s=0.0, trim_end_s=0.0, min_s=1.0)
    assert (span.start.t_s, span.end.t_s) == (1.0, 4.0)
    assert span.cpu_us_per_request == pytest.approx(0.3 * 1e6 / 250)


def test_no_traffic_or_too_little_of_it_gives_no_span() -> None:
    idle = [(0.0, 0.0, 7), (1.0, 0.5, 7), (2.0, 1.0, 7)]
    with pytest.raises(sampling.SpanError, match="no successful inference"):
        sampling.steady_span(_samples(idle), trim_start_s=0.0, trim_end_s=0.0, min_s=1.0)
    short = [(0.0, 0.0, 0), (0.5, 0.1, 10), (1.0, 0.2, 20), (1.5, 0.3, 30), (2.0, 0.4, 30)]
    with pytest.raises(sampling.SpanError, match="measure longer"):
        sampling.steady_span(_samples(short), trim_start_s=1.0, trim_end_s=0.5, min_s=1.0)


def _measured(case: str, tool: str, rnd: int, p50_us: float, late: float | None = None) -> object:
    return table.Measurement(case, tool, rnd, throughput_rps=1000.0, p50_us=p50_us, late_percent=late)


def test_the_summary_has_each_tools_median_and_the_three_ratios() -> None:
    measurements = [
        _measured("grpc-open", "perf_analyzer", 1, 400.0, 0.0),
        _measured("grpc-open", "perf_analyzer", 2, 500.0, 1.0),
        _measured("grpc-open", "raw", 1, 600.0, 2.0),
        _measured("grpc-open", "raw", 2, 700.0, 4.0),
        table.Measurement("grpc-open", "raw", 3, error="raw tritonclient: 3 failed requests"),
        _measured("grpc-open", "tritonload", 1, 900.0, 0.0),
    ]
    rows = table.summary_rows(measurements, [("grpc-open", True)], ["perf_analyzer", "raw", "tritonload"])
    p50 = next(row for row in rows if row.metric == "p50 µs")
    assert p50.medians == {"perf_analyzer": 450.0, "raw": 650.0, "tritonload": 900.0}
    assert p50.ratios == pytest.approx(
        {"tritonload/perf_analyzer": 2.0, "raw/perf_analyzer": 650 / 450, "tritonload/raw": 900 / 650}
    )
    assert p50.ok_rounds == "2/2/1"
    late = next(row for row in rows if row.metric == "late %")
    assert late.medians == {"perf_analyzer": 0.5, "raw": 3.0, "tritonload": 0.0}
    assert late.ratios == {}


def test_two_tools_give_one_ratio_and_closed_loop_no_late_row() -> None:
    measurements = [
        _measured("http-closed", "perf_analyzer", 1, 100.0),
        _measured("http-closed", "tritonload", 1, 150.0),
    ]
    rows = table.summary_rows(measurements, [("http-closed", False)], ["perf_analyzer", "tritonload"])
    assert [row.metric for row in rows] == ["req/s", "server req/s", "p50 µs", "p99 µs", "CPU µs/req"]
    p50 = rows[2]
    assert p50.ratios == {"tritonload/perf_analyzer": 1.5}
    p99 = rows[3]
    assert p99.ratios == {"tritonload/perf_analyzer": None}
