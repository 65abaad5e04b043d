"""The HTML report: self-contained, plots present, and every foreign string escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

from loadtest.recording.rundir import load_run
from loadtest.report import render, write_reports

from .runs import FIXTURES, write_run

HOSTILE = '<script>alert("x")</script>'
HOSTILE_NAME = "</svg><script>alert(1)</script>$x$"
ASSET_REFERENCE = re.compile(
    r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", re.I
)


def _hostile_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "hostile"
    meta = {
        "scenario": {"name": HOSTILE, "hash": "sha256:h", "seed": 0},
        "provenance": {
            "servers": {"http://127.0.0.1:1": {"name": HOSTILE, "version": HOSTILE}},
            "models": {f"{HOSTILE}@http://127.0.0.1:1": {"model": HOSTILE, "config_hash": HOSTILE}},
            "command": [HOSTILE],
        },
    }
    intervals = [{HOSTILE_NAME: [1000 + i for i in range(50)], "plain": [2000] * 20} for _ in range(3)]
    slo = {
        "slo": "p99 latency < 1ms",
        "scope": HOSTILE_NAME,
        "traffic": HOSTILE_NAME,
        "metric": "latency",
        "statistic": "p99",
        "comparator": "<",
        "threshold": 1000.0,
        "unit": "us",
        "measured": 1049.0,
        "passed": False,
        "reason": HOSTILE,
    }
    write_run(
        run_dir,
        intervals,
        errors={HOSTILE_NAME: {HOSTILE: 3}},
        scenario_yaml=f"description: {HOSTILE}\n",
        meta=meta,
        error=HOSTILE,
        slos=[slo],
    )
    # The server names its own models, versions and errors: all of it is foreign text too.
    stats = {
        "name": HOSTILE_NAME,
        "version": HOSTILE,
        "inference_count": 1,
        "execution_count": 1,
        "inference_stats": {"success": {"count": 1, "ns": 1}, "queue": {"count": 1, "ns": 1000}},
    }
    snapshots = [
        {
            "t_s": t_s,
            "models": {f"{HOSTILE_NAME}@http://{HOSTILE}:1": {"model_stats": [stats]}, "x@y": {"error": HOSTILE}},
        }
        for t_s in (0.0, 1.0, 2.0)
    ]
    (run_dir / "server-stats.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snapshots), encoding="utf-8")
    return run_dir


def test_every_foreign_string_is_escaped(tmp_path: Path) -> None:
    html = render(load_run(_hostile_run(tmp_path)), "html")
    assert "<script" not in html.lower()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(" in html
    # The traffic name reaches the plots (legend, titles) as escaped SVG text, drawn as written.
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;$x$" in html
    assert html.count("<svg") == html.count("</svg>")
    assert "Server side: &lt;/svg&gt;&lt;script&gt;" in html  # the server's model name, in the table and plot


def test_the_page_is_self_contained_with_inline_svg_plots() -> None:
    html = render(load_run(FIXTURES / "mixed"), "html")
    assert ASSET_REFERENCE.search(html) is None
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    # spectra (latency, ttfr, gap), one over-time plot per entry and metric, throughput, server side
    assert html.count("<svg") >= 3 + 5 + 1 + 1 + 2
    for heading in (
        "Latency: percentile spectrum",
        "Time to first response: percentile spectrum",
        "Gap between responses: percentile spectrum",
        "Throughput and errors over time",
        "Server side: Linear",
        "bot: time to first response over time",
    ):
        assert heading in html, heading


def test_open_loop_shows_service_time_next_to_response_time() -> None:
    html = render(load_run(FIXTURES / "open-100rps"), "html")
    assert "sleep: service time and response time" in html
    assert "response time (intended start to response)" in html
    assert "sleep: response time over time" in html


def test_the_asset_check_catches_external_references() -> None:
    """The regular expression used above is not vacuous."""
    for reference in ('<img src="https://cdn.example/x.png">', "<a href='//cdn.example/x'>", "url(http://x/y.woff)"):
        assert ASSET_REFERENCE.search(reference), reference


def test_rendering_is_deterministic_and_writes_the_named_files(tmp_path: Path) -> None:
    run = load_run(FIXTURES / "sleep-20ms")
    assert render(run, "html") == render(run, "html")
    paths = write_reports(FIXTURES / "sleep-20ms", ("text", "json", "html"), out_dir=tmp_path)
    assert [p.name for p in paths] == ["report.txt", "report.json", "report.html"]
    document = json.loads(paths[1].read_text())
    assert document["report_version"] == 1
    assert document["traffic"]["sleep"]["metrics"]["latency"]["p50"] == 21487
    assert document["servers"][0]["model"] == "Sleep"
