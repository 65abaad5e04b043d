"""Capacity reports of sweep/capacity run directories: golden text and Markdown, the HTML page's parts,
escaping, broken result files, and ``tritonload report`` on such a directory.

The fixtures (tests/fixtures/capacity/) follow the result format of ``tritonload sweep`` /
``tritonload capacity`` with numbers modelled on the ``Capacity`` demo model (4 instances x 20 ms).
To accept a deliberate change of the golden output: ``TRITONLOAD_UPDATE_GOLDEN=1 pytest`` this file.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.recording.rundir import RunDirectoryError
from loadtest.report.capacity import is_capacity_run, load_capacity_view, render_capacity, write_capacity_reports

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "capacity"
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TRITONLOAD_UPDATE_GOLDEN") == "1"
RUNS = ("sweep-concurrency", "capacity-rate")
HOSTILE = '<script>alert("x")</script>|*_'
EXTERNAL = re.compile(
    r"""(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", re.I
)


def _result(name: str) -> dict[str, Any]:
    path = FIXTURES / name
    result_path = path / ("capacity.json" if (path / "capacity.json").is_file() else "sweep.json")
    data: dict[str, Any] = json.loads(result_path.read_text())
    return data


def _write(directory: Path, result: dict[str, Any], name: str = "capacity.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(result), encoding="utf-8")
    return directory


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("run", RUNS)
def test_report_matches_its_golden_file(run: str, fmt: str) -> None:
    rendered = render_capacity(load_capacity_view(FIXTURES / run), fmt)
    golden = GOLDEN / f"{run}.{'txt' if fmt == 'text' else 'md'}"
    if UPDATE:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8"), f"{golden.name} differs; see the module docstring"


def test_the_capacity_answer_its_uncertainty_and_instances_are_stated() -> None:
    text = render_capacity(load_capacity_view(FIXTURES / "capacity-rate"), "markdown")
    assert "Capacity: 181.2 req/s meets every SLO" in text
    assert "between 181.2 req/s (last passing) and 187.5 req/s (first failing)" in text
    assert "confirmed by a second run at the answer" in text
    assert "For 1000 req/s at this SLO with 20 % headroom: 27 instances (4 now, 45.3 req/s each), if capacity" in text
    assert "Saturated first: server queue at 200 req/s" in text
    assert "| 6\\* | 181.2 |" in text and "| 7\\* | 181.2 |" in text  # the answer's rows are marked
    assert "| 5 | 187.5 | 186.9 | 25.1 | 81.6 | 0 | yes (3) | FAIL |" in text


def test_a_sweep_shows_the_knee_and_the_queue_of_the_saturated_step() -> None:
    text = render_capacity(load_capacity_view(FIXTURES / "sweep-concurrency"), "text")
    assert "Knee of the latency-throughput curve: 4 users (197.6 req/s, p99 22.9 ms)." in text
    assert "Saturated first: server queue at 8 users" in text
    row = next(line for line in text.splitlines() if line.lstrip().startswith("3 "))
    assert row.split()[:5] == ["3", "8", "198.3", "40.6", "42.8"]
    assert "server queue" in row and "20.2" in row  # the queue of ~20 ms per request is in the row


def test_the_html_page_is_self_contained_and_draws_curve_slo_knee_answer_and_breakdown() -> None:
    html = render_capacity(load_capacity_view(FIXTURES / "capacity-rate"), "html")
    assert EXTERNAL.search(html) is None
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert html.count("<svg") == html.count("</svg>") == 2
    for element in ("p50-curve", "p99-curve", "slo-line-0", "knee", "answer", "answer-band", "p99-unstable"):
        assert f'id="{element}"' in html, element
    for phase in ("queue", "compute_input", "compute_infer", "compute_output"):
        assert html.count(f'id="bar-{phase}-') == 8, phase  # one bar per step
    assert "SLO p99 latency &lt; 60ms" in html  # the legend names the SLO (escaped SVG text)


def test_a_sweep_without_slos_or_answer_draws_no_slo_line_and_no_answer() -> None:
    html = render_capacity(load_capacity_view(FIXTURES / "sweep-concurrency"), "html")
    assert 'id="p99-curve"' in html and 'id="knee"' in html
    assert 'id="slo-line-0"' not in html and 'id="answer"' not in html


def test_a_saturated_generator_step_is_flagged_and_left_off_the_curve(tmp_path: Path) -> None:
    result = _result("sweep-concurrency")
    result["steps"][3]["generator"] = {"saturated": True, "reason": "the load generator is saturated (CPU at 98%)"}
    view = load_capacity_view(_write(tmp_path / "run", result, "sweep.json"))
    assert view.steps[3].verdict == "invalid"
    assert view.saturation.resource == "generator"
    text = render_capacity(view, "text")
    assert "step 3: the load generator is saturated (CPU at 98%); the step is no measurement" in text
    html = render_capacity(view, "html")
    assert "Step 3: the load generator is saturated (CPU at 98%); the step" in html
    # three points on each curve, not four: the saturated step measured the generator
    assert len(re.findall(r'<g id="p50-curve">.*?</g>', html, re.S)) == 1
    curve = re.search(r'<g id="p50-curve">(.*?)</g>\s*</g>', html, re.S)
    assert curve is not None and curve.group(1).count("<use ") == 3


def test_every_foreign_string_is_escaped(tmp_path: Path) -> None:
    result = _result("capacity-rate")
    result["scenario"] = HOSTILE
    result["steps"][0]["note"] = HOSTILE
    result["steps"][0]["generator"] = {"saturated": True, "reason": HOSTILE}
    view = load_capacity_view(_write(tmp_path / "run", result))
    html = render_capacity(view, "html")
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    markdown = render_capacity(view, "markdown")
    assert "<script" not in markdown and "&lt;script&gt;" in markdown
    assert "\\|\\*\\_" in markdown  # table-breaking punctuation escaped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("steps"), "steps is missing"),
        (lambda r: r["steps"][2].update(level="fast"), "steps[2].level should be a number, got 'fast'"),
        (lambda r: r["steps"][1]["latency_us"].update(p99="x"), "steps[1].latency_us.p99 should be a number"),
        (lambda r: r.update(kind="soak"), 'kind should be "sweep" or "capacity"'),
        (lambda r: r["answer"].update(level=[1]), "answer.level should be a number or null"),
        (lambda r: r.update(format=2), "written by a newer tritonload (format 2)"),
        (lambda r: r.update(format="1"), "unknown format '1'"),
    ],
)
def test_a_broken_result_file_is_refused_with_its_path(tmp_path: Path, change: Any, message: str) -> None:
    result = copy.deepcopy(_result("capacity-rate"))
    change(result)
    with pytest.raises(RunDirectoryError, match=re.escape(message)):
        load_capacity_view(_write(tmp_path / "run", result))


