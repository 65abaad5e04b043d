"""Golden files: text, Markdown and CSV reports of committed fixture runs, byte for byte.

The fixture runs (tests/fixtures/runs/) are real run directories; the SLOs are evaluated here by
the real evaluator so every verdict kind shows up. To accept a deliberate change of the output,
regenerate the files and review the diff:

    TRITONLOAD_UPDATE_GOLDEN=1 pytest tests/report/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loadtest.recording.rundir import load_run
from loadtest.report import build_view, render_view
from loadtest.slo import parse_slo
from loadtest.slo.verdicts import evaluate_slos

from .runs import FIXTURES

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TRITONLOAD_UPDATE_GOLDEN") == "1"
SLOS = {
    "mixed": [
        parse_slo("error_rate < 1%"),
        parse_slo("throughput >= 2000/s"),
        parse_slo("p99 response_time < 50ms"),
        parse_slo("p99 latency < 10ms", traffic="lin-sync"),
        parse_slo("p99.99 latency < 100ms", traffic="lin-grpc"),
        parse_slo("p99 ttfr < 250ms", traffic="bot"),
    ],
    "open-100rps": [
        parse_slo("p99 response_time < 30ms"),
        parse_slo("p50 latency < 20ms", traffic="sleep"),
    ],
}
EXTENSIONS = {"text": "txt", "markdown": "md", "csv": "csv"}


@pytest.mark.parametrize("fmt", list(EXTENSIONS))
@pytest.mark.parametrize("run_name", list(SLOS))
def test_report_matches_its_golden_file(run_name: str, fmt: str) -> None:
    run = load_run(FIXTURES / run_name)
    results = evaluate_slos(SLOS[run_name], run.summary, run.histograms)
    rendered = render_view(build_view(run, results), fmt)
    golden = GOLDEN / f"{run_name}.{EXTENSIONS[fmt]}"
    if UPDATE:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8"), f"{golden.name} differs; see the module docstring"


def test_the_golden_runs_show_every_verdict() -> None:
    """The fixtures exercise a pass, a failure, and an SLO that cannot be measured."""
    run = load_run(FIXTURES / "mixed")
    results = evaluate_slos(SLOS["mixed"], run.summary, run.histograms)
    assert [r["passed"] for r in results] == [True, False, None, False, True, True]
    text = (GOLDEN / "mixed.txt").read_text(encoding="utf-8")
    assert "SLOs: 3 passed, 2 breached, 1 not measured" in text
