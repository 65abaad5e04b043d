"""HTTP transports: thin adapters over ``tritonclient.http`` (sync) and ``tritonclient.http.aio``.

Owns creating the underlying client (timeouts, TLS), calling it and translating its errors. Imported
only when an HTTP client is first created (``tritonclient.http`` pulls in gevent). Never validates
inputs or decides anything about readiness: the core does that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import tritonclient.http as httpclient

from pytriton_client._core import ClientSettings, within
from pytriton_client._errors import is_timeout, translate
from pytriton_client._inputs import PreparedInput, build_tensors
from pytriton_client._tls import gevent_context_factory, ssl_context
from pytriton_client.exceptions import PyTritonClientClosedError, PyTritonClientError

_InferInput = httpclient.InferInput


def http_request(
    name: str,
    version: str,
    prepared: Sequence[PreparedInput],
    request_id: str,
    parameters: dict[str, Any] | None,
    headers: dict[str, Any] | None,
) -> dict[str, Any]:
    """One inference request as the keyword arguments of tritonclient's HTTP ``infer`` (sync and aio)."""
    return {
        "model_name": name,
        "inputs": build_tensors(_InferInput, prepared),
        "model_version": version,
        "request_id": request_id,
        "parameters": parameters,
        "headers": headers,
    }


def http_outputs(result: Any) -> dict[str, np.ndarray]:
    """Outputs of an HTTP ``InferResult`` in response order."""
    outputs = result.get_response().get("outputs") or ()
    return {output["name"]: result.as_numpy(output["name"]) for output in outputs}


