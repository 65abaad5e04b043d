"""Every demo model, exercised over HTTP and gRPC with the raw tritonclient libraries."""

from __future__ import annotations

import itertools
import json
import queue
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from loadtest.embedded import EmbeddedTriton

PROTOCOLS = ["http", "grpc"]
WEIGHTS = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)
BIAS = np.array([0.1, 0.2, 0.3], dtype=np.float32)


def _client(server: EmbeddedTriton, protocol: str) -> Any:
    if protocol == "http":
        return httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
    return grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")


def _lib(protocol: str) -> Any:
    return httpclient if protocol == "http" else grpcclient


def _input(protocol: str, name: str, array: np.ndarray, datatype: str) -> Any:
    tensor = _lib(protocol).InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_all_demo_models_are_ready(triton_server: EmbeddedTriton, protocol: str) -> None:
    client = _client(triton_server, protocol)
    assert client.is_server_ready()
    for name in ("Linear", "ImageNet", "TextGen", "streaming_bot", "Sleep", "Fail", "Capacity"):
        assert client.is_model_ready(name), name
    client.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_linear_computes_the_documented_affine_map(triton_server: EmbeddedTriton, protocol: str) -> None:
    client = _client(triton_server, protocol)
    x = np.random.default_rng(1).normal(size=(128, 2)).astype(np.float32)
    result = client.infer("Linear", [_input(protocol, "INPUT_1", x, "FP32")])
    np.testing.assert_allclose(result.as_numpy("OUTPUT_1"), x @ WEIGHTS + BIAS, rtol=1e-6)
    client.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_imagenet_labels_by_dominant_colour(triton_server: EmbeddedTriton, protocol: str) -> None:
    client = _client(triton_server, protocol)
    images = np.zeros((4, 224, 224, 3), dtype=np.uint8)
    images[0, ..., 0] = 255  # red
    images[1, ..., 1] = 255  # green
    images[2, ..., 2] = 255  # blue
    images[3] = 128  # grey: no dominant channel
    result = client.infer("ImageNet", [_input(protocol, "image", images, "UINT8")])
    assert result.as_numpy("class").tolist() == [b"tench", b"goldfish", b"great white shark", b"cat"]
    assert result.as_numpy("OUTPUT_1").tolist() == [0, 1, 2, 3]
    client.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_textgen_echoes_prompt_then_generates(triton_server: EmbeddedTriton, protocol: str) -> None:
    client = _client(triton_server, protocol)
    ids = np.array([[5, 6, 7]], dtype=np.int64)
    result = client.infer("TextGen", [_input(protocol, "input_ids", ids, "INT64")])
    assert result.as_numpy("OUTPUT_1").tolist() == [[5, 6, 7, 7, 6, 5]]
    client.close()


def test_streaming_bot_over_grpc_streams_growing_text(triton_server: EmbeddedTriton) -> None:
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{triton_server.grpc_port}")
    responses: queue.Queue[Any] = queue.Queue()
    client.start_stream(callback=lambda result, error: responses.put((result, error)))
    prompt = np.array([[b"AI answers to"]], dtype=np.object_)
    client.async_stream_infer(
        "streaming_bot", [_input("grpc", "inputs", prompt, "BYTES")], enable_empty_final_response=True
    )
    texts = []
    while True:
        result, error = responses.get(timeout=10)
        assert error is None
        final = result.get_response().parameters["triton_final_response"].bool_param
        if result.as_numpy("response") is not None:
            texts.append(result.as_numpy("response")[0, 0])
        if final:
            break
    client.stop_stream()
    client.close()
    assert texts[0] == b"AI "
    assert all(len(a) < len(b) for a, b in itertools.pairwise(texts))
    assert texts[-1] == b'AI answers to the question, "What is the best way to get rid of the problem?"\n'


