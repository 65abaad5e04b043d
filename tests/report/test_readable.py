"""Reports a user could misread: server statistics per model with their counters named for what they
count, unary requests and streams never merged into one percentile, log-scale latency axes when the
range spans decades, and failed runs that say what they know and why a section is empty."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hdrh.histogram import HdrHistogram
from matplotlib.figure import Figure

from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.recording.recorder import LATENCY, Recorder, RequestOutcome
from loadtest.recording.rundir import RunWriter, build_summary, console_totals, load_run
from loadtest.report import build_view, render, render_view, slo_console_line
from loadtest.report._html import render_html
from loadtest.report._plots import latency_axis, spectrum_svg
from loadtest.scenario import load_scenario

from .runs import FIXTURES, START_EPOCH_S, fixture_copy

ROOT = Path(__file__).resolve().parents[2]


def _stats(name: str, *, success: int, fail: int, inferences: int, executions: int, queue_ns: int) -> dict[str, Any]:
    """One model's statistics as Triton's HTTP endpoint returns them (gRPC: the same with strings)."""
    return {
        "model_stats": [
            {
                "name": name,
                "version": "1",
                "inference_count": inferences,
                "execution_count": executions,
                "inference_stats": {
                    "success": {"count": success, "ns": success * 1000},
                    "fail": {"count": fail, "ns": 0},
                    "queue": {"count": success, "ns": queue_ns},
                    "compute_input": {"count": success, "ns": success * 10_000},
                    "compute_infer": {"count": success, "ns": success * 100_000},
                    "compute_output": {"count": success, "ns": success * 10_000},
                },
            }
        ]
    }


def _as_grpc(stats: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(stats), parse_int=str)  # gRPC carries 64-bit counters as strings


def _write_server_stats(run_dir: Path) -> None:
    """A batching model reached over HTTP and gRPC of one host, and the same model on another host."""
    snapshots = []
    for t_s, (success, inferences, executions) in enumerate([(100, 800, 50), (300, 2400, 150)]):
        batch = _stats(
            "Batch",
            success=success,
            fail=t_s * 4,
            inferences=inferences,
            executions=executions,
            queue_ns=success * 2000,
        )
        other = _stats(
            "Batch", success=success // 10, fail=0, inferences=success // 10, executions=success // 10, queue_ns=0
        )
        snapshots.append(
            {
                "t_s": float(t_s),
                "models": {
                    "Batch@http://10.0.0.1:8000": batch,
                    "Batch@grpc://10.0.0.1:8001": _as_grpc(batch),
                    "Batch@http://10.0.0.2:8000": other,
                },
            }
        )
    (run_dir / "server-stats.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snapshots), encoding="utf-8")


def test_server_statistics_are_one_row_per_model_with_requests_inferences_and_executions_apart(
    tmp_path: Path,
) -> None:
    run_dir = fixture_copy("sleep-20ms", tmp_path)
    _write_server_stats(run_dir)
    view = build_view(load_run(run_dir))
    rows = {(server.model, server.labels) for server in view.servers}
    assert rows == {
        ("Batch", ("Batch@http://10.0.0.1:8000", "Batch@grpc://10.0.0.1:8001")),
        ("Batch", ("Batch@http://10.0.0.2:8000",)),
    }
    batch = next(server for server in view.servers if len(server.labels) == 2)
    assert (batch.requests, batch.failed, batch.inferences, batch.executions) == (200, 4, 1600, 100)
    assert batch.average_batch == 16.0  # rows per execution, not requests
    assert batch.phase_us["queue"] == 2.0
    document = json.loads(render_view(view, "json"))
    assert {s["label"]: (s["requests"], s["inferences"], s["executions"]) for s in document["servers"]} == {
        "Batch@http://10.0.0.1:8000": (200, 1600, 100),
        "Batch@http://10.0.0.2:8000": (20, 20, 20),
    }
    html = render_html(view, plots=[])
    assert html.count('<td class="l">Batch</td>') == 2
    assert "http://10.0.0.1:8000, grpc://10.0.0.1:8001" in html
    assert "<th>inferences</th><th>executions</th><th>rows per execution</th>" in html


def test_the_fixture_lists_linear_once_although_it_was_polled_over_http_and_grpc() -> None:
    view = build_view(load_run(FIXTURES / "mixed"))
    linear = [server for server in view.servers if server.model == "Linear"]
    assert len(linear) == 1
    assert [label.split("://")[0] for label in linear[0].labels] == ["Linear@http", "Linear@grpc"]
    raw = [json.loads(line) for line in (FIXTURES / "mixed" / "server-stats.jsonl").read_text().splitlines()]
    first, last = (snapshot["models"][linear[0].label]["model_stats"][0] for snapshot in (raw[0], raw[-1]))
    success = [int(stats["inference_stats"]["success"]["count"]) for stats in (first, last)]
    assert linear[0].requests == success[1] - success[0]


def _merged_p99(run_dir: Path, names: list[str]) -> int:
    histograms = load_run(run_dir).histograms()
    merged = HdrHistogram(1, 3_600_000_000, 3)
    for name in names:
        merged.add(histograms[(name, LATENCY)])
    return int(merged.get_value_at_percentile(99))


def test_unary_and_stream_latencies_are_never_merged_in_an_old_run(tmp_path: Path) -> None:
    """The mixed fixture predates ``overall_by_kind``: the kinds come from its histogram log."""
    view = build_view(load_run(FIXTURES / "mixed"))
    assert view.mixed_kinds
    unary = view.kinds["unary"]
    assert unary.members == ("lin-sync", "lin-grpc", "lin-fut", "lin-aio")
    assert unary.stat(LATENCY, "p99") == _merged_p99(FIXTURES / "mixed", list(unary.members))
    assert unary.requests == sum(entry.requests for entry in view.entries if entry.name != "bot")
    assert [row.name for row in view.metric_rows(LATENCY)][-1] == "all unary"
    assert "overall" not in [row.name for row in view.metric_rows(LATENCY)]
    assert [row.name for row in view.rows][-2:] == ["all unary", "overall"]  # counts of everything stay
    text = render_view(view, "text")
    assert "overall   13046   4.158" not in text  # the merged p99 of 24 ms the issue saw
    html = render_html(view, plots=[])
    assert "p99 latency (unary)" in html and "p99 latency (streams)" in html
    assert 'class="k">p99 latency</div>' not in html


def _mixed_run(run_dir: Path) -> dict[str, Any]:
    recorder = Recorder(highest_us=10_000_000)
    recorder.declare("fast", ["latency"])
    recorder.declare("also-fast", ["latency"])
    recorder.declare("stream", ["latency", "ttfr", "gap", "responses"])
    recorder.declare("stream-2", ["latency", "ttfr", "gap", "responses"])
    recorder.start_measuring(0)
    writer = RunWriter(run_dir, scenario_yaml="version: 1\n", start_epoch_s=START_EPOCH_S)
    for index in range(200):
        recorder.record(RequestOutcome("fast", latency_us=1000 + index))
        recorder.record(RequestOutcome("also-fast", latency_us=2000 + index))
    for index in range(20):
        for name in ("stream", "stream-2"):
            recorder.record(
                RequestOutcome(name, latency_us=30_000 + index, ttfr_us=900, gaps_us=[500] * 3, responses=4)
            )
    recorder.record(RequestOutcome("fast", error_kind="timeout"))
    writer.write_interval(recorder.roll(int(1e9)), {"users": 4, "in_flight": 0})
    info = {"fast": {"pattern": "sync"}, "also-fast": {"pattern": "futures"}}
    info |= {"stream": {"pattern": "decoupled"}, "stream-2": {"pattern": "decoupled"}}
    summary = build_summary(
        recorder,
        run_id=run_dir.name,
        status="completed",
        complete=True,
        started_at_s=START_EPOCH_S,
        ended_at_s=START_EPOCH_S + 1,
        duration_s=1.0,
        percentiles=(50.0, 99.0),
        meta={"scenario": {"name": "kinds", "hash": "h", "seed": 0}},
        traffic_info=info,
    )
    writer.write_summary(summary)
    writer.close()
    return summary


def test_summary_json_adds_overall_by_kind_and_keeps_overall(tmp_path: Path) -> None:
    summary = _mixed_run(tmp_path / "run")
    kinds = summary["overall_by_kind"]
    assert set(kinds) == {"unary", "stream"}
    assert kinds["unary"]["entries"] == ["fast", "also-fast"]
    assert (kinds["unary"]["requests"], kinds["unary"]["errors"]) == (401, 1)
    assert kinds["unary"]["metrics"]["latency"]["max"] < 2300
    assert kinds["stream"]["metrics"]["latency"]["p50"] >= 30_000
    assert "ttfr" in kinds["stream"]["metrics"] and "ttfr" not in kinds["unary"]["metrics"]
    assert summary["overall"]["requests"] == 441  # unchanged: every request, as before
    view = build_view(load_run(tmp_path / "run"))
    assert [row.name for row in view.metric_rows(LATENCY)][-2:] == ["all unary", "all streams"]
    assert view.kinds["unary"].stat(LATENCY, "p99") == kinds["unary"]["metrics"]["latency"]["p99"]
    document = json.loads(render_view(view, "json"))
    assert document["overall_by_kind"]["stream"]["entries"] == ["stream", "stream-2"]
    assert document["overall"]["requests"] == 441


def test_a_run_of_one_kind_keeps_its_overall_row(tmp_path: Path) -> None:
    view = build_view(load_run(FIXTURES / "open-100rps"))
    assert not view.mixed_kinds
    assert view.headline == [("", view.overall)]
    summary = load_run(FIXTURES / "open-100rps").summary
    assert console_totals(summary) == [("(all)", summary["overall"])]


def test_the_run_console_table_totals_unary_and_streams_apart(tmp_path: Path) -> None:
    summary = _mixed_run(tmp_path / "run")
    totals = console_totals(summary)
    assert [name for name, _ in totals] == ["(all unary)", "(all streams)"]
    assert [block["requests"] for _, block in totals] == [401, 40]


@pytest.mark.parametrize(
    ("values_ms", "scale"),
    [([1.0, 2.0, 7.0, 500.0], "log"), ([20.0, 21.0, 25.0], "linear"), ([0.5, 40.0], "linear"), ([], "linear")],
)
def test_a_latency_axis_is_logarithmic_when_it_spans_more_than_two_decades(values_ms: list[float], scale: str) -> None:
    axes = Figure().add_subplot()
    latency_axis(axes, values_ms, "ms")
    assert axes.get_yscale() == scale
    assert axes.get_ylabel() == ("ms (log scale)" if scale == "log" else "ms")
    if scale == "linear":
        assert axes.get_ylim()[0] == 0


def test_a_spectrum_with_outliers_is_drawn_on_a_log_axis() -> None:
    tail = HdrHistogram(1, 10_000_000, 3)
    for value_us in [1000] * 900 + [7000] * 99 + [500_000]:
        tail.record_value(value_us)
    assert "ms (log scale)" in spectrum_svg("t", [("a", tail)], "x")
    narrow = HdrHistogram(1, 10_000_000, 3)
    for value_us in range(20_000, 25_000, 10):
        narrow.record_value(value_us)
    assert "ms (log scale)" not in spectrum_svg("t", [("a", narrow)], "y")


def _failed_run(run_dir: Path, scenario_yaml: str) -> None:
    """As the engine leaves a run that failed before its scenario meta was written (wrong model)."""
    writer = RunWriter(run_dir, scenario_yaml=scenario_yaml, start_epoch_s=START_EPOCH_S)
    recorder = Recorder(highest_us=1_000_000)
    summary = build_summary(
        recorder,
        run_id=run_dir.name,
        status="failed",
        complete=False,
        started_at_s=START_EPOCH_S,
        ended_at_s=START_EPOCH_S,
        duration_s=0.0,
        percentiles=(50.0, 99.0),
        meta={},
        traffic_info={},
        error="traffic 'a': model 'nope' is not available",
        slos=[
            {
                "slo": "error_rate < 1%",
                "unit": "fraction",
                "measured": None,
                "passed": None,
                "reason": "no requests were measured",
            },
        ],
    )
    writer.close()
    writer.write_summary(summary)


def test_a_failed_run_reports_what_it_knows_and_why_sections_are_empty(tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "sync.yaml")
    run_dir = tmp_path / "failed"
    _failed_run(run_dir, scenario.to_yaml())
    run = load_run(run_dir)
    text = render(run, "text")
    assert f"scenario sync (hash {scenario.scenario_hash}, seed {scenario.seed})" in text
    assert "scenario - (hash -" not in text
    assert "N/A  overall  error_rate < 1%  not measured  no requests were measured" in text
    assert "None" not in text
    assert "No traffic was measured: the run failed before any started." in text
    assert "No traffic was measured" in render(run, "markdown")
    html = render(run, "html")
    assert html.count("The run failed before any request succeeded, so no latency was recorded.") == 2
    assert '<a href="server-stats.jsonl">' not in html  # the run wrote none
    assert '<a href="summary.json">' in html and '<a href="latency.hlog">' in html


def test_a_run_that_stopped_before_writing_its_scenario_says_so(tmp_path: Path) -> None:
    run_dir = tmp_path / "failed"
    _failed_run(run_dir, "")
    text = render_view(build_view(load_run(run_dir)), "text")
    assert "scenario: not recorded (the run stopped before writing it)" in text


@pytest.mark.parametrize(
    ("slo", "line"),
    [
        (
            {
                "slo": "error_rate < 1%",
                "unit": "fraction",
                "measured": None,
                "passed": None,
                "reason": "no requests were measured",
            },
            "SLO n/a: error_rate < 1% (not measured: no requests were measured)",
        ),
        (
            {"slo": "p99 latency < 10ms", "unit": "us", "measured": 14175.0, "passed": False},
            "SLO FAIL: p99 latency < 10ms (measured 14.2 ms)",
        ),
        (
            {"slo": "throughput >= 5/s", "unit": "/s", "measured": 6.25, "passed": True},
            "SLO pass: throughput >= 5/s (measured 6.2/s)",
        ),
    ],
)
def test_the_run_console_never_prints_none_for_an_slo(slo: dict[str, Any], line: str) -> None:
    assert slo_console_line(slo) == line


@pytest.mark.parametrize("out", [None, "elsewhere/deeper", "with space"])
def test_every_link_of_the_html_report_resolves_where_it_is_written(tmp_path: Path, out: str | None) -> None:
    run_dir = fixture_copy("open-100rps", tmp_path)
    args = ["report", str(run_dir), "-f", "html"] + ([] if out is None else ["--out", str(tmp_path / out)])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == ExitCode.OK, result.output
    page_dir = run_dir if out is None else tmp_path / out
    links = re.findall(r'<a href="([^"]+)">', (page_dir / "report.html").read_text(encoding="utf-8"))
    assert len(links) == 6
    for link in links:
        assert (page_dir / urllib.parse.unquote(link)).resolve().is_file(), link
