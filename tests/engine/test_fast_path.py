"""The ``sync`` pattern's fast path (pre-encoded requests) in real runs against the embedded Triton.

Same meaning as the ordinary path: requests counted, errors detected and classified the same way;
the run says which path it took (``traffic.<name>.info.fast_path`` in summary.json). Also the
``generator_saturated == false`` SLO on a light run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import loadtest
from loadtest.embedded import EmbeddedTriton


def _scenario(url: str, model: str, *, fast_path: bool, **extra: Any) -> dict[str, Any]:
    inputs = {"INPUT_1" if model == "Linear" else "INPUT": {"dtype": "float32", "shape": [2], "generator": "normal"}}
    traffic: dict[str, Any] = {"name": "t", "pattern": "sync", "target": "m", "payload": "p"}
    traffic.update(extra.pop("traffic", {}))
    scenario: dict[str, Any] = {
        "version": 1,
        "name": "fast-path",
        "targets": {"m": {"url": url, "model": model}},
        "payloads": {"p": {"pool_size": 8, "inputs": inputs}},
        "traffic": [traffic],
        "load": {"kind": "closed", "users": 2},
        "duration_s": 30,
        "fast_path": fast_path,
    }
    scenario.update(extra)
    return scenario


def _traffic(summary: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = summary["traffic"]["t"]
    return block


@pytest.mark.timeout(180)
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_fast_and_ordinary_paths_count_a_failing_model_alike(
    triton_server: EmbeddedTriton, tmp_path: Path, protocol: str
) -> None:
    url = triton_server.http_url if protocol == "http" else triton_server.grpc_url
    outcomes = {}
    for fast_path in (True, False):
        scenario = _scenario(
            url,
            "Fail",
            fast_path=fast_path,
            traffic={"parameters": {"failure_rate": "0.5"}},
            max_requests=40,
        )
        result = loadtest.run_scenario(scenario, out=tmp_path / f"run-{fast_path}")
        block = _traffic(result.summary)
        assert block["fast_path"] is fast_path
        outcomes[fast_path] = (result.exit_code, block["requests"], block["errors_by_kind"])
    (fast_exit, fast_requests, fast_errors), (slow_exit, slow_requests, slow_errors) = outcomes[True], outcomes[False]
    assert fast_exit == slow_exit
    assert fast_requests == slow_requests == 40
    assert fast_errors.keys() == slow_errors.keys()
    [kind] = fast_errors
    # The model fails exactly every other request it sees: 20 of 40, give or take the one in flight at the start.
    assert abs(fast_errors[kind] - 20) <= 1 and abs(slow_errors[kind] - 20) <= 1


@pytest.mark.serial  # "not saturated" (hub lag, CPU) needs the cores the generator would have on a quiet machine
@pytest.mark.timeout(180)
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_light_fast_run_passes_the_generator_slo(
    triton_server: EmbeddedTriton, tmp_path: Path, protocol: str
) -> None:
    url = triton_server.http_url if protocol == "http" else triton_server.grpc_url
    scenario = _scenario(
        url,
        "Linear",
        fast_path=True,
        load={"kind": "closed", "users": 1, "pacing_s": 0.05},
        duration_s=2,
        slos=["generator_saturated == false", "error_rate < 1%"],
    )
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    assert result.exit_code == 0
    block = _traffic(result.summary)
    assert block["fast_path"] is True
    assert block["requests"] > 0 and block["errors"] == 0
    assert result.summary["generator"]["saturated"] is False
    verdicts = {s["slo"]: s for s in result.summary["slos"]}
    assert verdicts["generator_saturated == false"]["passed"] is True
    assert verdicts["generator_saturated == false"]["measured_text"] == "false"
    counted = sum(h.get_total_count() for (name, metric), h in result.histograms().items() if metric == "latency")
    assert counted == block["requests"]


@pytest.mark.timeout(120)
def test_patterns_without_a_fast_path_say_so(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    futures = {"pattern": "futures", "in_flight": 2}
    scenario = _scenario(triton_server.http_url, "Linear", fast_path=True, traffic=futures, max_requests=20)
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    assert result.exit_code == 0
    assert _traffic(result.summary)["fast_path"] is False