def test_streaming_bot_over_http_generate_stream(triton_server: EmbeddedTriton) -> None:
    body = json.dumps({"inputs": ["AI answers to"], "tokens": 3}).encode()
    request = urllib.request.Request(
        f"{triton_server.http_url}/v2/models/streaming_bot/generate_stream", data=body, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        events = [json.loads(line[6:]) for line in response.read().decode().splitlines() if line.startswith("data: ")]
    assert [e["response"] for e in events] == [
        "AI ",
        "AI answers ",
        "AI answers to ",
        "AI answers to the ",
        "AI answers to the question, ",
        'AI answers to the question, "What ',
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sleep_waits_the_requested_latency_and_echoes(triton_server: EmbeddedTriton, protocol: str) -> None:
    client = _client(triton_server, protocol)
    data = np.arange(3, dtype=np.float32).reshape(1, 3)
    started = time.perf_counter()
    result = client.infer("Sleep", [_input(protocol, "INPUT", data, "FP32")], parameters={"latency_ms": 150})
    elapsed_s = time.perf_counter() - started
    assert 0.150 <= elapsed_s < 1.0
    np.testing.assert_array_equal(result.as_numpy("OUTPUT"), data)
    client.close()


@pytest.mark.serial  # a wall-clock bound on concurrent requests
def test_sleep_serves_concurrent_requests_without_queueing(triton_server: EmbeddedTriton) -> None:
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{triton_server.grpc_port}")
    data = np.zeros((1, 1), dtype=np.float32)
    done: queue.Queue[Any] = queue.Queue()
    started = time.perf_counter()
    for _ in range(8):
        client.async_infer(
            "Sleep",
            [_input("grpc", "INPUT", data, "FP32")],
            callback=lambda result, error: done.put(error),
            parameters={"latency_ms": 300},
        )
    errors = [done.get(timeout=10) for _ in range(8)]
    elapsed_s = time.perf_counter() - started
    client.close()
    assert errors == [None] * 8
    assert elapsed_s < 2 * 0.300  # eight overlapping 300 ms sleeps, not 2.4 s in a queue


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fail_fails_the_requested_fraction(triton_server: EmbeddedTriton, protocol: str) -> None:
    client = _client(triton_server, protocol)
    data = np.zeros((1, 1), dtype=np.float32)
    outcomes = []
    for _ in range(20):
        try:
            client.infer("Fail", [_input(protocol, "INPUT", data, "FP32")], parameters={"failure_rate": 0.25})
            outcomes.append("ok")
        except InferenceServerException as exc:
            assert "injected failure" in str(exc)
            outcomes.append("fail")
    client.close()
    assert outcomes.count("fail") == 5


def _capacity_batch(server: EmbeddedTriton, count: int, latency_ms: float) -> tuple[float, list[Any]]:
    """Send ``count`` Capacity requests at once; the seconds until all answered, and their errors."""
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    data = np.arange(4, dtype=np.float32)
    done: queue.Queue[Any] = queue.Queue()
    started = time.perf_counter()
    for _ in range(count):
        client.async_infer(
            "Capacity",
            [_input("grpc", "INPUT", data, "FP32")],
            callback=lambda result, error: done.put(error if error else result.as_numpy("OUTPUT")),
            parameters={"latency_ms": latency_ms},
        )
    outcomes = [done.get(timeout=10) for _ in range(count)]
    elapsed_s = time.perf_counter() - started
    client.close()
    return elapsed_s, outcomes


@pytest.mark.serial  # wall-clock bounds on four and eight requests
def test_capacity_serves_four_at_a_time_and_queues_the_rest(triton_server: EmbeddedTriton) -> None:
    latency_s = 0.300
    four_s, four = _capacity_batch(triton_server, 4, latency_s * 1000)
    eight_s, eight = _capacity_batch(triton_server, 8, latency_s * 1000)
    for outcome in four + eight:
        np.testing.assert_array_equal(outcome, np.arange(4, dtype=np.float32))
    # A busy instance keeps its cadence, so a request that follows another within cadence_slack_ms (5 ms)
    # may end up to 5 ms before a full latency after its own start.
    assert 0.98 * latency_s <= four_s < 1.7 * latency_s  # four instances: all four served in parallel
    assert 1.98 * latency_s <= eight_s < 2.7 * latency_s  # the second four waited in the queue
    stats = json.loads(urllib.request.urlopen(f"{triton_server.http_url}/v2/models/Capacity/stats", timeout=10).read())[
        "model_stats"
    ][0]["inference_stats"]
    assert int(stats["queue"]["ns"]) > 4 * 0.5 * latency_s * 1e9  # four requests queued ~one latency each


def _sequential_response_intervals_ms(server: EmbeddedTriton, count: int, gap_s: float, **parameters: float) -> Any:
    """One client sending ``count`` Capacity requests one after another, waiting ``gap_s`` between a
    response and the next request; the milliseconds between consecutive responses."""
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    inputs = [_input("grpc", "INPUT", np.arange(4, dtype=np.float32), "FP32")]
    answered = []
    for _ in range(count):
        client.infer("Capacity", inputs, parameters=parameters or None)
        answered.append(time.perf_counter())
        if gap_s:
            time.sleep(gap_s)
    client.close()
    return np.diff(answered) * 1000.0


@pytest.mark.serial  # a median round trip under the 5 ms slack needs a quiet box
def test_capacity_one_sequential_user_gets_one_request_per_latency(triton_server: EmbeddedTriton) -> None:
    # Triton hands consecutive requests of one user to different instances; the cadence slots are shared
    # by all instances, so the client's round trip (~1 ms) is absorbed: one user gets 1 / 20 ms = 50/s,
    # not 1 / (20 ms + round trip). The median interval ignores the odd round trip a loaded box makes
    # longer than the 5 ms slack (that request is held a full 20 ms after its own start).
    intervals_ms = _sequential_response_intervals_ms(triton_server, 60, 0.0)
    assert 19.5 <= float(np.median(intervals_ms)) <= 20.6, intervals_ms


@pytest.mark.serial  # intervals between responses, on the wall clock
def test_capacity_cadence_absorbs_a_slow_client_within_the_slack(triton_server: EmbeddedTriton) -> None:
    # A client that waits 30 ms before each next request, with a 60 ms slack: every request continues
    # the slot the previous one left, so responses come every 100 ms, not every 130 ms.
    intervals_ms = _sequential_response_intervals_ms(triton_server, 12, 0.030, latency_ms=100.0, cadence_slack_ms=60.0)
    assert 98.0 <= float(np.median(intervals_ms)) <= 112.0, intervals_ms


def test_capacity_cadence_file_lives_in_the_model_directory_and_goes_with_the_model(tmp_path: Path) -> None:
    server = EmbeddedTriton(models=["Capacity"], model_control_mode="explicit", work_dir=tmp_path)
    slots_file = tmp_path / "models" / "Capacity" / ".cadence-slots"
    with server:
        _sequential_response_intervals_ms(server, 3, 0.0, latency_ms=1.0)
        assert slots_file.stat().st_size == 4 * 16  # four slots (pid, last completion), one per instance
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
        client.unload_model("Capacity")
        deadline = time.monotonic() + 20
        while slots_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        client.close()
        assert not slots_file.exists(), "the unloaded model left its cadence file"
