"""gRPC transports: thin adapters over ``tritonclient.grpc`` (sync) and ``tritonclient.grpc.aio``.

Owns creating channels (TLS), passing a deadline on every call (``client_timeout``), the streaming
calls of decoupled models, and translating gRPC errors. Imported only when a gRPC client is first
created. Never validates inputs or decides anything about readiness: the core does that.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aiogrpcclient

from pytriton_client._core import ClientSettings, within
from pytriton_client._errors import translate
from pytriton_client._inputs import PreparedInput, build_tensors
from pytriton_client._tls import ssl_context
from pytriton_client.exceptions import PyTritonClientError

_InferInput = grpcclient.InferInput
FINAL_FLAG = "triton_final_response"


def grpc_request(
    name: str, version: str, prepared: Sequence[PreparedInput], request_id: str, parameters: dict[str, Any] | None
) -> dict[str, Any]:
    """One inference request as the keyword arguments every tritonclient gRPC call takes it by.

    Used by the sync and aio ``infer``, the sync stream and the aio stream alike.
    """
    return {
        "model_name": name,
        "inputs": build_tensors(_InferInput, prepared),
        "model_version": version,
        "request_id": request_id,
        "parameters": parameters,
    }


def grpc_outputs(result: Any) -> dict[str, np.ndarray]:
    """Outputs of a gRPC ``InferResult`` in response order."""
    return {output.name: result.as_numpy(output.name) for output in result.get_response().outputs}


def is_final(result: Any) -> bool:
    """Whether a streamed result carries Triton's final-response flag."""
    params = result.get_response().parameters
    return FINAL_FLAG in params and params[FINAL_FLAG].bool_param


def translate_rpc(exc: BaseException, url: str, action: str, timeout_s: float) -> PyTritonClientError:
    """Translate raw ``grpc.RpcError`` (streams) as well as ``tritonclient`` errors."""
    if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
        from tritonclient.utils import InferenceServerException

        code = exc.code()
        details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
        debug_of = getattr(exc, "debug_error_string", None)
        debug = debug_of() if callable(debug_of) else None
        exc = InferenceServerException(msg=str(details), status=str(code), debug_details=debug)
    return translate(exc, url, action, timeout_s)


def _create(factory: Any, settings: ClientSettings) -> Any:
    """A tritonclient gRPC client; unusable TLS files become a clear ``PyTritonClientValueError`` here."""
    if settings.url.tls:
        ssl_context(settings.tls, settings.url.with_scheme)  # gRPC itself would only fail at the handshake
    return factory(settings.url.without_scheme, **_creds(settings))


def _creds(settings: ClientSettings) -> dict[str, Any]:
    if not settings.url.tls:
        return {}
    tls = settings.tls
    return {
        "ssl": True,
        "root_certificates": tls.ca_file,
        "private_key": tls.key_file,
        "certificate_chain": tls.cert_file,
    }


class SyncGrpcTransport:
    """One ``tritonclient.grpc.InferenceServerClient`` (one channel); every call carries a deadline."""

    protocol = "grpc"

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._url = settings.url.with_scheme
        self._headers = settings.auth_headers
        self._timeout_s = settings.inference_timeout_s
        self.client = _create(grpcclient.InferenceServerClient, settings)

    def _call(self, action: str, timeout_s: float, func: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, func)(*args, headers=self._headers, client_timeout=timeout_s, **kwargs)
        except Exception as exc:
            raise translate_rpc(exc, self._url, action, timeout_s) from exc

    def server_ready(self, timeout_s: float) -> bool:
        return bool(self._call("the server liveness check", timeout_s, "is_server_live")) and bool(
            self._call("the server readiness check", timeout_s, "is_server_ready")
        )

    def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return bool(self._call(f"the readiness check of model {name!r}", timeout_s, "is_model_ready", name, version))

    def model_metadata(self, name: str, version: str, timeout_s: float) -> Any:
        return self._call(
            f"the metadata request of model {name!r}", timeout_s, "get_model_metadata", name, version, as_json=True
        )

    def repository_index(self, timeout_s: float) -> Any:
        return self._call("the repository index request", timeout_s, "get_model_repository_index", as_json=True)

    def model_config(self, name: str, version: str, timeout_s: float) -> Any:
        return self._call(
            f"the config request of model {name!r}", timeout_s, "get_model_config", name, version, as_json=True
        )

    def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None:
        self._call(f"loading model {name!r}", timeout_s, "load_model", name, config=config, files=files)

    def unload_model(self, name: str, timeout_s: float) -> None:
        self._call(f"unloading model {name!r}", timeout_s, "unload_model", name)

    def infer(
        self,
        name: str,
        version: str,
        prepared: Sequence[PreparedInput],
        request_id: str,
        parameters: dict[str, Any] | None,
        headers: dict[str, Any] | None,
    ) -> dict[str, np.ndarray]:
        request = grpc_request(name, version, prepared, request_id, parameters)
        try:
            result = self.client.infer(**request, headers=headers, client_timeout=self._timeout_s)
        except Exception as exc:
            raise translate_rpc(exc, self._url, f"inference on model {name!r}", self._timeout_s) from exc
        return grpc_outputs(result)

    # -- streaming (DecoupledModelClient) -----------------------------------------------------------
    def start_stream(self, callback: Callable[..., None], headers: dict[str, Any] | None) -> None:
        try:
            self.client.start_stream(callback, headers=headers)
        except Exception as exc:
            raise translate_rpc(exc, self._url, "opening a stream", self._timeout_s) from exc

    def send_stream(
        self,
        name: str,
        version: str,
        prepared: Sequence[PreparedInput],
        request_id: str,
        parameters: dict[str, Any] | None,
    ) -> None:
        request = grpc_request(name, version, prepared, request_id, parameters)
        try:
            self.client.async_stream_infer(**request, enable_empty_final_response=True)
        except Exception as exc:
            raise translate_rpc(exc, self._url, f"streaming inference on model {name!r}", self._timeout_s) from exc

    def stop_stream(self, *, cancel: bool) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_stream(cancel_requests=cancel)

    def close(self) -> None:
        self.stop_stream(cancel=True)
        self.client.close()


