"""SLO evaluation against run summaries: where each value comes from, and what cannot be measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

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
            "failing": {"requests": 4, "error_rate": 1.0, "throughput_rps": 0.0, "metrics": {"latency": {"count": 0}}},
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
        ("throughput >= 1/s", "failing", 0.0, False),  # requests were sent and none succeeded: a real 0
        ("error_rate < 50%", "failing", 1.0, False),
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
        ("p99 latency < 10ms", "idle", "no requests were measured"),
        ("error_rate < 1%", "idle", "no requests were measured"),
        ("throughput >= 1/s", "idle", "no requests were measured"),
        ("throughput < 1000/s", "idle", "no requests were measured"),  # would pass against 0.0
        ("max gap < 1s", "idle", "no requests were measured"),
        ("p99 latency < 10ms", "failing", "no successful request recorded latency"),
        ("p99 response_time < 10ms", "a", "open loop only"),
        ("p99.9 latency < 10ms", "a", "add 99.9 to recording.percentiles"),
    ],
)
def test_unmeasurable_slos_are_neither_pass_nor_fail(text: str, traffic: str | None, reason: str) -> None:
    [result] = evaluate_slos([parse_slo(text, traffic=traffic)], _summary())
    assert result["passed"] is None and result["measured"] is None
    assert reason in result["reason"]


@pytest.mark.parametrize("text", ["throughput >= 1/s", "throughput < 1000/s", "error_rate < 1%", "p99 latency < 1s"])
def test_a_run_with_no_request_at_all_measures_no_global_slo(text: str) -> None:
    empty = {"requests": 0, "error_rate": 0.0, "throughput_rps": 0.0, "metrics": {}}
    [result] = evaluate_slos([parse_slo(text)], {"traffic": {"a": empty}, "overall": empty})
    assert (result["passed"], result["measured"], result["measured_text"]) == (None, None, None)
    assert result["reason"] == "no requests were measured"


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


@pytest.mark.parametrize(
    ("text", "measured", "measured_text", "threshold_text"),
    [
        ("p99 latency < 1s", 999_999.0, "999.999 ms", "1.000 s"),
        ("p99 latency < 2500ms", 1_000_000.0, "1.000 s", "2.500 s"),
        ("p99 latency < 1ms", 1_500.0, "1.500 ms", "1.000 ms"),
        ("p99 latency < 3600s", 3_000_000_000.0, "3000.000 s", "3600.000 s"),
        ("error_rate < 2%", 0.0123, "1.230%", "2.000%"),
        ("throughput >= 10/s", 12.34, "12.3/s", "10.0/s"),
    ],
)
def test_values_are_shown_in_readable_units(
    text: str, measured: float, measured_text: str, threshold_text: str
) -> None:
    metric = parse_slo(text).metric
    block: dict[str, Any] = {"requests": 10, "metrics": {"latency": {"count": 10, "p99": measured}}}
    block.update({"error_rate": measured, "throughput_rps": measured} if metric != "latency" else {})
    [result] = evaluate_slos([parse_slo(text)], {"overall": block})
    assert (result["measured_text"], result["threshold_text"]) == (measured_text, threshold_text)


def test_a_block_without_rate_fields_reads_them_as_zero() -> None:
    summary = {"overall": {"requests": 3, "metrics": {}}}
    results = evaluate_slos([parse_slo("error_rate <= 0%"), parse_slo("throughput < 1/s")], summary)
    assert [(r["measured"], r["passed"]) for r in results] == [(0.0, True), (0.0, True)]


@pytest.mark.parametrize("text", ["p99.90 latency < 10ms", "p099.9 latency < 10ms"])
def test_a_percentile_spelled_differently_reads_the_summary_key(text: str) -> None:
    latency = {"count": 10, "p50": 1000, "p99.9": 7000}
    [result] = evaluate_slos([parse_slo(text)], {"overall": {"requests": 10, "metrics": {"latency": latency}}})
    assert (result["measured"], result["reason"]) == (7000.0, None)


def test_a_missing_percentile_is_read_from_a_mapping_of_histograms_without_a_range_in_the_summary() -> None:
    first, second = HdrHistogram(1, 3_600_000_000, 3), HdrHistogram(1, 3_600_000_000, 3)
    for value in range(1, 101):
        first.record_value(value)
    second.record_value(2_000_000_000)
    histograms = {("a", "latency"): first, ("b", "latency"): second}
    summary = {"overall": {"requests": 101, "metrics": {"latency": {"count": 101, "p50": 51}}}}
    [result] = evaluate_slos([parse_slo("p100 latency < 1s")], summary, histograms)
    assert result["measured"] == float(second.get_max_value())
    assert result["passed"] is False


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("p99 response_time < 10ms", "response_time is recorded in open loop only"),
        ("mean latency < 10ms", "mean of latency is not in the summary"),
        ("p99 ttfr < 10ms", "no successful request recorded ttfr"),  # a metric this entry never had
    ],
)
def test_reasons_in_full(text: str, reason: str) -> None:
    latency = {"count": 10, "p99": 5}
    [result] = evaluate_slos([parse_slo(text)], {"overall": {"requests": 10, "metrics": {"latency": latency}}})
    assert (result["passed"], result["reason"]) == (None, reason)


def test_non_mapping_traffic_entries_in_a_scenario_yaml_are_skipped() -> None:
    text = "traffic:\n  - just-a-name\n  - {name: a, slos: ['p99 latency < 5ms']}\n  - {name: b, slos: []}\n"
    assert [(s.traffic, s.text) for s in slos_of_scenario_yaml(text)] == [("a", "p99 latency < 5ms")]


@pytest.mark.parametrize(
    ("text", "names", "message"),
    [
        ("p99 latency", ["a"], "has no comparator"),
        (
            "X: p99 latency < 5ms",
            ["b", "a"],
            "--slo 'X: p99 latency < 5ms': the run has no traffic entry 'X' (entries: a, b)",
        ),
        ("x: p99 latency < 5ms", [], "the run has no traffic entry 'x' (entries: none)"),
        # the first colon ends the entry name
        ("a: p99 latency < 5ms: b", ["a"], "threshold '5ms: b' is not a number with a unit"),
    ],
)
def test_command_line_slo_errors(text: str, names: list[str], message: str) -> None:
    with pytest.raises(SloError) as caught:
        parse_slo_option(text, names)
    assert message in str(caught.value)