def test_a_result_that_is_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text("{not json")
    assert is_capacity_run(tmp_path)
    with pytest.raises(RunDirectoryError, match="is not valid JSON"):
        load_capacity_view(tmp_path)
    assert not is_capacity_run(tmp_path / "nowhere")


def test_write_capacity_reports_writes_markdown_and_html_by_default(tmp_path: Path) -> None:
    paths = write_capacity_reports(FIXTURES / "capacity-rate", out_dir=tmp_path)
    assert [path.name for path in paths] == ["report.md", "report.html"]
    assert all(path.stat().st_size > 0 for path in paths)
    with pytest.raises(ValueError, match="renders as text, markdown, html, not 'junit'"):
        write_capacity_reports(FIXTURES / "capacity-rate", ("junit",), out_dir=tmp_path)


def test_tritonload_report_renders_a_capacity_run(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["report", str(FIXTURES / "capacity-rate"), "-f", "text,html", "--out", str(tmp_path)])
    assert result.exit_code == ExitCode.OK, result.output
    assert "Capacity: 181.2 req/s meets every SLO" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html", "report.txt"]
    result = runner.invoke(main, ["report", str(FIXTURES / "sweep-concurrency"), "-f", "markdown", "--stdout"])
    assert result.exit_code == ExitCode.OK and result.output.startswith("### tritonload: Sweep over concurrency")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "junit"], "renders as text, markdown, html, not junit"),
        (["--slo", "p99 latency < 1ms"], "a sweep's SLOs are judged while it runs"),
        (["-f", "text,html", "--stdout"], "--stdout prints one format"),
    ],
)
def test_tritonload_report_refuses_what_a_capacity_run_cannot_do(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["report", str(FIXTURES / "capacity-rate"), *args])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.output


