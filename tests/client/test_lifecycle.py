"""Initialisation, configuration reuse, from_existing_client, context managers and closing, per front."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton, free_port
from pytriton_client import (
    AsyncioDecoupledModelClient,
    AsyncioModelClient,
    DecoupledModelClient,
    ModelClient,
    PyTritonClientClosedError,
    PyTritonClientConnectionError,
    PyTritonClientError,
)
from tests.client.fronts import LoopThread

X = np.ones(2, dtype=np.float32)
SPIED = ("server_ready", "model_ready", "model_metadata", "repository_index", "model_config", "infer")


def spy(client: Any) -> Counter[str]:
    """Count the calls a client makes through its (real) transport."""
    counts: Counter[str] = Counter()
    transport = client._transport
    for name in SPIED:
        original = getattr(transport, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(transport, name, counted)
    return counts


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


def test_lazy_client_checks_readiness_once_then_only_infers(url: str) -> None:
    client = ModelClient(url, "Linear")
    counts = spy(client)
    for _ in range(3):
        client.infer_sample(X)
    assert counts == Counter(server_ready=1, model_ready=1, model_config=1, infer=3)
    client.close()


def test_asyncio_client_checks_readiness_once_for_every_init_mode(url: str, loop: LoopThread) -> None:
    async def main() -> list[Counter[str]]:
        results = []
        async with AsyncioModelClient(url, "Linear") as source:
            known = await source.model_config
        for kwargs in ({}, {"lazy_init": False}, {"model_config": known, "ensure_model_is_ready": False}):
            async with AsyncioModelClient(url, "Linear", **kwargs) as client:
                counts = spy(client)
                for _ in range(3):
                    await client.infer_sample(X)
                results.append(counts)
        return results

    lazy, eager, supplied = loop.run(main())
    assert lazy == Counter(server_ready=1, model_ready=1, model_config=1, infer=3)
    assert eager == Counter(infer=3)  # initialised in __aenter__
    assert supplied == Counter(infer=3)


def test_supplied_config_without_readiness_check_makes_no_extra_calls(url: str) -> None:
    known = ModelClient(url, "Linear").model_config
    client = ModelClient(url, "Linear", model_config=known, ensure_model_is_ready=False)
    counts = spy(client)
    client.infer_sample(X)
    assert counts == Counter(infer=1)
    checked = ModelClient(url, "Linear", model_config=known)
    counts = spy(checked)
    checked.infer_sample(X)
    assert counts == Counter(server_ready=1, model_ready=1, model_config=1, infer=1)


def test_eager_client_with_supplied_config_makes_no_calls(url: str, protocol: str) -> None:
    known = ModelClient(url, "Linear").model_config
    started = time.monotonic()  # against a closed port: any call would fail
    client = ModelClient(
        f"{protocol}://127.0.0.1:{free_port()}",
        "Linear",
        lazy_init=False,
        model_config=known,
        ensure_model_is_ready=False,
        init_timeout_s=1,
    )
    assert time.monotonic() - started < 0.5
    assert client.model_config is known
    client.close()


def test_lazy_constructor_does_no_io(protocol: str) -> None:
    started = time.monotonic()
    client = ModelClient(f"{protocol}://127.0.0.1:{free_port()}", "Linear")
    assert time.monotonic() - started < 0.5
    client.close()


def test_eager_constructor_on_closed_port_fails_after_init_timeout(protocol: str) -> None:
    started = time.monotonic()
    with pytest.raises(PyTritonClientConnectionError, match="not reachable within 1 s"):
        ModelClient(f"{protocol}://127.0.0.1:{free_port()}", "Linear", lazy_init=False, init_timeout_s=1)
    assert 0.9 < time.monotonic() - started < 4


def test_no_scheme_means_http_even_on_the_grpc_port(triton_server: EmbeddedTriton) -> None:
    client = ModelClient(f"127.0.0.1:{triton_server.grpc_port}", "Linear", init_timeout_s=1)
    with pytest.raises(PyTritonClientError, match=f"http://127.0.0.1:{triton_server.grpc_port}"):
        client.infer_sample(X)
    client.close()
    with ModelClient(f"grpc://127.0.0.1:{triton_server.grpc_port}", "Linear") as grpc_client:
        assert grpc_client.infer_sample(X)["OUTPUT_1"].shape == (3,)


@pytest.mark.parametrize("cls", [ModelClient, DecoupledModelClient])
def test_from_existing_client_keeps_scheme_token_and_config(triton_server: EmbeddedTriton, cls: type) -> None:
    model = "streaming_bot" if cls is DecoupledModelClient else "Linear"
    source = cls(triton_server.grpc_url, model, access_token="tok", inference_timeout_s=7)
    source.model_config  # noqa: B018 - fetch and cache
    copy = cls.from_existing_client(source)
    assert type(copy) is cls
    assert copy._settings.url.with_scheme == triton_server.grpc_url
    assert copy._settings.auth_headers == source._settings.auth_headers
    assert copy._settings.inference_timeout_s == 7
    counts = spy(copy)
    if cls is ModelClient:
        copy.infer_sample(X)
    else:
        list(copy.infer_sample(np.array([b"hi"]), parameters={"tokens": 1}))
        counts["infer"] = 1  # streams do not go through transport.infer
    assert counts == Counter(infer=1)
    assert "tok" not in repr(copy)
    source.close()
    copy.close()


@pytest.mark.parametrize("cls", [AsyncioModelClient, AsyncioDecoupledModelClient])
def test_asyncio_from_existing_client_works(triton_server: EmbeddedTriton, cls: type, loop: LoopThread) -> None:
    model = "streaming_bot" if cls is AsyncioDecoupledModelClient else "Linear"

    async def main() -> tuple[str, Counter[str]]:
        source = cls(triton_server.grpc_url, model)
        await source.model_config
        async with cls.from_existing_client(source) as copy:
            counts = spy(copy)
            if cls is AsyncioModelClient:
                await copy.infer_sample(X)
            else:
                assert len([r async for r in copy.infer_sample(np.array([b"hi"]), parameters={"tokens": 1})]) == 2
            scheme = copy._settings.url.scheme
        await source.close()
        return scheme, counts

    scheme, counts = loop.run(main())
    assert scheme == "grpc"
    assert counts["server_ready"] == counts["model_config"] == 0


def test_wait_for_server_and_model_and_batching_flag(url: str) -> None:
    with ModelClient(url, "AddSubNB") as client:
        client.wait_for_server(10)
        client.wait_for_model(10)
        assert client.is_batching_supported is False
    with ModelClient(url, "AddSub") as client:
        assert client.is_batching_supported is True


def test_asyncio_wait_for_server_and_model_like_sync(url: str, loop: LoopThread) -> None:
    async def main() -> None:
        async with AsyncioModelClient(url, "AddSubNB") as client:
            await client.wait_for_server(10)
            await client.wait_for_model(10)
        dead = AsyncioModelClient(f"{url.partition(':')[0]}://127.0.0.1:{free_port()}", "Linear")
        with pytest.raises(PyTritonClientConnectionError, match=r"not reachable within 0\.5 s"):
            await dead.wait_for_server(0.5)
        await dead.close()

    loop.run(main())


def test_every_method_after_close_raises_closed(url: str) -> None:
    client = ModelClient(url, "Linear")
    with client:
        client.infer_sample(X)
    cached = client.model_config
    assert cached.model_name == "Linear"
    for call in (
        lambda: client.infer_batch(X[np.newaxis]),
        lambda: client.wait_for_model(1),
        lambda: client.wait_for_server(1),
        client.load_model,
        client.unload_model,
    ):
        with pytest.raises(PyTritonClientClosedError):
            call()
    uncached = ModelClient(url, "Linear")
    uncached.close()
    with pytest.raises(PyTritonClientClosedError):
        uncached.model_config  # noqa: B018


def test_every_asyncio_method_after_close_raises_closed(url: str, loop: LoopThread) -> None:
    async def main() -> None:
        client = AsyncioModelClient(url, "Linear")
        await client.infer_sample(X)
        await client.close()
        for call in (
            lambda: client.infer_batch(X[np.newaxis]),
            lambda: client.wait_for_model(1),
            lambda: client.wait_for_server(1),
            client.load_model,
            client.unload_model,
        ):
            with pytest.raises(PyTritonClientClosedError):
                await call()
        uncached = AsyncioModelClient(url, "Linear")
        await uncached.close()
        with pytest.raises(PyTritonClientClosedError):
            await uncached.model_config

    loop.run(main())


def test_async_with_eager_init_on_dead_server_closes_and_raises(loop: LoopThread) -> None:
    async def main() -> AsyncioModelClient:
        client = AsyncioModelClient(f"grpc://127.0.0.1:{free_port()}", "Linear", lazy_init=False, init_timeout_s=0.5)
        with pytest.raises(PyTritonClientConnectionError):
            async with client:
                pass
        return client

    client = loop.run(main())
    assert client._closed


def test_asyncio_client_needs_a_running_loop(url: str) -> None:
    with pytest.raises(RuntimeError, match="must be created inside a running event loop"):
        AsyncioModelClient(url, "Linear")


def test_no_timeout_warnings_are_emitted(url: str, loop: LoopThread) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ModelClient(url, "Linear", init_timeout_s=2) as client:
            client.wait_for_server(5)
            client.infer_sample(X)

        async def main() -> None:
            async with AsyncioModelClient(url, "Linear", init_timeout_s=2) as client:
                await client.infer_sample(X)

        loop.run(main())
    assert [str(w.message) for w in caught] == []
