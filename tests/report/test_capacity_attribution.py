"""Server-side attribution of sweep steps, and the "what saturated first" rule: tables, then a real Triton.

Each rule has a case that meets it and a case that misses it by one condition, so a rule turned
around (or a threshold moved to the wrong side) fails here. GPU metrics come from recorded
Prometheus pages (tests/fixtures/metrics), since this machine has no GPU. The last test reads real
statistics of the ``Capacity`` model (over HTTP and gRPC: counters arrive as numbers or strings).
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from loadtest.capacity.attribution import (
    GENERATOR,
    GPU,
    GPU_SATURATED_UTILIZATION,
    NONE,
    SERVER_QUEUE,
    first_saturation,
    gpu_metrics,
    main_server,
    pending_requests,
    step_saturation,
    step_servers,
)
from loadtest.capacity.server_delta import stats_delta
from loadtest.embedded import EmbeddedTriton
from loadtest.engine.server_poll import fetch_metrics, parse_metrics, success_count
from pytriton_client import ServerClient

METRICS = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"
LABEL = "Capacity@http://127.0.0.1:8000"


def _phase(mean_us: float, count: int) -> dict[str, int]:
    return {"count": count, "ns": int(mean_us * 1000 * count)}


def model_stats(requests: int, queue_us: float, infer_us: float = 20_000.0, batch: int = 1) -> dict[str, Any]:
    """One model's statistics delta, in the statistics extension's layout."""
    executions = requests // batch
    return {
        "name": "Capacity",
        "version": "1",
        "inference_count": requests,
        "execution_count": executions,
        "inference_stats": {
            "success": _phase(queue_us + infer_us, requests),
            "fail": {"count": 0, "ns": 0},
            "queue": _phase(queue_us, requests),
            "compute_input": _phase(40.0, requests),
            "compute_infer": _phase(infer_us, requests),
            "compute_output": _phase(120.0, requests),
        },
        "batch_stats": [
            {
                "batch_size": batch,
                "compute_input": _phase(40.0, executions),
                "compute_infer": _phase(infer_us, executions),
                "compute_output": _phase(120.0, executions),
            }
        ],
    }


def step(
    index: int,
    level: float,
    throughput_rps: float,
    queue_us: float,
    *,
    gpu_util: float | None = None,
    generator: bool = False,
    stable: bool = True,
) -> dict[str, Any]:
    metrics: dict[str, float] = {}
    if gpu_util is not None:
        metrics['nv_gpu_utilization{gpu_uuid="GPU-1"}'] = gpu_util
    return {
        "index": index,
        "level": level,
        "throughput_rps": throughput_rps,
        "stable": stable,
        "generator": {"saturated": generator, "reason": "cpu 97%" if generator else None},
        "server": {LABEL: {"model_stats": [model_stats(int(throughput_rps * 10), queue_us)]}, "metrics": metrics},
    }


# --- per-step attribution ---------------------------------------------------------------------------------


def test_a_statistics_delta_gives_mean_times_per_request_and_executed_batch_sizes() -> None:
    server = main_server({"server": {LABEL: {"model_stats": [model_stats(800, 5_000.0, batch=4)]}}})
    assert server is not None
    assert server.label == LABEL and server.model == "Capacity" and server.requests == 800
    assert server.phase_us == pytest.approx(
        {"queue": 5_000.0, "compute_input": 40.0, "compute_infer": 20_000.0, "compute_output": 120.0}
    )
    assert server.batch_sizes == {4: 200}
    assert server.average_batch == 4.0
    assert server.server_us == pytest.approx(25_160.0)
    assert server.queue_share == pytest.approx(5_000.0 / 25_160.0)


def test_the_flat_the_nested_and_the_grpc_string_layouts_read_alike() -> None:
    stats = model_stats(100, 1_000.0)
    as_strings = {
        **stats,
        "inference_stats": {
            key: {"count": str(value["count"]), "ns": str(value["ns"])}
            for key, value in stats["inference_stats"].items()
        },
        "batch_stats": [{"batch_size": "1", "compute_infer": {"count": "100", "ns": "2000000000"}}],
    }
    layouts = [
        {LABEL: {"model_stats": [stats]}},
        {LABEL: stats},
        {"models": {LABEL: {"model_stats": [stats]}}},
        {"models": {LABEL: [stats]}, "metrics": {}, "metrics_delta": {}},  # the sweep's per-version deltas
        {LABEL: {"model_stats": [as_strings]}},
    ]
    views = [main_server({"server": layout}) for layout in layouts]
    assert all(view is not None for view in views)
    assert {view.phase_us["queue"] for view in views if view} == {1_000.0}
    assert [view.batch_sizes for view in views if view] == [{1: 100}] * 5


def test_the_busiest_model_comes_first_and_errors_are_skipped() -> None:
    server = {
        "Small@u": {"model_stats": [model_stats(10, 0.0)]},
        LABEL: {"model_stats": [model_stats(500, 0.0)]},
        "Dead@u": {"error": "connection refused"},
    }
    assert [view.requests for view in step_servers({"server": server})] == [500, 10]
    assert step_servers({"server": None}) == [] and main_server({}) is None


def test_a_recorded_gpu_page_gives_utilisation_memory_and_power() -> None:
    two = gpu_metrics(parse_metrics((METRICS / "gpu.prom").read_text()))
    assert two is not None
    assert two.gpus == 2
    assert two.utilization_max == pytest.approx(0.37) and two.utilization_mean == pytest.approx(0.185)
    assert two.memory_used_bytes == pytest.approx(21474836480.0 + 524288000.0)
    assert two.memory_total_bytes == pytest.approx(2 * 85899345920.0)
    assert two.power_w == pytest.approx(212.493 + 61.027)
    busy = gpu_metrics(parse_metrics((METRICS / "gpu-saturated.prom").read_text()))
    assert busy is not None and busy.gpus == 1
    assert busy.utilization_max == pytest.approx(0.99)
    assert busy.memory_fraction == pytest.approx(0.75)


def test_a_cpu_only_page_has_no_gpu_metrics_but_pending_requests() -> None:
    values = parse_metrics((METRICS / "triton-2.51-cpu.prom").read_text())
    assert gpu_metrics(values) is None
    assert pending_requests(values, "Linear") == 0.0
    assert pending_requests(values, "Lin") is None  # a label, not a prefix
    busy = parse_metrics((METRICS / "gpu-saturated.prom").read_text())
    assert pending_requests(busy, "resnet50") == 37.0  # not the ensemble's 2


@pytest.mark.parametrize("layout", ["nested per URL", "prefixed by URL"])
def test_metrics_of_several_pages_are_merged(layout: str) -> None:
    page = parse_metrics((METRICS / "gpu-saturated.prom").read_text())
    url = "http://h:8002/metrics"
    metrics = {url: page} if layout == "nested per URL" else {f"{url} {name}": value for name, value in page.items()}
    record = {"server": {"models": {LABEL: [model_stats(10, 0.0)]}, "metrics": metrics}}
    server = main_server(record)
    assert server is not None and server.gpu is not None
    assert server.gpu.utilization_max == pytest.approx(0.99)


# --- the saturation rules ---------------------------------------------------------------------------------

BASE = step(0, 4, 198.0, 100.0)  # lowest level: no queue


@pytest.mark.parametrize(
    ("case", "current", "previous", "open_loop", "expected"),
    [
        # generator: its own flag, whatever the server shows
        ("generator saturated", step(1, 8, 200.0, 20_000.0, generator=True, gpu_util=1.0), BASE, False, GENERATOR),
        ("generator not saturated", step(1, 8, 390.0, 100.0), BASE, False, None),
        # GPU: the busiest GPU at or above the threshold
        ("GPU at 99%", step(1, 8, 390.0, 100.0, gpu_util=0.99), BASE, False, GPU),
        ("GPU at the threshold", step(1, 8, 390.0, 100.0, gpu_util=GPU_SATURATED_UTILIZATION), BASE, False, GPU),
        ("GPU at 90%", step(1, 8, 390.0, 100.0, gpu_util=0.90), BASE, False, None),
        ("GPU before queue", step(1, 8, 199.0, 20_000.0, gpu_util=0.99), BASE, False, GPU),
        # server queue: plateau AND queue share high AND grown
        ("plateau with a grown queue", step(1, 8, 199.0, 20_000.0), BASE, False, SERVER_QUEUE),
        ("throughput still growing", step(1, 8, 390.0, 20_000.0), BASE, False, None),
        ("plateau without a queue", step(1, 8, 199.0, 2_000.0), BASE, False, None),
        ("plateau, queue always there", step(1, 8, 199.0, 20_000.0), step(0, 4, 198.0, 20_000.0), False, None),
        # open loop: a shortfall against the offered rate, or a step that never became stable, is a plateau
        ("open loop short of the rate", step(1, 250, 200.0, 60_000.0), step(0, 200, 198.0, 100.0), True, SERVER_QUEUE),
        ("open loop keeping up", step(1, 250, 246.0, 60_000.0), step(0, 200, 198.0, 100.0), True, None),
        (
            "open loop unstable",
            step(1, 200, 196.0, 60_000.0, stable=False),
            step(0, 100, 99.0, 100.0),
            True,
            SERVER_QUEUE,
        ),
        ("closed loop unstable is no plateau", step(1, 8, 390.0, 20_000.0, stable=False), BASE, False, None),
    ],
)
def test_step_saturation_rules(
    case: str, current: dict[str, Any], previous: dict[str, Any], open_loop: bool, expected: str | None
) -> None:
    verdict = step_saturation(current, previous, previous, open_loop)
    assert (verdict[0] if verdict else None) == expected, (case, verdict)


def test_the_lowest_saturated_level_names_the_resource_whatever_the_run_order() -> None:
    # a capacity search measures levels out of order: the verdict follows the levels
    steps = [
        step(0, 4, 198.0, 100.0),
        step(1, 32, 150.0, 80_000.0, generator=True),
        step(2, 8, 199.0, 20_000.0),
        step(3, 2, 99.0, 100.0),
    ]
    verdict = first_saturation(steps, open_loop=False)
    assert (verdict.resource, verdict.step_index, verdict.level) == (SERVER_QUEUE, 2, 8.0)
    assert "queued 20.0 ms" in verdict.reason
    # the generator saturating at a lower level comes first
    steps.append(step(4, 3, 120.0, 100.0, generator=True))
    verdict = first_saturation(steps, open_loop=False)
    assert (verdict.resource, verdict.level) == (GENERATOR, 3.0)
    assert "cpu 97%" in verdict.reason


def test_nothing_saturated_says_none() -> None:
    steps = [step(0, 1, 50.0, 50.0), step(1, 2, 100.0, 60.0), step(2, 4, 199.0, 90.0)]
    verdict = first_saturation(steps, open_loop=False)
    assert verdict.resource == NONE and verdict.step_index is None


def test_a_confirming_run_is_compared_with_the_level_below_it() -> None:
    # two runs at 8 users: the second must not be judged against the first (same level, no growth to measure)
    steps = [step(0, 4, 198.0, 100.0), step(1, 8, 390.0, 100.0), step(2, 8, 391.0, 100.0)]
    assert first_saturation(steps, open_loop=False).resource == NONE
    steps = [step(0, 4, 198.0, 100.0), step(1, 8, 199.0, 20_000.0), step(2, 8, 200.0, 20_000.0)]
    verdict = first_saturation(steps, open_loop=False)
    assert (verdict.resource, verdict.step_index) == (SERVER_QUEUE, 1)


# --- against a real Triton --------------------------------------------------------------------------------

BURST_LATENCY_MS = 200.0
"""The Capacity model's service time in the bursts below: long next to this machine's scheduling delays."""


def _burst_step(server: EmbeddedTriton, protocol: str, index: int, size: int, rounds: int) -> dict[str, Any]:
    """``rounds`` bursts of ``size`` simultaneous Capacity requests: a step record with the real statistics delta."""
    url = server.http_url if protocol == "http" else f"grpc://127.0.0.1:{server.grpc_port}"
    label = f"Capacity@{url}"
    stats_client = ServerClient(url)
    infer_client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    data = np.zeros(4, dtype=np.float32)
    inputs = [grpcclient.InferInput("INPUT", [4], "FP32")]
    inputs[0].set_data_from_numpy(data)
    done: queue.Queue[Any] = queue.Queue()
    try:
        infer_client.infer("Capacity", inputs, parameters={"latency_ms": 1.0})  # connect before the clock starts
        before = {"models": {label: stats_client.model_statistics("Capacity")}}
        started = time.perf_counter()
        for _ in range(rounds):
            for _ in range(size):
                infer_client.async_infer(
                    "Capacity",
                    inputs,
                    callback=lambda result, error: done.put(error),
                    parameters={"latency_ms": BURST_LATENCY_MS},
                )
            assert [done.get(timeout=30) for _ in range(size)] == [None] * size
        elapsed_s = time.perf_counter() - started
        # Triton counts a request in its statistics just after sending the response: wait for the count.
        expected = success_count(before["models"][label]) + size * rounds
        deadline_s = time.monotonic() + 10.0
        while success_count(reply := stats_client.model_statistics("Capacity")) < expected:
            assert time.monotonic() < deadline_s, "the server never counted every request"
            time.sleep(0.01)
        after = {"models": {label: reply}, "metrics": {server.metrics_url: fetch_metrics(server.metrics_url)}}
    finally:
        stats_client.close()
        infer_client.close()
    return {
        "index": index,
        "level": size,
        "throughput_rps": size * rounds / elapsed_s,
        "stable": True,
        "server": stats_delta(before, after),
    }


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_real_statistics_show_the_queue_saturating_the_capacity_model(
    triton_server: EmbeddedTriton, protocol: str
) -> None:
    """4 simultaneous requests fill the 4 instances; 16 wait in four waves: the queue names itself.

    Four times the requests for the same throughput is a plateau however slow this machine makes each
    burst's turnaround (the rule would need 2.5 times the throughput of the first burst)."""
    four = _burst_step(triton_server, protocol, 0, 4, rounds=3)
    sixteen = _burst_step(triton_server, protocol, 1, 16, rounds=2)
    server = main_server(sixteen)
    assert server is not None and server.model == "Capacity"
    assert server.requests >= 32  # the model's own count; other tests may add theirs
    assert server.batch_sizes.get(1, 0) >= 32 and set(server.batch_sizes) == {1}  # max_batch_size 0
    infer_us = server.phase_us["compute_infer"]
    assert infer_us is not None and infer_us >= BURST_LATENCY_MS * 1000 * 0.95
    # four waves: a request waits 0 to 3 service times, 1.5 on average: 60 % of its server time
    assert server.queue_share is not None and 0.4 < server.queue_share < 0.8, server.phase_us
    assert server.pending_requests == 0.0  # read after the burst: nothing left waiting
    assert server.gpu is None  # no GPU here
    verdict = first_saturation([four, sixteen], open_loop=False)
    seen = [(round(step["throughput_rps"], 1), main_server(step)) for step in (four, sixteen)]
    assert (verdict.resource, verdict.level) == (SERVER_QUEUE, 16.0), (verdict.reason, seen)


@pytest.mark.parametrize(
    ("reply", "labels"),
    [
        ({"model_stats": [{"name": "x", "inference_stats": {"queue": "abc"}}]}, [LABEL]),
        ({"model_stats": [{"name": "x", "inference_stats": {}, "batch_stats": 5}]}, [LABEL]),
        ({"model_stats": ["not a model"]}, [LABEL]),
        ({"model_stats": [{"name": ["x"], "inference_stats": {"success": {"count": {}}}}]}, [LABEL, "bad@u"]),
    ],
)
def test_statistics_of_a_shape_triton_never_sends_are_skipped(reply: dict[str, Any], labels: list[str]) -> None:
    good = {"model_stats": [model_stats(10, 0.0)]}
    servers = step_servers({"server": {"models": {"bad@u": reply, LABEL: good}}})
    assert [server.label for server in servers] == labels  # a count that is no number counts 0
