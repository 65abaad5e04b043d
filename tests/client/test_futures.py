"""FuturesModelClient specifics: queue limits, closing, daemon workers, gRPC in every worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton, free_port
from pytriton_client import (
    FuturesModelClient,
    ModelClient,
    PyTritonClientClosedError,
    PyTritonClientInvalidUrlError,
    PyTritonClientQueueFullError,
)

X = np.ones(1, dtype=np.float32)
SLOW = {"latency_ms": 400}


def test_results_match_model_client_and_config_and_wait_futures(url: str) -> None:
    x = np.random.default_rng(3).normal(size=(4, 2)).astype(np.float32)
    with ModelClient(url, "Linear") as plain:
        expected = plain.infer_batch(x)["OUTPUT_1"]
    with FuturesModelClient(url, "Linear", max_workers=2) as client:
        assert client.wait_for_model(10).result(30) is None
        assert client.model_config().result(30).max_batch_size == 128
        futures = [client.infer_batch(x) for _ in range(6)]
        for future in futures:
            np.testing.assert_array_equal(future.result(30)["OUTPUT_1"], expected)


def test_grpc_is_used_by_every_worker(triton_server: EmbeddedTriton) -> None:
    with FuturesModelClient(triton_server.grpc_url, "Sleep", max_workers=8) as client:
        futures = [client.infer_sample(X, parameters={"latency_ms": 100}) for _ in range(32)]
        assert [f.result(30)["OUTPUT"].tolist() for f in futures] == [[1.0]] * 32
        assert len(client._threads) == 8


def test_non_blocking_full_queue_raises_at_once(url: str) -> None:
    with FuturesModelClient(url, "Sleep", max_workers=1, max_queue_size=1, non_blocking=True) as client:
        client.wait_for_model(30).result(30)
        first = client.infer_sample(X, parameters=SLOW)
        time.sleep(0.1)  # let the worker take the first request off the queue
        queued = client.infer_sample(X, parameters=SLOW)
        started = time.monotonic()
        with pytest.raises(PyTritonClientQueueFullError, match="Queue is full"):
            client.infer_sample(X, parameters=SLOW)
        assert time.monotonic() - started < 0.2
        assert first.result(30) and queued.result(30)


def test_blocking_submission_waits_up_to_the_inference_timeout() -> None:
    # a worker waiting 2 s for an absent server keeps the single worker busy longer than the put timeout
    client = FuturesModelClient(
        f"http://127.0.0.1:{free_port()}", "Linear", max_workers=1, max_queue_size=1, inference_timeout_s=0.3
    )
    busy = client.wait_for_model(2)
    time.sleep(0.1)
    queued = client.wait_for_model(0.1)
    started = time.monotonic()
    with pytest.raises(PyTritonClientQueueFullError, match="Queue is full"):
        client.infer_sample(X)
    assert 0.25 < time.monotonic() - started < 1.5
    assert busy.exception(30) is not None and queued.exception(30) is not None
    client.close()


def test_non_blocking_submission_never_waits_for_initialisation() -> None:
    """The first request's readiness wait happens in a worker; submitting stays instant."""
    client = FuturesModelClient(f"http://127.0.0.1:{free_port()}", "Linear", init_timeout_s=1, non_blocking=True)
    started = time.monotonic()
    futures = [client.infer_sample(X) for _ in range(5)]
    assert time.monotonic() - started < 0.2
    for future in futures:
        assert future.exception(30) is not None
    client.close()


def test_close_drains_queued_work_and_refuses_new_submissions(url: str) -> None:
    client = FuturesModelClient(url, "Sleep", max_workers=1)
    futures = [client.infer_sample(X, parameters={"latency_ms": 50}) for _ in range(4)]
    client.close()
    assert all(f.done() and f.exception() is None for f in futures)
    client.close()
    with pytest.raises(PyTritonClientClosedError, match="already closed"):
        client.infer_sample(X)


def test_close_without_wait_returns_at_once(url: str) -> None:
    client = FuturesModelClient(url, "Sleep", max_workers=1)
    future = client.infer_sample(X, parameters={"latency_ms": 300})
    started = time.monotonic()
    client.close(wait=False)
    assert time.monotonic() - started < 0.2
    assert future.result(30)["OUTPUT"].tolist() == [1.0]


@pytest.mark.parametrize("field", ["max_workers", "max_queue_size"])
def test_sizes_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be greater than 0"):
        FuturesModelClient("localhost", "Linear", **{field: 0})


def test_invalid_url_is_reported_at_construction() -> None:
    with pytest.raises(PyTritonClientInvalidUrlError):
        FuturesModelClient("ftp://h", "Linear")


def test_many_threads_may_submit_at_once(url: str) -> None:
    with FuturesModelClient(url, "Linear", max_workers=4) as client:
        results: list[object] = []

        def submit() -> None:
            results.extend(client.infer_sample(np.ones(2, np.float32)) for _ in range(10))

        threads = [threading.Thread(target=submit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len([f.result(30) for f in results]) == 40  # type: ignore[attr-defined]


def test_forgotten_client_does_not_keep_the_interpreter_alive(url: str) -> None:
    code = textwrap.dedent(
        f"""
        import numpy as np
        from pytriton_client import FuturesModelClient
        client = FuturesModelClient({url!r}, "Linear")
        print(client.infer_sample(np.ones(2, np.float32)).result(30)["OUTPUT_1"].shape)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3,)"
