"""gRPC transports: thin adapters over ``tritonclient.grpc`` (sync) and ``tritonclient.grpc.aio``.

Owns creating channels (TLS), passing a deadline on every call (``client_timeout``), turning answers
into the HTTP API's JSON form (``_protojson``), the streaming calls of decoupled models, and
translating gRPC errors. The named operations come from ``_transport``. Imported only when a gRPC
client is first created. Never validates inputs or decides anything about readiness.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aiogrpcclient
from tritonclient.grpc import service_pb2

from pytriton_client._core import ClientSettings, within
from pytriton_client._errors import translate
from pytriton_client._protojson import message_to_dict
from pytriton_client._tls import ssl_context
from pytriton_client._transport import (
    AsyncOperations,
    Call,
    InferRequest,
    Outputs,
    StreamEvent,
    StreamHandle,
    SyncOperations,
    TransportBase,
    infer_kwargs,
)
from pytriton_client._wire import grpc_message, grpc_metadata, grpc_outputs_of
from pytriton_client.exceptions import PyTritonClientClosedError, PyTritonClientError

_InferInput = grpcclient.InferInput
_INFER_RESPONSE = service_pb2.ModelInferResponse
FINAL_FLAG = "triton_final_response"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
"""The inference method's path (Triton's ``grpc_service.proto``)."""
_MAX_MESSAGE = 2**31 - 1
FAST_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    # No retry machinery on the fast path's channel: ~5 % fewer instructions per call (valgrind), and a
    # request the connection lost is an error the run counts, not a second attempt timed as one.
    ("grpc.enable_retries", 0),
)


def grpc_outputs(result: Any) -> Outputs:
    """Outputs of a gRPC ``InferResult`` in response order."""
    return {output.name: result.as_numpy(output.name) for output in result.get_response().outputs}


def is_final(result: Any) -> bool:
    """Whether a streamed result carries Triton's final-response flag."""
    params = result.get_response().parameters
    return FINAL_FLAG in params and bool(params[FINAL_FLAG].bool_param)


def stream_event(result: Any, error: BaseException | None) -> StreamEvent:
    """A streamed ``(result, error)`` pair as a :class:`StreamEvent`; a result that cannot be decoded
    becomes an error event (the consumer must hear of it rather than wait for its timeout)."""
    if error is not None:
        return StreamEvent("", {}, False, error)
    try:
        return StreamEvent(result.get_response().id, grpc_outputs(result), is_final(result))
    except Exception as exc:
        return StreamEvent("", {}, False, exc)


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


def decode(call: Call, answer: Any) -> Any:
    """A call's answer in the HTTP API's form (documents become dicts; plain values stay)."""
    if call.document is None:
        return answer
    document = message_to_dict(answer)
    return document.get(call.document) if call.document else document


class _GrpcTransport(TransportBase):
    """What the sync and aio gRPC transports share: creating the channel, translating errors."""

    protocol = "grpc"

    def _create(self, factory: Any) -> Any:
        """A tritonclient gRPC client; unusable TLS files become a clear ``PyTritonClientValueError`` here."""
        settings = self._settings
        if not settings.url.tls:
            return factory(settings.url.without_scheme)
        tls = settings.tls
        ssl_context(tls, self._url)  # gRPC itself would only fail at the handshake
        return factory(
            settings.url.without_scheme,
            ssl=True,
            root_certificates=tls.ca_file,
            private_key=tls.key_file,
            certificate_chain=tls.cert_file,
        )

    def _failed(self, exc: BaseException, action: str) -> PyTritonClientError:
        return translate_rpc(exc, self._url, action, self._timeout_s)


