"""Decoupled (streaming) clients against real Triton: DecoupledModelClient and AsyncioDecoupledModelClient."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton
from pytriton_client import (
    AsyncioDecoupledModelClient,
    DecoupledModelClient,
    PyTritonClientClosedError,
    PyTritonClientInferenceServerError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
    RequestRecord,
)
from tests.client.fronts import LoopThread

PROMPT = np.array([b"AI answers to"])
FULL = b'AI answers to the question, "What is the best way to get rid of the problem?"\n'


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


class Streams:
    """Runs either decoupled client and returns lists of responses (or raises)."""

    def __init__(self, kind: str, loop: LoopThread) -> None:
        self.kind = kind
        self.loop = loop

    def make(self, url: str, model: str = "streaming_bot", **kwargs: Any) -> Any:
        if self.kind == "sync":
            return DecoupledModelClient(url, model, **kwargs)

        async def create() -> Any:
            return AsyncioDecoupledModelClient(url, model, **kwargs)

        return self.loop.run(create())

    def collect(self, client: Any, *args: Any, limit: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        if self.kind == "sync":
            out = []
            iterator = client.infer_sample(*args, **kwargs)
            for item in iterator:
                out.append(item)
                if limit is not None and len(out) >= limit:
                    iterator.close()
                    break
            return out

        async def run() -> list[dict[str, Any]]:
            out = []
            stream = client.infer_sample(*args, **kwargs)
            async for item in stream:
                out.append(item)
                if limit is not None and len(out) >= limit:
                    await stream.aclose()
                    break
            return out

        return self.loop.run(run())  # type: ignore[no-any-return]

    def close(self, client: Any) -> None:
        if self.kind == "sync":
            client.close()
        else:
            self.loop.run(client.close())


@pytest.fixture(params=["sync", "asyncio"])
def streams(request: pytest.FixtureRequest, loop: LoopThread) -> Streams:
    return Streams(str(request.param), loop)


def test_stream_yields_growing_debatched_responses(streams: Streams, triton_server: EmbeddedTriton) -> None:
    client = streams.make(triton_server.grpc_url)
    result = streams.collect(client, PROMPT)
    assert len(result) == 16
    assert all(r["response"].shape == (1,) for r in result)
    assert result[0]["response"][0] == b"AI "
    assert result[-1]["response"][0] == FULL
    assert [len(r["response"][0]) for r in result] == sorted(len(r["response"][0]) for r in result)
    streams.close(client)


def test_parameters_and_model_version_reach_the_model(streams: Streams, triton_server: EmbeddedTriton) -> None:
    for version in ("1", "2"):
        client = streams.make(triton_server.grpc_url, "StreamVersions", model_version=version)
        result = streams.collect(client, np.array([2], dtype=np.int32), parameters={"tag": "t1", "n": 5})
        assert [r["version"][0] for r in result] == [version.encode()] * 2
        assert json.loads(result[0]["parameters"][0]) == {"tag": "t1", "n": 5}
        streams.close(client)


def test_http_url_is_refused_at_construction(streams: Streams, triton_server: EmbeddedTriton) -> None:
    with pytest.raises(PyTritonClientValueError, match=r"only supported for grpc protocol.*grpc://"):
        streams.make(triton_server.http_url)


def test_coupled_model_is_refused_naming_the_right_client(streams: Streams, triton_server: EmbeddedTriton) -> None:
    client = streams.make(triton_server.grpc_url, "Linear")
    with pytest.raises(PyTritonClientInferenceServerError, match=r"coupled. Use .*ModelClient"):
        streams.collect(client, np.ones(2, dtype=np.float32))
    streams.close(client)


def test_error_mid_stream_comes_after_earlier_responses_and_client_recovers(
    streams: Streams, triton_server: EmbeddedTriton
) -> None:
    client = streams.make(triton_server.grpc_url)
    got: list[dict[str, Any]] = []
    if streams.kind == "sync":
        with pytest.raises(PyTritonClientInferenceServerError, match="failing after 2 responses"):
            got.extend(client.infer_sample(PROMPT, parameters={"fail_after": 2}))
    else:

        async def run() -> None:
            async for item in client.infer_sample(PROMPT, parameters={"fail_after": 2}):
                got.append(item)

        with pytest.raises(PyTritonClientInferenceServerError, match="failing after 2 responses"):
            streams.loop.run(run())
    assert len(got) == 2
    assert len(streams.collect(client, PROMPT, parameters={"tokens": 2})) == 5
    streams.close(client)


def test_gap_between_responses_longer_than_the_timeout_raises(streams: Streams, triton_server: EmbeddedTriton) -> None:
    client = streams.make(triton_server.grpc_url, inference_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(PyTritonClientTimeoutError):
        streams.collect(client, PROMPT, parameters={"token_delay_ms": 3000})
    assert time.monotonic() - started < 2.5
    assert len(streams.collect(client, PROMPT, parameters={"tokens": 1})) == 4
    streams.close(client)


def test_leaving_early_cancels_the_request_on_the_server(streams: Streams, triton_server: EmbeddedTriton) -> None:
    assert triton_server.log_path is not None
    before = triton_server.log_path.read_text(errors="replace").count("streaming_bot: cancelled after")
    client = streams.make(triton_server.grpc_url)
    got = streams.collect(client, PROMPT, parameters={"tokens": 200, "token_delay_ms": 20}, limit=2)
    assert len(got) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if triton_server.log_path.read_text(errors="replace").count("streaming_bot: cancelled after") > before:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server never saw the cancellation")
    assert len(streams.collect(client, PROMPT, parameters={"tokens": 1})) == 4
    streams.close(client)


def test_observer_records_each_stream_with_response_times(streams: Streams, triton_server: EmbeddedTriton) -> None:
    records: list[RequestRecord] = []
    client = streams.make(triton_server.grpc_url, observer=records.append)
    streams.collect(client, PROMPT, parameters={"tokens": 2})
    streams.collect(client, PROMPT, parameters={"tokens": 50, "token_delay_ms": 10}, limit=1)
    with pytest.raises(PyTritonClientInferenceServerError):
        streams.collect(client, PROMPT, parameters={"fail_after": 1})
    full, early, failed = records
    assert len(full.response_ns) == 5 and not full.cancelled and full.ok
    assert full.start_ns < full.response_ns[0] <= full.response_ns[-1] <= full.end_ns
    assert full.bytes_sent == len(PROMPT[0]) and full.bytes_received is not None and full.bytes_received > 0
    assert early.cancelled and len(early.response_ns) == 1 and early.ok
    assert not failed.ok and failed.error is not None and len(failed.response_ns) == 1
    streams.close(client)


def test_observer_sees_streams_that_fail_before_sending(streams: Streams, triton_server: EmbeddedTriton) -> None:
    records: list[RequestRecord] = []
    client = streams.make(triton_server.grpc_url, "Linear", observer=records.append)
    with pytest.raises(PyTritonClientInferenceServerError):
        streams.collect(client, np.ones(2, dtype=np.float32))
    assert [(r.error.kind, r.bytes_sent) for r in records] == [("server", None)]  # type: ignore[union-attr]
    streams.close(client)


def test_closed_client_refuses_new_streams(streams: Streams, triton_server: EmbeddedTriton) -> None:
    client = streams.make(triton_server.grpc_url)
    streams.close(client)
    streams.close(client)
    with pytest.raises(PyTritonClientClosedError):
        streams.collect(client, PROMPT)


# -- sync-only: one stream per client ------------------------------------------------------------------
def test_second_call_before_the_first_ends_is_refused(triton_server: EmbeddedTriton) -> None:
    client = DecoupledModelClient(triton_server.grpc_url, "streaming_bot")
    first = client.infer_sample(PROMPT, parameters={"tokens": 2})
    with pytest.raises(PyTritonClientInferenceServerError, match="Inference is already in progress"):
        client.infer_sample(PROMPT)
    assert len(list(first)) == 5
    assert len(list(client.infer_sample(PROMPT, parameters={"tokens": 1}))) == 4
    client.close()


def test_in_progress_guard_is_released_after_rejection_abandonment_and_errors(triton_server: EmbeddedTriton) -> None:
    client = DecoupledModelClient(triton_server.grpc_url, "streaming_bot")
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(PROMPT, parameters={"bad": 1.5})
    client.infer_sample(PROMPT)  # never iterated, dropped at once
    iterator = client.infer_sample(PROMPT, parameters={"tokens": 30})
    next(iterator)
    del iterator  # abandoned mid-stream
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(np.array([1.5]))  # wrong dtype for a BYTES input
    assert len(list(client.infer_sample(PROMPT, parameters={"tokens": 1}))) == 4
    client.close()


def test_headers_become_stream_metadata_and_a_change_opens_a_new_stream(triton_server: EmbeddedTriton) -> None:
    client = DecoupledModelClient(triton_server.grpc_url, "StreamVersions")
    count = np.array([1], dtype=np.int32)
    first = list(client.infer_sample(count, headers={"x-echo-run": "a"}))
    second = list(client.infer_sample(count, headers={"x-echo-run": "b"}))
    assert json.loads(first[0]["parameters"][0])["x-echo-run"] == "a"
    assert json.loads(second[0]["parameters"][0])["x-echo-run"] == "b"
    client.close()


# -- asyncio-only: many streams on one client ----------------------------------------------------------
def test_many_concurrent_streams_on_one_asyncio_client(triton_server: EmbeddedTriton, loop: LoopThread) -> None:
    async def main() -> list[list[bytes]]:
        client = AsyncioDecoupledModelClient(triton_server.grpc_url, "streaming_bot")

        async def one(i: int) -> list[bytes]:
            prompt = np.array([f"p{i}".encode()])
            return [r["response"][0] async for r in client.infer_sample(prompt, parameters={"tokens": 3})]

        try:
            return await asyncio.gather(*(one(i) for i in range(12)))
        finally:
            await client.close()

    results = loop.run(main())
    for i, responses in enumerate(results):
        assert len(responses) == 4
        assert responses[-1].startswith(f"p{i} the question,".encode())
