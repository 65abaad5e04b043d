"""Access tokens and the model repository, against a server that restricts every API to a token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton
from pytriton_client import (
    AsyncioDecoupledModelClient,
    AsyncioModelClient,
    DecoupledModelClient,
    FuturesModelClient,
    ModelClient,
    PyTritonClientAuthorizationError,
    PyTritonClientError,
    PyTritonClientTimeoutError,
    ServerClient,
)
from tests.conftest import TEST_MODELS_DIR

TOKEN = "tok-9f8e7d"
# Every gRPC API needs the token. Over HTTP the embedded server's own start-up probes use health and the
# repository index without a token, so HTTP restricts the rest: config fetch and inference prove the point.
GRPC_APIS = "health,metadata,model-config,inference,model-repository"
HTTP_APIS = "metadata,model-config,inference"
X = np.ones(2, dtype=np.float32)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    server = EmbeddedTriton(
        models=["Linear", "streaming_bot"],
        extra_model_dirs=[Path(TEST_MODELS_DIR) / "AddSub"],
        model_control_mode="explicit",
        extra_args=[
            f"--http-restricted-api={HTTP_APIS}:triton-access-token={TOKEN}",
            f"--grpc-restricted-protocol={GRPC_APIS}:triton-access-token={TOKEN}",
        ],
        work_dir=tmp_path_factory.mktemp("secured"),
    )
    with server:
        yield server


@pytest.fixture(params=["http", "grpc"])
def secured_url(request: pytest.FixtureRequest, secured: EmbeddedTriton) -> str:
    return secured.http_url if request.param == "http" else secured.grpc_url


def test_token_is_sent_on_health_config_and_inference(secured_url: str) -> None:
    with ModelClient(secured_url, "Linear", access_token=TOKEN, init_timeout_s=10) as client:
        assert client.infer_sample(X)["OUTPUT_1"].shape == (3,)
    with FuturesModelClient(secured_url, "Linear", access_token=TOKEN, init_timeout_s=10) as futures:
        assert futures.infer_sample(X).result(30)["OUTPUT_1"].shape == (3,)

    async def main() -> None:
        async with AsyncioModelClient(secured_url, "Linear", access_token=TOKEN, init_timeout_s=10) as client:
            assert (await client.infer_sample(X))["OUTPUT_1"].shape == (3,)

    asyncio.run(main())


def test_decoupled_clients_send_the_token_on_the_stream(secured: EmbeddedTriton) -> None:
    prompt = np.array([b"hi"])
    with DecoupledModelClient(secured.grpc_url, "streaming_bot", access_token=TOKEN) as client:
        assert len(list(client.infer_sample(prompt, parameters={"tokens": 1}))) == 2

    async def main() -> int:
        client = AsyncioDecoupledModelClient(secured.grpc_url, "streaming_bot", access_token=TOKEN)
        try:
            return len([r async for r in client.infer_sample(prompt, parameters={"tokens": 1})])
        finally:
            await client.close()

    assert asyncio.run(main()) == 2


def test_missing_token_is_reported_at_once_and_never_shown(secured_url: str) -> None:
    client = ModelClient(secured_url, "Linear", init_timeout_s=30)
    started = time.monotonic()
    with pytest.raises(PyTritonClientAuthorizationError, match="access_token") as caught:
        client.infer_sample(X)
    assert time.monotonic() - started < 2
    assert caught.value.kind == "unauthorized"
    wrong = ModelClient(secured_url, "Linear", access_token="wrong-token", init_timeout_s=30)
    with pytest.raises(PyTritonClientAuthorizationError) as caught:
        wrong.infer_sample(X)
    assert "wrong-token" not in str(caught.value) and "wrong-token" not in repr(wrong)
    client.close()
    wrong.close()


def test_per_call_header_overrides_the_client_token(secured_url: str, secured: EmbeddedTriton) -> None:
    config = ModelClient(secured_url, "Linear", access_token=TOKEN).model_config
    key = "triton-access-token" if secured_url.startswith("http") else "triton-grpc-protocol-triton-access-token"
    wrong = ModelClient(secured_url, "Linear", access_token="wrong", model_config=config, ensure_model_is_ready=False)
    assert wrong.infer_sample(X, headers={key: TOKEN})["OUTPUT_1"].shape == (3,)
    right = ModelClient(secured_url, "Linear", access_token=TOKEN, model_config=config, ensure_model_is_ready=False)
    with pytest.raises(PyTritonClientAuthorizationError):
        right.infer_sample(X, headers={key: "wrong"})
    wrong.close()
    right.close()


def test_unload_and_load_need_the_token(secured: EmbeddedTriton) -> None:
    secured_url = secured.grpc_url
    anonymous = ModelClient(secured_url, "AddSub", init_timeout_s=5)
    with pytest.raises(PyTritonClientAuthorizationError):
        anonymous.unload_model()
    anonymous.close()
    with ModelClient(secured_url, "AddSub", access_token=TOKEN, init_timeout_s=5) as client:
        client.wait_for_model(10)
        client.unload_model()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.wait_for_model(0.2)
            except PyTritonClientTimeoutError:
                break
        else:
            pytest.fail("the model stayed ready after unload")
        client.load_model()
        client.wait_for_model(20)
        a = np.ones(1, dtype=np.float32)
        assert client.infer_sample(a, a)["add"].tolist() == [2.0]


def test_load_of_unknown_model_is_a_client_error(secured_url: str) -> None:
    client = ModelClient(secured_url, "NoSuchModel", access_token=TOKEN)
    with pytest.raises(PyTritonClientError):
        client.load_model()
    client.close()


def test_asyncio_unload_and_load_need_the_token_like_sync(secured: EmbeddedTriton) -> None:
    secured_url = secured.grpc_url  # the repository API is restricted over gRPC only (see GRPC_APIS)

    async def main() -> list[float]:
        async with AsyncioModelClient(secured_url, "AddSub", init_timeout_s=5) as anonymous:
            with pytest.raises(PyTritonClientAuthorizationError):
                await anonymous.unload_model()
        async with AsyncioModelClient(secured_url, "AddSub", access_token=TOKEN, init_timeout_s=5) as client:
            await client.wait_for_server(10)
            await client.wait_for_model(10)
            await client.unload_model()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    await client.wait_for_model(0.2)
                except PyTritonClientTimeoutError:
                    break
            else:
                pytest.fail("the model stayed ready after unload")
            await client.load_model()
            await client.wait_for_model(20)
            a = np.ones(1, dtype=np.float32)
            out = await client.infer_sample(a, a)
            async with AsyncioModelClient(secured_url, "NoSuchModel", access_token=TOKEN) as unknown:
                with pytest.raises(PyTritonClientError):
                    await unknown.load_model()
            return list(out["add"].tolist())

    assert asyncio.run(main()) == [2.0]


def test_server_client_sends_the_token(secured_url: str) -> None:
    with ServerClient(secured_url, access_token=TOKEN, timeout_s=10) as server:
        assert server.server_metadata()["name"] == "triton"
        assert server.model_config("Linear")["name"] == "Linear"
    with ServerClient(secured_url, timeout_s=10) as anonymous:
        with pytest.raises(PyTritonClientAuthorizationError) as caught:
            anonymous.server_metadata()
        with pytest.raises(PyTritonClientAuthorizationError):
            anonymous.model_config("Linear")
    assert TOKEN not in str(caught.value)
