"""``sync`` users over gRPC, whose request loop runs in a thread of each user's own, against a real Triton.

Each test checks what the thread and the hub share: the request budget, open-loop tickets, the
recording of every finished request (errors included) once, and the end of the run (no thread goes on
sending, requests still out are counted as unfinished). The server's own counts are the reference. The
budget shared by two processes is tested for both protocols in test_distributed.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import tritonclient.http as httpclient

import loadtest
from loadtest.embedded import EmbeddedTriton
from loadtest.engine.rules import LATE_SHARE_LIMIT

COUNT_WAIT_S = 10.0
"""Triton counts a request after the client has its answer: how long to wait for its count to catch up."""


def _scenario(url: str, model: str, **extra: Any) -> dict[str, Any]:
    inputs = {"INPUT_1" if model == "Linear" else "INPUT": {"dtype": "float32", "shape": [2], "generator": "normal"}}
    traffic: dict[str, Any] = {"name": "t", "pattern": "sync", "target": "m", "payload": "p"}
    traffic.update(extra.pop("traffic", {}))
    target: dict[str, Any] = {"url": url, "model": model}
    target.update(extra.pop("target", {}))
    scenario: dict[str, Any] = {
        "version": 1,
        "name": "grpc-loop",
        "targets": {"m": target},
        "payloads": {"p": {"pool_size": 8, "inputs": inputs}},
        "traffic": [traffic],
        "load": {"kind": "closed", "users": 4},
        "duration_s": 60,
        "warmup_s": 0,
    }
    scenario.update(extra)
    return scenario


def server_counts(server: EmbeddedTriton, model: str) -> int:
    """Requests the server executed for ``model``, succeeded or failed."""
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
    try:
        stats = client.get_inference_statistics(model)["model_stats"][0]["inference_stats"]
        return int(stats["success"]["count"]) + int(stats["fail"]["count"])
    finally:
        client.close()


def counted_by_server(server: EmbeddedTriton, model: str, before: int, expected: int) -> int:
    """The server's count since ``before``, once it reaches ``expected`` (or after ``COUNT_WAIT_S``)."""
    deadline = time.monotonic() + COUNT_WAIT_S
    while (seen := server_counts(server, model) - before) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


def request_threads(traffic: str = "t") -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == f"tritonload-{traffic}"]


def assert_threads_end(within_s: float) -> None:
    deadline = time.monotonic() + within_s
    for thread in request_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    assert request_threads() == [], "a request thread is still running after the run"


def _traffic(result: Any) -> dict[str, Any]:
    block: dict[str, Any] = result.summary["traffic"]["t"]
    return block


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "ordinary"])
def test_max_requests_is_exact_with_several_users(
    triton_server: EmbeddedTriton, tmp_path: Path, fast_path: bool
) -> None:
    scenario = _scenario(
        triton_server.grpc_url, "Linear", fast_path=fast_path, max_requests=313, load={"kind": "closed", "users": 6}
    )
    before = server_counts(triton_server, "Linear")
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    assert result.exit_code == 0
    block = _traffic(result)
    assert block["fast_path"] is fast_path
    assert block["requests"] == block["ok"] == 313
    assert result.summary["duration_s"] < 30  # ended by the budget, not the duration
    assert counted_by_server(triton_server, "Linear", before, 314) == 314  # and the preflight probe
    counted = sum(h.get_total_count() for (_, metric), h in result.histograms().items() if metric == "latency")
    assert counted == 313


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "ordinary"])
def test_every_failed_request_is_counted_once(triton_server: EmbeddedTriton, tmp_path: Path, fast_path: bool) -> None:
    scenario = _scenario(
        triton_server.grpc_url,
        "Fail",
        fast_path=fast_path,
        traffic={"parameters": {"failure_rate": "0.5"}},
        max_requests=90,
        load={"kind": "closed", "users": 3},
    )
    before = server_counts(triton_server, "Fail")
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    block = _traffic(result)
    assert block["requests"] == block["ok"] + block["errors"] == 90
    assert block["errors_by_kind"] == {"server": block["errors"]}
    assert counted_by_server(triton_server, "Fail", before, 91) == 91  # and the preflight probe
    # The model fails every other request it sees (the probe included), whichever user sent it.
    assert abs(block["errors"] - 45) <= 1


@pytest.mark.serial  # late sends (> 5 ms) need the machine's cores: at load 8 a sleeping thread wakes late too
@pytest.mark.timeout(180)
def test_open_loop_keeps_its_rate_on_time(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = _scenario(
        triton_server.grpc_url,
        "Linear",
        load={"kind": "open", "rate": 200, "arrival": "constant", "max_in_flight": 4},
        duration_s=4,
    )
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    assert result.exit_code == 0
    block = _traffic(result)
    assert block["errors"] == 0
    assert abs(block["requests"] - 800) <= 16, block["requests"]  # rate x duration
    # a light run keeps its schedule: no more late sends than the generator's own saturation rule allows
    assert block["late_sends"] <= LATE_SHARE_LIMIT * block["requests"], block["late_sends"]
    metrics = block["metrics"]
    assert metrics["response_time"]["count"] == metrics["latency"]["count"] == block["ok"]
    assert metrics["response_time"]["p50"] >= metrics["latency"]["p50"]


@pytest.mark.timeout(180)
def test_no_thread_sends_after_the_run_returns(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = _scenario(triton_server.grpc_url, "Linear", load={"kind": "closed", "users": 8}, duration_s=2)
    before = server_counts(triton_server, "Linear")
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    assert result.exit_code == 0
    assert_threads_end(within_s=10.0)
    block = _traffic(result)
    assert block["ok"] > 0 and block["errors"] == 0
    # Every request the server saw was recorded (one more: the probe): none went out after the run.
    assert counted_by_server(triton_server, "Linear", before, block["ok"] + 1) == block["ok"] + 1


@pytest.mark.timeout(180)
def test_requests_out_at_the_end_are_unfinished_and_not_waited_for(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = _scenario(
        triton_server.grpc_url,
        "Sleep",
        target={"timeouts": {"inference_s": 120}},
        traffic={"parameters": {"latency_ms": 10000}},  # the preflight probe waits for one too
        load={"kind": "closed", "users": 2},
        duration_s=1,
        grace_s=0.5,
    )
    result = loadtest.run_scenario(scenario, out=tmp_path / "run")
    block = _traffic(result)
    assert block["ok"] == 0 and block["errors_by_kind"] == {"unfinished": 2}
    # The calls are abandoned when the users' clients close, not waited for: sent about 1.5 s before the run
    # returned, they would end 10 s after they were sent.
    assert_threads_end(within_s=5.0)
