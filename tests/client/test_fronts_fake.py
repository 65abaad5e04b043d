"""The fronts' rules over an in-memory transport (``fake.py``), one suite for sync, futures and asyncio.

No server: readiness and lazy initialisation, configuration caching, batching and input checks,
what reaches the transport, observer records (timing, errors, cancellations), closing, and errors
of the transport surfacing unchanged. The real-server suite (``test_behaviour.py``) checks the same
fronts against Triton itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pytriton_client import (
    AsyncioDecoupledModelClient,
    AsyncioModelClient,
    DecoupledModelClient,
    ModelClient,
    PyTritonClientAuthorizationError,
    PyTritonClientCancelledError,
    PyTritonClientClosedError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientModelDoesntSupportBatchingError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
    RequestRecord,
)
from pytriton_client._transport import AsyncStreamTransport, SyncStreamTransport
from pytriton_client.model_config import parse_model_config
from tests.client.fake import DOUBLE, FakeServer, SyncFake, install, sample
from tests.client.fronts import Fronts, LoopThread
from tests.client.test_decoupled import Streams

URL = "grpc://fake:8001"
TOKEN_HEADER = "triton-grpc-protocol-triton-access-token"
READINESS = ("server_ready", "model_ready", "model_metadata", "repository_index", "model_config")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer()
    install(monkeypatch, fake)
    return fake


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


def readiness_calls(server: FakeServer) -> Counter[str]:
    return Counter({op: n for op, n in server.calls.items() if op in READINESS})


# -- readiness, lazy initialisation, configuration --------------------------------------------------------
def test_first_call_waits_once_then_only_infers(fronts: Fronts, server: FakeServer) -> None:
    client = fronts.make(URL, "Double")
    assert server.calls == Counter()  # lazy: nothing at construction
    for _ in range(3):
        assert client.infer_sample(sample(1, 2))["y"].tolist() == [2.0, 4.0]
    assert readiness_calls(server) == Counter(server_ready=1, model_ready=1, model_config=1)
    assert server.calls["infer"] == 3


def test_server_and_model_not_ready_at_first_are_polled_until_ready(fronts: Fronts, server: FakeServer) -> None:
    server.not_ready_polls.update(server_ready=2, model_ready=1)
    client = fronts.make(URL, "Double")
    assert client.infer_batch(np.ones((2, 2), np.float32))["y"].shape == (2, 2)
    assert server.calls["server_ready"] == 3
    assert server.calls["model_ready"] == 2
    assert server.calls["model_metadata"] == 1  # asked once whether the model exists at all


def test_unknown_model_is_reported_at_once_naming_the_served_models(fronts: Fronts, server: FakeServer) -> None:
    client = fronts.make(URL, "Doubel", init_timeout_s=60)
    started = time.monotonic()
    with pytest.raises(PyTritonClientModelUnavailableError, match=r"Did you mean 'Double'\?.*Counter, Double, Pair"):
        client.infer_sample(sample(1, 2))
    assert time.monotonic() - started < 1
    assert server.calls["infer"] == 0


def test_readiness_errors_that_waiting_cannot_cure_are_raised_at_once(fronts: Fronts, server: FakeServer) -> None:
    denied = PyTritonClientAuthorizationError("The server refused: pass a valid access_token.")
    server.fail_next("server_ready", denied)
    client = fronts.make(URL, "Double", init_timeout_s=60)
    with pytest.raises(PyTritonClientAuthorizationError) as caught:
        client.infer_sample(sample(1, 2))
    assert caught.value is denied


def test_unreachable_server_ends_in_a_connection_error_at_the_init_deadline(fronts: Fronts, server: FakeServer) -> None:
    refused = PyTritonClientConnectionError("Could not reach grpc://fake:8001: refused")
    server.fail_next("server_ready", *[refused] * 100)
    client = fronts.make(URL, "Double", init_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(PyTritonClientConnectionError, match=r"not reachable within 0\.3 s") as caught:
        client.infer_sample(sample(1, 2))
    assert 0.2 < time.monotonic() - started < 2
    assert caught.value.__cause__ is refused


def test_config_is_fetched_once_and_cached(fronts: Fronts, server: FakeServer) -> None:
    client = fronts.make(URL, "Double")
    first, second = client.model_config, client.model_config
    assert first.model_name == "Double" and first.max_batch_size == 8 and first is second
    assert server.calls["model_config"] == 1


def test_supplied_config_without_readiness_check_makes_only_inference_calls(
    direct_fronts: Fronts, server: FakeServer
) -> None:
    known = parse_model_config(DOUBLE)
    client = direct_fronts.make(URL, "Double", model_config=known, ensure_model_is_ready=False, lazy_init=False)
    assert client.model_config is known
    client.infer_sample(sample(1, 2))
    assert readiness_calls(server) == Counter()
    checked = direct_fronts.make(URL, "Double", model_config=known)
    checked.infer_sample(sample(1, 2))
    assert readiness_calls(server) == Counter(server_ready=1, model_ready=1, model_config=1)


def test_eager_sync_client_initialises_in_its_constructor(server: FakeServer) -> None:
    ModelClient(URL, "Double", lazy_init=False)
    assert readiness_calls(server) == Counter(server_ready=1, model_ready=1, model_config=1)


def test_eager_asyncio_client_initialises_in_aenter_and_concurrent_first_calls_share_one_init(
    server: FakeServer, loop: LoopThread
) -> None:
    async def main() -> list[Counter[str]]:
        seen = []
        client = AsyncioModelClient(URL, "Double", lazy_init=False)
        seen.append(readiness_calls(server))
        async with client:
            seen.append(readiness_calls(server))
        lazy = AsyncioModelClient(URL, "Double")
        await asyncio.gather(*(lazy.infer_sample(sample(1, 2)) for _ in range(8)))
        seen.append(readiness_calls(server))
        await lazy.close()
        return seen

    constructed, entered, concurrent = loop.run(main())
    assert constructed == Counter()
    assert entered == Counter(server_ready=1, model_ready=1, model_config=1)
    assert concurrent == Counter(server_ready=2, model_ready=2, model_config=2)


def test_from_existing_client_copies_settings_and_config_without_calls(server: FakeServer, loop: LoopThread) -> None:
    source = ModelClient(URL, "Double", access_token="tok", inference_timeout_s=7)
    source.model_config  # noqa: B018 - fetch and cache
    before = readiness_calls(server)
    copy = ModelClient.from_existing_client(source)
    copy.infer_sample(sample(1, 2))

    async def asyncio_copy() -> AsyncioModelClient:
        client = AsyncioModelClient.from_existing_client(copy)
        await client.infer_sample(sample(1, 2))
        return client

    assert type(loop.run(asyncio_copy())) is AsyncioModelClient
    assert readiness_calls(server) == before
    assert [r.headers for r in server.requests] == [{TOKEN_HEADER: "tok"}] * 2
    assert copy._settings.inference_timeout_s == 7
    with pytest.raises(PyTritonClientValueError, match="needs a pytriton_client client"):
        ModelClient.from_existing_client(object())  # type: ignore[arg-type]


# -- requests -----------------------------------------------------------------------------------------------
def test_sample_adds_and_removes_the_batch_axis_only_for_batching_models(fronts: Fronts, server: FakeServer) -> None:
    batching = fronts.make(URL, "Double")
    assert batching.infer_sample(sample(1, 2))["y"].shape == (2,)
    assert server.requests[-1].inputs[0][1].shape == (1, 2)
    flat = fronts.make(URL, "Pair")
    assert flat.infer_sample(sample(1, 2, 3), sample(1, 1, 1))["sum"].tolist() == [2.0, 3.0, 4.0]
    assert server.requests[-1].inputs[0][1].shape == (3,)


def test_batch_on_a_model_that_does_not_batch_is_refused_before_sending(fronts: Fronts, server: FakeServer) -> None:
    client = fronts.make(URL, "Pair")
    with pytest.raises(PyTritonClientModelDoesntSupportBatchingError, match="Pair doesn't support batching"):
        client.infer_batch(sample(1), sample(1))
    assert server.calls["infer"] == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "Provide input data"),
        ((sample(1),), {"b": sample(1)}, "either positional or keyword"),
        ((sample(1), sample(1), sample(1)), {}, r"takes 2 input\(s\)"),
        ((), {"a": sample(1)}, r"requires input\(s\) \['b'\]"),
        ((), {"a": sample(1), "c": sample(1)}, "has no input named 'c'"),
        ((np.ones(2), sample(1)), {}, "expects float32 .FP32., got float64"),
        ((sample(1), [1.0]), {}, "is not a numpy array"),
        ((sample(1), sample(1)), {"parameters": {"x": 1.5}}, "value must be a string, integer or boolean"),
        ((sample(1), sample(1)), {"headers": ["h"]}, "Header must be a dictionary"),
    ],
    ids=["none", "mixed", "too-many", "missing", "unknown", "dtype", "not-array", "parameters", "headers"],
)
def test_inputs_are_checked_before_anything_is_sent(
    fronts: Fronts, server: FakeServer, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    client = fronts.make(URL, "Pair")
    with pytest.raises(PyTritonClientValueError, match=message):
        client.infer_sample(*args, **kwargs)
    assert server.calls["infer"] == 0


def test_parameters_merged_headers_and_request_ids_reach_the_transport(
    direct_fronts: Fronts, server: FakeServer
) -> None:
    client = direct_fronts.make(URL, "Double", model_version="1", access_token="tok")
    client.infer_sample(sample(1, 2), parameters={"p": 1})
    client.infer_sample(sample(1, 2), headers={"x-h": "v", TOKEN_HEADER: "override"})
    first, second = server.requests
    assert (first.model_name, first.model_version, first.request_id) == ("Double", "1", "0")
    assert first.parameters == {"p": 1} and first.headers == {TOKEN_HEADER: "tok"}
    assert second.request_id == "1" and second.headers == {TOKEN_HEADER: "override", "x-h": "v"}
    assert [step[1][-1] for step in server.log if step[0] == "model_ready"] == [pytest.approx(300, abs=1)]


# -- errors of the transport ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        PyTritonClientTimeoutError("timeout"),
        PyTritonClientConnectionError("refused"),
        PyTritonClientInferenceServerError("model failed"),
        PyTritonClientAuthorizationError("token"),
        PyTritonClientCancelledError("cancelled"),
    ],
    ids=lambda e: e.kind,
)
def test_transport_errors_reach_the_caller_unchanged_and_the_client_stays_usable(
    fronts: Fronts, server: FakeServer, error: PyTritonClientError
) -> None:
    client = fronts.make(URL, "Double")
    client.wait_for_model(5)
    server.fail_next("infer", error)
    with pytest.raises(PyTritonClientError) as caught:
        client.infer_sample(sample(1, 2))
    assert caught.value is error
    assert client.infer_sample(sample(1, 2))["y"].tolist() == [2.0, 4.0]


# -- the observer ---------------------------------------------------------------------------------------------
def test_observer_times_each_request_and_sees_its_outcome(fronts: Fronts, server: FakeServer) -> None:
    records: list[RequestRecord] = []
    client = fronts.make(URL, "Double", observer=records.append)
    client.wait_for_model(5)
    server.infer_delay_s = 0.02
    client.infer_sample(sample(1, 2))
    failure = PyTritonClientTimeoutError("slow")
    server.fail_next("infer", failure)
    with pytest.raises(PyTritonClientTimeoutError):
        client.infer_batch(np.ones((3, 2), np.float32))
    ok, failed = records
    assert (ok.method, ok.model_name, ok.protocol, ok.ok) == ("infer_sample", "Double", "grpc", True)
    assert ok.duration_ns >= 20_000_000 and ok.bytes_sent == 8 and ok.bytes_received == 8
    assert (failed.method, failed.error, failed.bytes_sent, failed.bytes_received) == ("infer_batch", failure, 24, None)
    assert ok.response_ns == () and not ok.cancelled


def test_observer_sees_calls_that_fail_before_sending(fronts: Fronts, server: FakeServer) -> None:
    records: list[RequestRecord] = []
    missing = fronts.make(URL, "Nope", observer=records.append)
    with pytest.raises(PyTritonClientModelUnavailableError):
        missing.infer_sample(sample(1, 2))
    client = fronts.make(URL, "Double", observer=records.append)
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(np.ones(2))
    assert [(r.error.kind, r.bytes_sent) for r in records] == [  # type: ignore[union-attr]
        ("model_unavailable", None),
        ("invalid_input", None),
    ]


def test_an_observer_that_raises_is_told_once_and_its_error_reaches_the_caller(
    direct_fronts: Fronts, server: FakeServer
) -> None:
    told: list[RequestRecord] = []

    def observer(record: RequestRecord) -> None:
        told.append(record)
        raise KeyError("observer broke")

    client = direct_fronts.make(URL, "Double", observer=observer)
    with pytest.raises(KeyError, match="observer broke"):
        client.infer_sample(sample(1, 2))
    assert len(told) == 1 and told[0].ok


def test_cancelled_asyncio_request_is_recorded_as_cancelled(server: FakeServer, loop: LoopThread) -> None:
    records: list[RequestRecord] = []

    async def main() -> None:
        server.hold = asyncio.Event()
        client = AsyncioModelClient(URL, "Double", observer=records.append)
        await client.wait_for_model(5)
        task = asyncio.ensure_future(client.infer_sample(sample(1, 2)))
        while not server.calls["held"]:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()

    loop.run(main())
    [record] = records
    assert isinstance(record.error, asyncio.CancelledError) and record.bytes_sent == 8


# -- closing and the other methods ------------------------------------------------------------------------------
def test_close_is_idempotent_and_every_later_call_is_refused_without_io(fronts: Fronts, server: FakeServer) -> None:
    client = fronts.make(URL, "Double")
    client.infer_sample(sample(1, 2))
    client.close()
    client.close()
    calls = server.calls.copy()
    with pytest.raises(PyTritonClientClosedError):
        client.infer_sample(sample(1, 2))
    if fronts.front != "futures":
        for call in (
            lambda: client.wait_for_model(1),
            lambda: client.wait_for_server(1),
            client.load_model,
            client.unload_model,
        ):
            with pytest.raises(PyTritonClientClosedError, match="is closed"):
                call()
    assert server.calls == calls
    assert server.closed == 1


def test_wait_for_server_load_and_unload_on_sync_and_asyncio(direct_fronts: Fronts, server: FakeServer) -> None:
    client = direct_fronts.make(URL, "Double", inference_timeout_s=9)
    client.wait_for_server(5)
    assert readiness_calls(server) == Counter(server_ready=1)
    client.load_model('{"max_batch_size": 4}', {"file:1/model.py": b"pass"})
    client.unload_model()
    assert [step for step in server.log if step[0].endswith("load_model")] == [
        ("load_model", ("Double", '{"max_batch_size": 4}', {"file:1/model.py": b"pass"}, 9.0)),
        ("unload_model", ("Double", 9.0)),
    ]
    with pytest.raises(PyTritonClientValueError, match="files need a config"):
        client.load_model(files={"file:1/model.py": b""})
    denied = PyTritonClientAuthorizationError("token")
    server.fail_next("unload_model", denied)
    with pytest.raises(PyTritonClientAuthorizationError) as caught:
        client.unload_model()
    assert caught.value is denied


def test_wait_for_server_times_out_when_the_server_never_gets_ready(direct_fronts: Fronts, server: FakeServer) -> None:
    server.not_ready_polls["server_ready"] = 1000
    client = direct_fronts.make(URL, "Double")
    with pytest.raises(PyTritonClientTimeoutError, match=r"Waiting for server to be ready timed out after 0\.2 s"):
        client.wait_for_server(0.2)


# -- decoupled fronts ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["sync", "asyncio"])
def streams(request: pytest.FixtureRequest, loop: LoopThread) -> Streams:
    return Streams(str(request.param), loop)


def test_stream_yields_debatched_responses_and_records_their_arrivals(streams: Streams, server: FakeServer) -> None:
    records: list[RequestRecord] = []
    client = streams.make(URL, "Counter", observer=records.append)
    responses = streams.collect(client, sample(1, 2))
    assert [r["y"].tolist() for r in responses] == [[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]]
    [record] = records
    assert record.ok and not record.cancelled and len(record.response_ns) == 3
    assert record.start_ns <= record.response_ns[0] <= record.response_ns[-1] <= record.end_ns
    assert record.bytes_sent == 8 and record.bytes_received == 24
    streams.close(client)


def test_leaving_a_stream_early_cancels_it_and_frees_the_client(streams: Streams, server: FakeServer) -> None:
    records: list[RequestRecord] = []
    client = streams.make(URL, "Counter", observer=records.append)
    assert len(streams.collect(client, sample(1, 2), limit=1)) == 1
    assert server.cancelled == 1
    assert len(streams.collect(client, sample(1, 2))) == 3
    early, full = records
    assert early.cancelled and early.ok and len(early.response_ns) == 1
    assert not full.cancelled
    streams.close(client)


def test_stream_observer_that_raises_is_told_once_and_the_client_stays_usable(
    streams: Streams, server: FakeServer
) -> None:
    told: list[RequestRecord] = []

    def observer(record: RequestRecord) -> None:
        told.append(record)
        raise KeyError("observer broke")

    client = streams.make(URL, "Counter", observer=observer)
    with pytest.raises(KeyError, match="observer broke"):
        streams.collect(client, sample(1, 2))
    assert len(told) == 1 and told[0].ok
    with pytest.raises(KeyError):
        streams.collect(client, sample(1, 2))
    assert len(told) == 2
    streams.close(client)


def test_raw_error_mid_stream_is_translated_after_earlier_responses(streams: Streams, server: FakeServer) -> None:
    records: list[RequestRecord] = []
    client = streams.make(URL, "Counter", observer=records.append)
    server.stream_error_after = 1
    got: list[dict[str, Any]] = []
    with pytest.raises(PyTritonClientInferenceServerError, match="model failed mid-stream") as caught:
        got.extend(streams.collect(client, sample(1, 2)))
    assert isinstance(caught.value.__cause__, RuntimeError)
    [record] = records
    assert record.error is caught.value and len(record.response_ns) == 1 and not record.cancelled
    server.stream_error_after = None
    assert len(streams.collect(client, sample(1, 2))) == 3
    streams.close(client)


def test_streaming_clients_refuse_coupled_models_and_http_urls(streams: Streams, server: FakeServer) -> None:
    client = streams.make(URL, "Double")
    with pytest.raises(PyTritonClientInferenceServerError, match="Model config is coupled"):
        streams.collect(client, sample(1, 2))
    streams.close(client)
    kind = DecoupledModelClient if streams.kind == "sync" else AsyncioDecoupledModelClient

    async def create() -> Any:
        return kind("http://fake:8000", "Counter")

    with pytest.raises(PyTritonClientValueError, match="only supported for grpc protocol"):
        streams.loop.run(create())
    assert server.calls == Counter(server_ready=1, model_ready=1, model_config=1)


def test_closed_streaming_client_refuses_new_streams(streams: Streams, server: FakeServer) -> None:
    client = streams.make(URL, "Counter")
    streams.close(client)
    with pytest.raises(PyTritonClientClosedError):
        streams.collect(client, sample(1, 2))


def test_sync_stream_guard_is_released_after_errors_and_abandonment(server: FakeServer) -> None:
    client = DecoupledModelClient(URL, "Counter")
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(np.ones(2))
    first = client.infer_sample(sample(1, 2))
    with pytest.raises(PyTritonClientInferenceServerError, match="already in progress"):
        client.infer_sample(sample(1, 2))
    next(first)
    del first
    assert len(list(client.infer_sample(sample(1, 2)))) == 3
    client.close()


# -- the seam itself ----------------------------------------------------------------------------------------------
def test_fakes_and_real_transports_provide_the_protocols(server: FakeServer, loop: LoopThread) -> None:
    from pytriton_client._core import make_settings
    from pytriton_client._grpc import AsyncGrpcTransport, SyncGrpcTransport
    from pytriton_client._http import AsyncHttpTransport, SyncHttpTransport
    from pytriton_client._transport import AsyncTransport, SyncTransport

    grpc = make_settings("grpc://127.0.0.1:1", "M", None, init_timeout_s=1, inference_timeout_s=1, access_token=None)
    http = make_settings("http://127.0.0.1:1", "M", None, init_timeout_s=1, inference_timeout_s=1, access_token=None)
    assert isinstance(SyncFake(server, grpc), SyncStreamTransport)
    assert isinstance(SyncHttpTransport(http), SyncTransport)
    sync_grpc = SyncGrpcTransport(grpc)
    assert isinstance(sync_grpc, SyncStreamTransport)
    sync_grpc.close()

    async def check() -> None:
        from tests.client.fake import AsyncFake

        assert isinstance(AsyncFake(server, grpc), AsyncStreamTransport)
        for transport in (AsyncHttpTransport(http), AsyncGrpcTransport(grpc)):
            assert isinstance(transport, AsyncTransport)
            await transport.close()
            assert isinstance(transport, AsyncStreamTransport) is (transport.protocol == "grpc")

    loop.run(check())