class SyncGrpcTransport(SyncOperations, _GrpcTransport):
    """One ``tritonclient.grpc.InferenceServerClient`` (one channel); every call carries a deadline."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self.client = self._create(grpcclient.InferenceServerClient)
        self._channel: Any = None
        """The fast path's channel (``send_encoded``): serialized requests in, raw answers out."""
        self._model_infer: Any = None
        self._closed = False

    def _call(self, call: Call, timeout_s: float) -> Any:
        method = getattr(self.client, call.method)
        try:
            answer = method(*call.args, headers=self._headers, client_timeout=timeout_s, **call.kwargs)
        except Exception as exc:
            raise translate_rpc(exc, self._url, call.action, timeout_s) from exc
        return decode(call, answer)

    def infer(self, request: InferRequest) -> Outputs:
        # The fast path's channel and encoder serve the ordinary path too: one protobuf message built
        # directly from the arrays costs less than tritonclient's tensors, request and result objects.
        answer, _, _ = self.send_encoded(grpc_message(request), request.model_name, grpc_metadata(request))
        return self.decode_answer(answer)

    # -- streaming (DecoupledModelClient) -----------------------------------------------------------
    def start_stream(self, on_event: Callable[[StreamEvent], None], headers: dict[str, Any] | None) -> None:
        def callback(result: Any, error: Any) -> None:
            on_event(stream_event(result, error))

        try:
            self.client.start_stream(callback, headers=headers)
        except Exception as exc:
            raise self._failed(exc, "opening a stream") from exc

    def send_stream(self, request: InferRequest) -> None:
        try:
            self.client.async_stream_infer(**infer_kwargs(request, _InferInput), enable_empty_final_response=True)
        except Exception as exc:
            raise self._failed(exc, f"streaming inference on model {request.model_name!r}") from exc

    def stop_stream(self, *, cancel: bool) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_stream(cancel_requests=cancel)

    # -- the fast path: serialized requests on a channel of its own ---------------------------------
    def encode(self, request: InferRequest) -> bytes:
        """``request`` as the serialized ``ModelInferRequest`` :meth:`send_encoded` sends."""
        return grpc_message(request)

    def _open_channel(self) -> Any:
        if self._closed:
            raise PyTritonClientClosedError("The client is closed")
        settings = self._settings
        options = [*FAST_CHANNEL_OPTIONS]
        target = settings.url.without_scheme
        if settings.url.tls:
            tls = settings.tls
            ssl_context(tls, self._url)  # clear errors on unusable PEM files
            files = [Path(f).read_bytes() if f else None for f in (tls.ca_file, tls.key_file, tls.cert_file)]
            credentials = grpc.ssl_channel_credentials(files[0], files[1], files[2])
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        # No serializers: the request is sent as it was encoded and the answer comes back as bytes.
        self._model_infer = self._channel.unary_unary(MODEL_INFER)
        return self._model_infer

    def send_encoded(
        self, message: bytes, model_name: str, metadata: tuple[tuple[str, str], ...]
    ) -> tuple[Any, int, int]:
        """Send one serialized request and wait for its answer; returns the answer (bytes), when the call
        began and when it returned (``perf_counter_ns``). Raises the translated error of a failed request."""
        call = self._model_infer or self._open_channel()
        start_ns = time.perf_counter_ns()
        try:
            answer = call(message, metadata=metadata or None, timeout=self._timeout_s)
        except Exception as exc:
            raise self._failed(exc, f"inference on model {model_name!r}") from exc
        return answer, start_ns, time.perf_counter_ns()

    @staticmethod
    def answer_size(answer: Any) -> int:
        """Bytes of output data in an answer (the raw output contents)."""
        # Per request on the fast path: a module-level class and ``map`` (no import statement, no generator).
        return sum(map(len, _INFER_RESPONSE.FromString(answer).raw_output_contents))

    @staticmethod
    def decode_answer(answer: Any) -> Outputs:
        """The outputs of an answer, decoded as tritonclient decodes them."""
        return grpc_outputs_of(_INFER_RESPONSE.FromString(answer))

    def close(self) -> None:
        self._closed = True
        self.stop_stream(cancel=True)
        self.client.close()
        channel, self._channel, self._model_infer = self._channel, None, None
        if channel is not None:
            channel.close()


class AsyncGrpcTransport(AsyncOperations, _GrpcTransport):
    """One ``tritonclient.grpc.aio.InferenceServerClient``; safe for many coroutines and streams."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._client = self._create(aiogrpcclient.InferenceServerClient)

    async def _call(self, call: Call, timeout_s: float) -> Any:
        method = getattr(self._client, call.method)
        try:
            answer = await method(*call.args, headers=self._headers, client_timeout=timeout_s, **call.kwargs)
        except Exception as exc:
            raise translate_rpc(exc, self._url, call.action, timeout_s) from exc
        return decode(call, answer)

    async def infer(self, request: InferRequest) -> Outputs:
        kwargs = infer_kwargs(request, _InferInput)
        try:
            result = await self._client.infer(**kwargs, headers=request.headers, client_timeout=self._timeout_s)
        except Exception as exc:
            raise self._failed(exc, f"inference on model {request.model_name!r}") from exc
        return grpc_outputs(result)

    def open_stream(self, request: InferRequest) -> StreamHandle:
        """Start one streaming call carrying one request; returns tritonclient's response iterator."""
        kwargs = infer_kwargs(request, _InferInput)

        async def one_request() -> AsyncIterator[dict[str, Any]]:
            yield kwargs

        try:
            stream: StreamHandle = self._client.stream_infer(one_request(), headers=request.headers)
        except Exception as exc:
            raise self._failed(exc, f"streaming inference on model {request.model_name!r}") from exc
        return stream

    async def next_event(self, stream: StreamHandle, name: str) -> StreamEvent | None:
        """The next event of ``stream`` within the inference timeout; ``None`` at its end."""
        try:
            result, error = await within(stream.__anext__(), self._timeout_s)  # type: ignore[attr-defined]
        except StopAsyncIteration:
            return None
        except Exception as exc:
            raise self._failed(exc, f"waiting for the next response of model {name!r}") from exc
        return stream_event(result, error)

    async def close(self) -> None:
        await self._client.close()


__all__ = [
    "AsyncGrpcTransport",
    "SyncGrpcTransport",
    "decode",
    "grpc_outputs",
    "is_final",
    "stream_event",
    "translate_rpc",
]
