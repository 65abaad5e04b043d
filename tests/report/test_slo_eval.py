"""SLO evaluation against run summaries: where each value comes from, and what cannot be measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loadtest.recording.rundir import load_run
from loadtest.scenario import parse_scenario
from loadtest.slo import SloError, parse_slo
from loadtest.slo.verdicts import evaluate_slos, parse_slo_option, slos_of_scenario_yaml

from .runs import FIXTURES, write_run


def _summary() -> dict[str, Any]:
    latency = {"count": 100, "min": 900, "mean": 1500.0, "max": 9000, "p50": 1400, "p99": 8000}
    return {
        "traffic": {
            "a": {"requests": 110, "error_rate": 10 / 110, "throughput_rps": 50.0, "metrics": {"latency": latency}},
            "idle": {"requests": 0, "error_rate": 0.0, "throughput_rps": 0.0, "metrics": {}},
        },
        "overall": {"requests": 110, "error_rate": 10 / 110, "throughput_rps": 50.0, "metrics": {"latency": latency}},
    }


@pytest.mark.parametrize(
    ("text", "traffic", "measured", "passed"),
    [
        ("p99 latency < 10ms", None, 8000.0, True),
        ("p50 latency <= 1ms", "a", 1400.0, False),
        ("mean latency < 2ms", "a", 1500.0, True),
        ("max latency < 5ms", None, 9000.0, False),
        ("min latency > 1ms", "a", 900.0, False),
        ("error_rate < 10%", "a", 10 / 110, True),
        ("error_rate < 5%", None, 10 / 110, False),
        ("throughput >= 40/s", "a", 50.0, True),
        ("throughput > 60/s", None, 50.0, False),
    ],
)
def test_each_statistic_reads_its_value(text: str, traffic: str | None, measured: float, passed: bool) -> None:
    [result] = evaluate_slos([parse_slo(text, traffic=traffic)], _summary())
    assert result["measured"] == pytest.approx(measured)
    assert result["passed"] is passed
    assert result["scope"] == (traffic or "overall") and result["traffic"] == traffic
    assert result["reason"] is None


@pytest.mark.parametrize(
    ("text", "traffic", "reason"),
    [
        ("p99 latency < 10ms", "missing", "no traffic entry 'missing'"),
        ("p99 latency < 10ms", "idle", "no successful request recorded latency"),
        ("error_rate < 1%", "idle", "no requests were measured"),
        ("p99 response_time < 10ms", "a", "open loop only"),
        ("p99.9 latency < 10ms", "a", "add 99.9 to recording.percentiles"),
    ],
)
def test_unmeasurable_slos_are_neither_pass_nor_fail(text: str, traffic: str | None, reason: str) -> None:
    [result] = evaluate_slos([parse_slo(text, traffic=traffic)], _summary())
    assert result["passed"] is None and result["measured"] is None
    assert reason in result["reason"]


def test_a_percentile_missing_from_the_summary_comes_from_the_histograms(tmp_path: Path) -> None:
    write_run(tmp_path / "run", [{"a": list(range(1, 1001)), "b": [5000] * 10}], percentiles=(50.0,))
    run = load_run(tmp_path / "run")
    slos = [parse_slo("p99.9 latency < 2ms", traffic="a"), parse_slo("p99.9 latency < 2ms")]
    per_entry, overall = evaluate_slos(slos, run.summary, run.histograms)
    assert per_entry["measured"] == 999.0 and per_entry["passed"] is True
    assert overall["measured"] == 5003.0 and overall["passed"] is False  # the merged histogram's tail


def test_a_scenario_gives_its_global_slos_then_each_entries() -> None:
    text = (FIXTURES.parents[2] / "scenarios" / "quickstart.yaml").read_text()
    scenario = parse_scenario(text)
    results = evaluate_slos(scenario, load_run(FIXTURES / "mixed").summary)
    assert [(r["scope"], r["slo"]) for r in results] == [
        ("overall", "error_rate < 1%"),
        ("linear-sync", "p99 latency < 250ms"),
        ("bot-stream", "p99 ttfr < 250ms"),
    ]
    assert results[0]["passed"] is True
    assert [r["passed"] for r in results[1:]] == [None, None]  # the fixture has other entry names


def test_results_are_json_ready_with_texts_for_people() -> None:
    [result] = evaluate_slos([parse_slo("p99 latency < 10ms")], _summary())
    assert result == {
        "slo": "p99 latency < 10ms",
        "scope": "overall",
        "traffic": None,
        "metric": "latency",
        "statistic": "p99",
        "comparator": "<",
        "threshold": 10000.0,
        "unit": "us",
        "measured": 8000.0,
        "passed": True,
        "measured_text": "8.000 ms",
        "threshold_text": "10.000 ms",
        "reason": None,
    }


def test_slos_are_read_back_from_a_resolved_scenario_yaml() -> None:
    text = "slos: ['p99 latency < 50ms']\ntraffic:\n  - {name: a, slos: ['error_rate < 1%']}\n  - {name: b}\n"
    slos = slos_of_scenario_yaml(text)
    assert [(s.traffic, s.text) for s in slos] == [(None, "p99 latency < 50ms"), ("a", "error_rate < 1%")]
    assert slos_of_scenario_yaml("x: 1\n") == []
    assert slos_of_scenario_yaml("") == []
    with pytest.raises(SloError, match="not valid YAML"):
        slos_of_scenario_yaml("slos: [unclosed\n")
    with pytest.raises(SloError):
        slos_of_scenario_yaml("slos: ['p99 latency < fast']\n")


def test_command_line_slos_may_name_a_traffic_entry() -> None:
    assert parse_slo_option("p99 latency < 5ms", ["a"]).traffic is None
    slo = parse_slo_option("a: p99 latency < 5ms", ["a"])
    assert (slo.traffic, slo.threshold) == ("a", 5000.0)
    with pytest.raises(SloError, match="no traffic entry 'z'"):
        parse_slo_option("z: p99 latency < 5ms", ["a"])
