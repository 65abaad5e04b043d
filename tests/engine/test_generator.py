"""The generator-saturation verdict on real runs that do and do not saturate this process.

The pure rule (``generator_verdict``) is table-tested in tests/engine/test_rules.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import loadtest
from loadtest.embedded import EmbeddedTriton


def _scenario(server: EmbeddedTriton, traffic: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "targets": {"t": {"url": server.http_url, "model": traffic.pop("model")}},
        "payloads": {"p": {"inputs": {traffic.pop("input"): {"dtype": "float32", "shape": [2], "generator": "zeros"}}}},
        "traffic": [{"name": "x", "pattern": "sync", "target": "t", "payload": "p", **traffic}],
        "load": load,
        "warmup_s": 1,
        "duration_s": 3,
    }


@pytest.mark.timeout(120)
def test_a_light_run_is_not_saturated(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = _scenario(
        triton_server,
        {"model": "Sleep", "input": "INPUT", "parameters": {"latency_ms": 20}},
        {"kind": "closed", "users": 2},
    )
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    generator = result.summary["generator"]
    assert generator["saturated"] is False, generator
    assert generator["reason"] is None
    assert generator["cpu_util"] < 0.5
    intervals = [json.loads(line) for line in (tmp_path / "run" / "intervals.jsonl").read_text().splitlines()]
    assert all("loop_lag_p99_us" in interval for interval in intervals)


@pytest.mark.timeout(120)
def test_many_users_on_a_fast_model_saturate_the_generator(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = _scenario(triton_server, {"model": "Linear", "input": "INPUT_1"}, {"kind": "closed", "users": 32})
    # The ordinary path costs this process more than the server per request; the fast path can leave the
    # server (on the same cores) the bottleneck, which is not what this test is about.
    scenario["fast_path"] = False
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    generator = result.summary["generator"]
    assert generator["saturated"] is True, generator
    assert "load generator is saturated" in generator["reason"]
    assert generator["saturated_intervals"] >= 1
