"""``generator_saturated == false``: an SLO on the load generator's own verdict (summary.json ``generator``)."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.report._view import fmt_measured
from loadtest.scenario import ScenarioError, load_scenario
from loadtest.slo import SloError, evaluate, parse_slo
from loadtest.slo.verdicts import evaluate_slos


def test_flag_slo_parses_in_both_forms() -> None:
    slo = parse_slo("generator_saturated == false")
    assert (slo.metric, slo.statistic, slo.comparator, slo.threshold, slo.unit) == (
        "generator_saturated",
        None,
        "==",
        0.0,
        "flag",
    )
    assert parse_slo("Generator_Saturated != TRUE").text == "generator_saturated != true"
    assert parse_slo({"metric": "generator_saturated", "op": "==", "threshold": False}) == slo
    assert evaluate(slo, 0.0).passed is True
    assert evaluate(slo, 1.0).passed is False
    assert evaluate(parse_slo("generator_saturated != true"), 1.0).passed is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("generator_saturated < false", "compare it with == or !="),
        ("generator_saturated == no", "compared with true or false, not 'no'"),
        ("max generator_saturated == false", "takes no statistic"),
        ("error_rate == 1%", "unknown comparator '=='"),
    ],
)
def test_bad_flag_slos_say_what_to_change(spec: str, message: str) -> None:
    with pytest.raises(SloError, match=message):
        parse_slo(spec)
    with pytest.raises(SloError, match="whole run"):
        parse_slo("generator_saturated == false", traffic="linear")


def _summary(saturated: bool | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"overall": {"requests": 100, "error_rate": 0.0, "throughput_rps": 50.0}, "traffic": {}}
    if saturated is not None:
        summary["generator"] = {
            "cpu_util": 0.97 if saturated else 0.2,
            "loop_lag_p99_us": 100.0,
            "saturated": saturated,
            "reason": "CPU 97% of one core: add processes or use fewer users" if saturated else None,
        }
    return summary


def test_a_saturated_summary_fails_the_slo_with_the_reason() -> None:
    [result] = evaluate_slos([parse_slo("generator_saturated == false")], _summary(True))
    assert result["passed"] is False
    assert result["unit"] == "flag" and result["measured"] == 1.0
    assert result["measured_text"].startswith("true (CPU 97%")
    assert fmt_measured("flag", result["threshold"]) == "false"


def test_a_light_summary_passes_and_a_missing_verdict_is_not_measured() -> None:
    [passed] = evaluate_slos([parse_slo("generator_saturated == false")], _summary(False))
    assert passed["passed"] is True and passed["measured_text"] == "false"
    [unknown] = evaluate_slos([parse_slo("generator_saturated == false")], _summary(None))
    assert unknown["passed"] is None and "generator verdict" in unknown["reason"]


SCENARIO = """
version: 1
targets: {t: {url: "http://127.0.0.1:8000", model: Linear}}
payloads: {p: {inputs: {INPUT_1: {dtype: float32, shape: [2], generator: zeros}}}}
traffic:
  - {name: a, pattern: sync, target: t, payload: p, slos: ["generator_saturated == false"]}
load: {kind: closed, users: 1}
duration_s: 1
slos: ["generator_saturated == false", {metric: generator_saturated, op: "==", threshold: false}]
"""


def test_scenario_takes_it_globally_and_refuses_it_per_entry(tmp_path: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problems = str(caught.value)
    assert "traffic[0].slos[0]" in problems and "whole run" in problems
    assert "slos[0]" not in problems.replace("traffic[0].slos[0]", "")
    path.write_text(SCENARIO.replace(', slos: ["generator_saturated == false"]}', "}"))
    scenario = load_scenario(path)
    assert [s.text for s in scenario.all_slos()] == ["generator_saturated == false"] * 2
