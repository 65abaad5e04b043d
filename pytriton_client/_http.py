"""HTTP transports: thin adapters over ``tritonclient.http`` (sync) and ``tritonclient.http.aio``.

Owns creating the underlying client (timeouts, TLS), running a :class:`~pytriton_client._transport.Call`
or an inference on it under a deadline, and translating its errors. The named operations come from
``_transport``. Imported only when an HTTP client is first created (``tritonclient.http`` pulls in
gevent). Never validates inputs or decides anything about readiness: the fronts and the core do that.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import gevent
import tritonclient.http as httpclient
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.response import HTTPParseError, HTTPSocketPoolResponse
from tritonclient.utils import InferenceServerException

from pytriton_client._core import ClientSettings, within
from pytriton_client._errors import is_timeout, translate
from pytriton_client._tls import gevent_context_factory, ssl_context
from pytriton_client._transport import (
    AsyncOperations,
    Call,
    InferRequest,
    Outputs,
    SyncOperations,
    TransportBase,
    infer_kwargs,
)
from pytriton_client._wire import HEADER_LENGTH, http_message, http_outputs_of, parse_json
from pytriton_client.exceptions import PyTritonClientClosedError, PyTritonClientError

_InferInput = httpclient.InferInput


def http_outputs(result: Any) -> Outputs:
    """Outputs of an HTTP ``InferResult`` in response order."""
    outputs = result.get_response().get("outputs") or ()
    return {output["name"]: result.as_numpy(output["name"]) for output in outputs}


def _inference(request: InferRequest) -> str:
    return f"inference on model {request.model_name!r}"


class SyncHttpTransport(SyncOperations, TransportBase):
    """One ``tritonclient.http.InferenceServerClient``, recreated after a timeout or connection error.

    Bound to the thread (gevent hub) that first uses it, as geventhttpclient requires.
    """

    protocol = "http"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._client: Any = None
        self._pool: Any = None
        """The fast path's connection (``send_encoded``), apart from tritonclient's."""
        self._closed = False

    def _get(self) -> Any:
        client = self._client
        if client is None:
            if self._closed:
                raise PyTritonClientClosedError("The client is closed")
            settings = self._settings
            tls = settings.url.tls
            if tls:
                ssl_context(settings.tls, self._url)  # fail here, clearly, on unusable PEM files
            client = self._client = httpclient.InferenceServerClient(
                settings.url.without_scheme,
                connection_timeout=self._timeout_s,
                network_timeout=self._timeout_s,
                ssl=tls,
                ssl_context_factory=gevent_context_factory(settings.tls) if tls else None,
                insecure=tls and not settings.tls.verify,
            )
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _failed(self, exc: BaseException, action: str, timeout_s: float) -> PyTritonClientError:
        """Drop the connection after a timeout or a socket error (a late answer must never be read as the
        next request's), and translate."""
        if is_timeout(exc) or isinstance(exc, OSError):
            self._drop()
        return translate(exc, self._url, action, timeout_s)

    def _call(self, call: Call, timeout_s: float) -> Any:
        client = self._get()
        try:
            with gevent.Timeout(timeout_s):
                return getattr(client, call.method)(*call.args, headers=self._headers, **call.kwargs)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            raise self._failed(exc, call.action, timeout_s) from exc

    def infer(self, request: InferRequest) -> Outputs:
        # The fast path's connection and encoder serve the ordinary path too: the message built once,
        # straight from the arrays, costs less than tritonclient's tensors, request and result objects.
        answer, _, _ = self.send_encoded(self.encode(request), request.model_name)
        return self.decode_answer(answer)

    # -- the fast path: pre-encoded messages on a connection of its own -----------------------------
    def encode(self, request: InferRequest) -> bytes:
        """``request`` as the whole HTTP message :meth:`send_encoded` sends."""
        return http_message(request, self._settings.url.without_scheme)

    def _connection_pool(self) -> Any:
        pool = self._pool
        if pool is None:
            if self._closed:
                raise PyTritonClientClosedError("The client is closed")
            url, timeout_s = self._settings.url, self._timeout_s
            host = url.hostname
            common: dict[str, Any] = {"size": 1, "connection_timeout": timeout_s, "network_timeout": timeout_s}
            if url.tls:
                tls = self._settings.tls
                ssl_context(tls, self._url)  # fail here, clearly, on unusable PEM files
                pool = SSLConnectionPool(
                    host,
                    url.port,
                    host,
                    url.port,
                    insecure=not tls.verify,
                    ssl_context_factory=gevent_context_factory(tls),
                    ssl_options={"server_hostname": host},
                    **common,
                )
            else:
                pool = ConnectionPool(host, url.port, host, url.port, **common)
            self._pool = pool
        return pool

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.close()

    def send_encoded(self, message: bytes, model_name: str) -> tuple[Any, int, int]:
        """Send one encoded message and read its whole answer; returns the answer, when the message was
        about to be written and when the answer's last byte arrived (``perf_counter_ns``). Raises the
        translated error of a failed request (any status but 200)."""
        pool = self._pool or self._connection_pool()
        try:
            sock = pool.get_socket()
            start_ns = time.perf_counter_ns()
            try:
                sock.sendall(message)
            except BaseException:
                pool.release_socket(sock)
                raise
            response = HTTPSocketPoolResponse(sock, pool, method="POST")
            body = response.read()
            end_ns = time.perf_counter_ns()
        except Exception as exc:
            if is_timeout(exc) or isinstance(exc, OSError | HTTPParseError):
                self._drop_pool()  # a late answer must never be read as the next request's
            cause = ConnectionError(f"{type(exc).__name__}: {exc}") if isinstance(exc, HTTPParseError) else exc
            raise translate(cause, self._url, f"inference on model {model_name!r}", self._timeout_s) from exc
        status = response.status_code
        if status != 200:
            error = _answer_error(status, bytes(body))
            raise translate(error, self._url, f"inference on model {model_name!r}", self._timeout_s) from error
        return (response.get(HEADER_LENGTH), body), start_ns, end_ns

    @staticmethod
    def answer_size(answer: Any) -> int:
        """Bytes of output data in an answer: its binary part (BYTES elements with their 4-byte lengths)."""
        header_length, body = answer
        if header_length is None:
            return 0
        return len(body) - int(header_length)

    @staticmethod
    def decode_answer(answer: Any) -> Outputs:
        """The outputs of an answer, decoded as tritonclient decodes them."""
        header_length, body = answer
        return http_outputs_of(int(header_length) if header_length is not None else None, body)

    def close(self) -> None:
        self._closed = True
        self._drop()
        self._drop_pool()

    def __del__(self) -> None:
        # A client dropped without close(): its socket goes with it, as tritonclient's own client does.
        with contextlib.suppress(Exception):
            self._drop_pool()


def _answer_error(status: int, body: bytes) -> InferenceServerException:
    """The error an answer with ``status`` carries, as tritonclient raises it."""
    try:
        message = str(parse_json(body)["error"]) if body else "client received an empty response from the server."
    except Exception:
        message = f"could not decode the error answer: {body[:200]!r}"
    return InferenceServerException(msg=message, status=str(status))


class AsyncHttpTransport(AsyncOperations, TransportBase):
    """One ``tritonclient.http.aio.InferenceServerClient`` (aiohttp pool); safe for many coroutines."""

    protocol = "http"

    def __init__(self, settings: ClientSettings) -> None:
        import tritonclient.http.aio as aioclient

        super().__init__(settings)
        tls = settings.url.tls
        context = ssl_context(settings.tls, self._url) if tls else None
        self._client = aioclient.InferenceServerClient(
            settings.url.without_scheme, conn_timeout=self._timeout_s, ssl=tls, ssl_context=context
        )

    async def _call(self, call: Call, timeout_s: float) -> Any:
        method = getattr(self._client, call.method)
        try:
            return await within(method(*call.args, headers=self._headers, **call.kwargs), timeout_s)
        except Exception as exc:
            raise _async_translate(exc, self._url, call.action, timeout_s) from exc

    async def infer(self, request: InferRequest) -> Outputs:
        try:
            result = await self._client.infer(**infer_kwargs(request, _InferInput), headers=request.headers)
        except Exception as exc:
            raise _async_translate(exc, self._url, _inference(request), self._timeout_s) from exc
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


__all__ = ["AsyncHttpTransport", "SyncHttpTransport", "http_outputs"]