class AsyncGrpcTransport:
    """One ``tritonclient.grpc.aio.InferenceServerClient``; safe for many coroutines and streams."""

    protocol = "grpc"

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._url = settings.url.with_scheme
        self._headers = settings.auth_headers
        self._timeout_s = settings.inference_timeout_s
        self._client = _create(aiogrpcclient.InferenceServerClient, settings)

    async def _call(self, action: str, timeout_s: float, func: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, func)(*args, headers=self._headers, client_timeout=timeout_s, **kwargs)
        except Exception as exc:
            raise translate_rpc(exc, self._url, action, timeout_s) from exc

    async def server_ready(self, timeout_s: float) -> bool:
        return bool(await self._call("the server liveness check", timeout_s, "is_server_live")) and bool(
            await self._call("the server readiness check", timeout_s, "is_server_ready")
        )

    async def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return bool(
            await self._call(f"the readiness check of model {name!r}", timeout_s, "is_model_ready", name, version)
        )

    async def model_metadata(self, name: str, version: str, timeout_s: float) -> Any:
        return await self._call(
            f"the metadata request of model {name!r}", timeout_s, "get_model_metadata", name, version, as_json=True
        )

    async def repository_index(self, timeout_s: float) -> Any:
        return await self._call("the repository index request", timeout_s, "get_model_repository_index", as_json=True)

    async def model_config(self, name: str, version: str, timeout_s: float) -> Any:
        return await self._call(
            f"the config request of model {name!r}", timeout_s, "get_model_config", name, version, as_json=True
        )

    async def infer(
        self,
        name: str,
        version: str,
        prepared: Sequence[PreparedInput],
        request_id: str,
        parameters: dict[str, Any] | None,
        headers: dict[str, Any] | None,
    ) -> dict[str, np.ndarray]:
        request = grpc_request(name, version, prepared, request_id, parameters)
        try:
            result = await self._client.infer(**request, headers=headers, client_timeout=self._timeout_s)
        except Exception as exc:
            raise translate_rpc(exc, self._url, f"inference on model {name!r}", self._timeout_s) from exc
        return grpc_outputs(result)

    def open_stream(
        self,
        name: str,
        version: str,
        prepared: Sequence[PreparedInput],
        request_id: str,
        parameters: dict[str, Any] | None,
        headers: dict[str, Any] | None,
    ) -> Any:
        """Start one streaming call carrying one request; returns tritonclient's response iterator."""
        request = grpc_request(name, version, prepared, request_id, parameters)

        async def one_request() -> AsyncIterator[dict[str, Any]]:
            yield request

        try:
            return self._client.stream_infer(one_request(), headers=headers)
        except Exception as exc:
            raise translate_rpc(exc, self._url, f"streaming inference on model {name!r}", self._timeout_s) from exc

    async def next_response(self, stream: Any, name: str) -> tuple[Any, Any] | None:
        """The next ``(result, error)`` of ``stream`` within the inference timeout; ``None`` at its end."""
        try:
            return await within(stream.__anext__(), self._timeout_s)
        except StopAsyncIteration:
            return None
        except Exception as exc:
            raise translate_rpc(
                exc, self._url, f"waiting for the next response of model {name!r}", self._timeout_s
            ) from exc

    async def close(self) -> None:
        await self._client.close()


__all__ = ["AsyncGrpcTransport", "SyncGrpcTransport", "grpc_outputs", "grpc_request", "is_final"]
