"""Details of the text formats: escaping, perf_analyzer columns from the run's traffic info, numbers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from loadtest.recording.rundir import load_run
from loadtest.report import build_view, md_escape, render_view
from loadtest.report._markdown import md_code
from loadtest.report._view import fmt_ms

from .runs import fixture_copy, write_run


def _csv_rows(run_dir: Path) -> list[dict[str, str]]:
    text = render_view(build_view(load_run(run_dir)), "csv")
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_columns_follow_the_runs_traffic_info(tmp_path: Path) -> None:
    info = {
        "closed": {"pattern": "futures", "users": 3, "in_flight": 2, "concurrency": 6, "batch_size": 4},
        "open": {"pattern": "sync", "rate_share": 0.25, "workers": 16, "concurrency": 16},
    }
    meta = {"scenario": {"name": "s", "hash": "h", "seed": 0}, "load": {"kind": "open", "rate": 80}}
    write_run(tmp_path / "run", [{"closed": [1000] * 10, "open": [2000] * 20}], traffic_info=info, meta=meta)
    closed, opened = _csv_rows(tmp_path / "run")
    assert (closed["Concurrency"], closed["Request Rate"]) == ("6", "")
    assert (closed["Requests/Second"], closed["Inferences/Second"]) == ("10.0", "40.0")
    assert (opened["Concurrency"], opened["Request Rate"]) == ("", "20.0")  # open loop: rate, not workers
    assert opened["p50 latency"] == "2000" and opened["Avg latency"] == "2000"


def test_csv_names_cannot_become_spreadsheet_formulas(tmp_path: Path) -> None:
    write_run(tmp_path / "run", [{"-cmd": [1000], "=HYPERLINK()": [1000], "plain": [1000]}])
    assert [row["Traffic"] for row in _csv_rows(tmp_path / "run")] == ["'-cmd", "'=HYPERLINK()", "plain"]


def test_csv_server_columns_come_from_the_entrys_model(tmp_path: Path) -> None:
    [row] = _csv_rows(fixture_copy("open-100rps", tmp_path))
    stats = [json.loads(line) for line in (tmp_path / "open-100rps" / "server-stats.jsonl").read_text().splitlines()]
    first, last = (
        s["models"]["Sleep@http://127.0.0.1:52647"]["model_stats"][0]["inference_stats"]
        for s in stats[:: len(stats) - 1]
    )
    queue_us = (last["queue"]["ns"] - first["queue"]["ns"]) / (last["queue"]["count"] - first["queue"]["count"]) / 1000
    assert row["Server Queue"] == str(round(queue_us))


def test_markdown_escapes_table_breakers_and_html() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_escape("*bold* _it_ [link](x)") == "\\*bold\\* \\_it\\_ \\[link\\](x)"
    assert md_escape("two\nlines") == "two lines"
    assert md_code("p|q`r") == "`p\\|q'r`"


def test_markdown_report_of_a_run_with_errors(tmp_path: Path) -> None:
    write_run(tmp_path / "run", [{"a": [1000] * 97}], errors={"a": {"timeout": 3}}, error="server <gone> | died")
    text = render_view(build_view(load_run(tmp_path / "run")), "markdown")
    assert "| **a** | latency | 97.0 | 3 (3.00%) |" in text
    assert "Error: server &lt;gone&gt; \\| died" in text


@pytest.mark.parametrize(
    ("value_us", "text"),
    [
        (None, "-"),
        (0, "0"),
        (9, "0.009"),
        (545, "0.545"),
        (1332, "1.33"),
        (21487, "21.5"),
        (250_000, "250"),
        (1_234_567, "1235"),
    ],
)
def test_milliseconds_keep_three_significant_figures(value_us: float | None, text: str) -> None:
    assert fmt_ms(value_us) == text