class SyncHttpTransport:
    """One ``tritonclient.http.InferenceServerClient``, recreated after a timeout or connection error.

    Bound to the thread (gevent hub) that first uses it, as geventhttpclient requires.
    """

    protocol = "http"

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._url = settings.url.with_scheme
        self._headers = settings.auth_headers
        self._client: Any = None
        self._closed = False

    def _get(self) -> Any:
        client = self._client
        if client is None:
            if self._closed:
                raise PyTritonClientClosedError("ModelClient is closed")
            settings = self._settings
            tls = settings.url.tls
            if tls:
                ssl_context(settings.tls, self._url)  # fail here, clearly, on unusable PEM files
            client = self._client = httpclient.InferenceServerClient(
                settings.url.without_scheme,
                connection_timeout=settings.inference_timeout_s,
                network_timeout=settings.inference_timeout_s,
                ssl=tls,
                ssl_context_factory=gevent_context_factory(settings.tls) if tls else None,
                insecure=tls and not settings.tls.verify,
            )
        return client

    def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _call(self, action: str, timeout_s: float | None, func: str, *args: Any, **kwargs: Any) -> Any:
        client = self._get()
        try:
            if timeout_s is None:
                return getattr(client, func)(*args, **kwargs)
            import gevent

            with gevent.Timeout(timeout_s):
                return getattr(client, func)(*args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            if is_timeout(exc) or isinstance(exc, OSError):
                self._reset()
            error = translate(exc, self._url, action, timeout_s or self._settings.inference_timeout_s)
            raise error from exc

    # -- readiness and configuration (each bounded by timeout_s) ------------------------------------
    def server_ready(self, timeout_s: float) -> bool:
        live = self._call("the server liveness check", timeout_s, "is_server_live", headers=self._headers)
        return bool(live) and bool(
            self._call("the server readiness check", timeout_s, "is_server_ready", headers=self._headers)
        )

    def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return bool(
            self._call(
                f"the readiness check of model {name!r}",
                timeout_s,
                "is_model_ready",
                name,
                version,
                headers=self._headers,
            )
        )

    def model_metadata(self, name: str, version: str, timeout_s: float) -> Any:
        return self._call(
            f"the metadata request of model {name!r}",
            timeout_s,
            "get_model_metadata",
            name,
            version,
            headers=self._headers,
        )

    def repository_index(self, timeout_s: float) -> Any:
        return self._call(
            "the repository index request", timeout_s, "get_model_repository_index", headers=self._headers
        )

    def model_config(self, name: str, version: str, timeout_s: float) -> Any:
        return self._call(
            f"the config request of model {name!r}", timeout_s, "get_model_config", name, version, headers=self._headers
        )

    def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None:
        self._call(
            f"loading model {name!r}", timeout_s, "load_model", name, headers=self._headers, config=config, files=files
        )

    def unload_model(self, name: str, timeout_s: float) -> None:
        self._call(f"unloading model {name!r}", timeout_s, "unload_model", name, headers=self._headers)

    # -- inference ----------------------------------------------------------------------------------
    def infer(
        self,
        name: str,
        version: str,
        prepared: Sequence[PreparedInput],
        request_id: str,
        parameters: dict[str, Any] | None,
        headers: dict[str, Any] | None,
    ) -> dict[str, np.ndarray]:
        client = self._client or self._get()
        request = http_request(name, version, prepared, request_id, parameters, headers)
        try:
            result = client.infer(**request)
        except Exception as exc:
            if is_timeout(exc) or isinstance(exc, OSError):
                self._reset()
            raise translate(exc, self._url, f"inference on model {name!r}", self._settings.inference_timeout_s) from exc
        return http_outputs(result)

    def close(self) -> None:
        self._closed = True
        self._reset()


class AsyncHttpTransport:
    """One ``tritonclient.http.aio.InferenceServerClient`` (aiohttp pool); safe for many coroutines."""

    protocol = "http"

    def __init__(self, settings: ClientSettings) -> None:
        import tritonclient.http.aio as aioclient

        self._settings = settings
        self._url = settings.url.with_scheme
        self._headers = settings.auth_headers
        tls = settings.url.tls
        context = ssl_context(settings.tls, self._url) if tls else None
        self._client = aioclient.InferenceServerClient(
            settings.url.without_scheme, conn_timeout=settings.inference_timeout_s, ssl=tls, ssl_context=context
        )

    async def _call(self, action: str, timeout_s: float | None, func: str, *args: Any, **kwargs: Any) -> Any:
        try:
            if timeout_s is None:
                return await getattr(self._client, func)(*args, **kwargs)
            return await within(getattr(self._client, func)(*args, **kwargs), timeout_s)
        except Exception as exc:
            raise _async_translate(exc, self._url, action, timeout_s or self._settings.inference_timeout_s) from exc

    async def server_ready(self, timeout_s: float) -> bool:
        live = await self._call("the server liveness check", timeout_s, "is_server_live", headers=self._headers)
        return bool(live) and bool(
            await self._call("the server readiness check", timeout_s, "is_server_ready", headers=self._headers)
        )

    async def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return bool(
            await self._call(
                f"the readiness check of model {name!r}",
                timeout_s,
                "is_model_ready",
                name,
                version,
                headers=self._headers,
            )
        )

    async def model_metadata(self, name: str, version: str, timeout_s: float) -> Any:
        return await self._call(
            f"the metadata request of model {name!r}",
            timeout_s,
            "get_model_metadata",
            name,
            version,
            headers=self._headers,
        )

    async def repository_index(self, timeout_s: float) -> Any:
        return await self._call(
            "the repository index request", timeout_s, "get_model_repository_index", headers=self._headers
        )

    async def model_config(self, name: str, version: str, timeout_s: float) -> Any:
        return await self._call(
            f"the config request of model {name!r}", timeout_s, "get_model_config", name, version, headers=self._headers
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
        request = http_request(name, version, prepared, request_id, parameters, headers)
        try:
            result = await self._client.infer(**request)
        except Exception as exc:
            raise _async_translate(
                exc, self._url, f"inference on model {name!r}", self._settings.inference_timeout_s
            ) from exc
        return http_outputs(result)

    async def close(self) -> None:
        await self._client.close()


def _async_translate(exc: BaseException, url: str, action: str, timeout_s: float) -> PyTritonClientError:
    import aiohttp

    if isinstance(exc, aiohttp.ClientError) and not is_timeout(exc):
        os_error = getattr(exc, "os_error", None)  # ClientConnectorError keeps the socket's error
        cause = os_error if isinstance(os_error, OSError) else ConnectionError(f"{type(exc).__name__}: {exc}")
        return translate(cause, url, action, timeout_s)
    return translate(exc, url, action, timeout_s)


__all__ = ["AsyncHttpTransport", "SyncHttpTransport", "http_outputs", "http_request"]