def test_tritonload_report_exit_codes_for_no_answer_and_a_broken_file(tmp_path: Path) -> None:
    result = _result("capacity-rate")
    for step in result["steps"]:
        step["passed"] = False
    result["answer"].update(level=None, last_pass=None, first_fail=50, instances_needed=None)
    run = _write(tmp_path / "none", result)
    outcome = CliRunner().invoke(main, ["report", str(run)])
    assert outcome.exit_code == ExitCode.SLO_BREACHED, outcome.output
    assert "No answer: even the lowest level measured (50 req/s) breaks an SLO." in outcome.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "capacity.json").write_text("[]")
    outcome = CliRunner().invoke(main, ["report", str(broken)])
    assert outcome.exit_code == ExitCode.NOT_COMPARABLE
    assert "the file should hold a JSON object" in outcome.output


def test_gpu_metrics_add_a_column_and_name_the_gpu_when_it_is_busy(tmp_path: Path) -> None:
    from loadtest.engine.server_poll import parse_metrics

    busy = parse_metrics((FIXTURES.parent / "metrics" / "gpu-saturated.prom").read_text())
    result = _result("sweep-concurrency")
    for step in result["steps"]:
        idle = {key: (0.42 if key.startswith("nv_gpu_utilization") else value) for key, value in busy.items()}
        step["server"]["metrics"] = busy if step["level"] >= 4 else idle
    view = load_capacity_view(_write(tmp_path / "run", result, "sweep.json"))
    assert (view.saturation.resource, view.saturation.level) == ("GPU", 4.0)
    text = render_capacity(view, "text")
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("step "))
    header, rows = lines[start], lines[start + 2 : start + 6]
    assert header.split()[-2:] == ["GPU", "util"]
    assert [row.split()[-1] for row in rows] == ["42%", "42%", "99%", "99%"]
    assert "Saturated first: GPU at 4 users: GPU utilisation 99%." in text


def test_an_interrupted_run_says_so_and_shows_its_notes(tmp_path: Path) -> None:
    result = _result("capacity-rate")
    result["status"] = "interrupted"
    result["notes"] = ["interrupted by Ctrl-C during step 7"]
    text = render_capacity(load_capacity_view(_write(tmp_path / "run", result)), "markdown")
    assert "- Run status: interrupted; the steps below are what it measured so far." in text
    assert "- Note: interrupted by Ctrl-C during step 7" in text


def test_the_answer_is_drawn_at_a_step_that_measured_the_server(tmp_path: Path) -> None:
    # the confirming run at the answer's level saturated the generator and achieved less: not the answer's rate
    result = _result("capacity-rate")
    confirming = result["steps"][7]
    confirming.update(throughput_rps=85.8, passed=False, generator={"saturated": True, "reason": "late sends"})
    view = load_capacity_view(_write(tmp_path / "run", result))
    assert view.answer_throughput() == 181.0
    assert view.throughput_at(187.5) == 186.9
    html = render_capacity(view, "html")
    assert "answer 181.0 req/s" in html and "85.8 req/s" not in html
