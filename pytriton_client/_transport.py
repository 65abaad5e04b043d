"""The transport seam: what the fronts ask of the network, as typing Protocols, and who answers.

Owns the contract between the fronts (``_sync``, ``_decoupled``, ``_asyncio``, ``_server``) and the
protocol adapters (``_http``, ``_grpc``): the operations a sync and an asyncio transport provide, the
request and stream-event types they exchange, each non-inference call described once as data
(:class:`Call`: which ``tritonclient`` method, which arguments, what it is for in error messages), the
named operations written once over a protocol's ``_call``, and picking the adapter for a URL.

A transport raises only ``PyTritonClientError`` (translated in ``_errors``), except the raw error a
stream event carries. This module never does I/O itself and never imports ``_http``/``_grpc`` at
import time (they pull in gevent or grpc): the factories import them on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from pytriton_client._core import Array, Params
from pytriton_client._inputs import PreparedInput, build_tensors
from pytriton_client.exceptions import PyTritonClientInferenceServerError

if TYPE_CHECKING:
    from pytriton_client._core import ClientSettings

Outputs = dict[str, Array]
"""Decoded outputs of one response, by output name, in response order."""


@dataclass(slots=True)
class InferRequest:
    """One inference request, planned and checked by the front; a transport only encodes and sends it.

    Read-only by convention (a slotted dataclass: cheaper to create than a frozen one, once per request).
    """

    model_name: str
    model_version: str
    """``""`` means the server's latest version."""
    inputs: list[PreparedInput]
    request_id: str
    parameters: Params | None
    headers: dict[str, Any] | None
    """The client's token header merged with the call's headers (HTTP headers or gRPC metadata)."""


def infer_kwargs(request: InferRequest, tensor_class: Callable[[str, Any, str], Any]) -> dict[str, Any]:
    """``request`` as the keyword arguments of every tritonclient inference call (HTTP and gRPC, sync and
    aio, streams too), headers apart; ``tensor_class`` is the protocol's ``InferInput``."""
    return {
        "model_name": request.model_name,
        "inputs": build_tensors(tensor_class, request.inputs),
        "model_version": request.model_version,
        "request_id": request.request_id,
        "parameters": request.parameters,
    }


class StreamEvent(NamedTuple):
    """One thing a decoupled model's stream delivered: a response, the end of a request, or an error."""

    request_id: str
    outputs: Outputs
    final: bool
    """Triton's final-response flag (sync streams ask for it; asyncio streams end when the call ends)."""
    error: BaseException | None = None
    """The transport's raw error; the front translates it with the stream's context."""


@dataclass(frozen=True, slots=True)
class Call:
    """One non-inference call, as the four ``tritonclient`` clients (HTTP, gRPC, sync, aio) all take it."""

    method: str
    """Method of ``tritonclient``'s ``InferenceServerClient`` (same name in every one of them)."""
    action: str
    """What the call is for, in error messages (``"the config request of model 'Linear'"``)."""
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    document: str | None = None
    """``None``: the answer is a plain value. Else the answer is a JSON document (a dict over HTTP, a
    protobuf message over gRPC, converted to the HTTP form) and this names the field of the gRPC
    message that holds it (``""``: the whole message)."""


SERVER_LIVE = Call("is_server_live", "the server liveness check")
SERVER_READY = Call("is_server_ready", "the server readiness check")
SERVER_METADATA = Call("get_server_metadata", "the server metadata request", document="")
REPOSITORY_INDEX = Call("get_model_repository_index", "the repository index request", document="models")


def model_call(method: str, what: str, name: str, version: str, document: str | None = None) -> Call:
    """A call about one model version (``version`` ``""``: the latest, or every version for statistics)."""
    return Call(method, f"the {what} of model {name!r}", (name, version), document=document)


def load_call(name: str, config: str | None, files: dict[str, bytes] | None) -> Call:
    """A repository load of ``name`` (``config``: config JSON text; ``files``: ``"file:<path>"`` -> bytes)."""
    return Call("load_model", f"loading model {name!r}", (name,), {"config": config, "files": files})


def unload_call(name: str) -> Call:
    """A repository unload of ``name``."""
    return Call("unload_model", f"unloading model {name!r}", (name,))


def answer_document(value: Any, call: Call) -> dict[str, Any]:
    """A JSON-object answer, checked (a server answering something else is a server error)."""
    if not isinstance(value, dict):
        raise PyTritonClientInferenceServerError(f"Unexpected answer to {call.action}: {type(value).__name__}.")
    return value


def answer_list(value: Any, call: Call) -> list[dict[str, Any]]:
    """A JSON-array answer (the repository index), checked."""
    if not isinstance(value, list):
        raise PyTritonClientInferenceServerError(f"Unexpected answer to {call.action}: {type(value).__name__}.")
    return value


# -- the contract ---------------------------------------------------------------------------------------
@runtime_checkable
class SyncTransport(Protocol):
    """What a blocking front needs: each call bounded by ``timeout_s`` (inference: the client's
    ``inference_timeout_s``), raising only ``PyTritonClientError``."""

    protocol: str
    """``"http"`` or ``"grpc"``."""

    def server_live(self, timeout_s: float) -> bool: ...
    def server_ready(self, timeout_s: float) -> bool:
        """Live and ready."""
        ...

    def server_metadata(self, timeout_s: float) -> dict[str, Any]: ...
    def model_ready(self, name: str, version: str, timeout_s: float) -> bool: ...
    def model_metadata(self, name: str, version: str, timeout_s: float) -> dict[str, Any]: ...
    def repository_index(self, timeout_s: float) -> list[dict[str, Any]]: ...
    def model_config(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        """The configuration as Triton's HTTP API gives it, whatever the protocol."""
        ...

    def model_statistics(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        """The statistics extension's answer as Triton's HTTP API gives it, whatever the protocol."""
        ...

    def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None: ...
    def unload_model(self, name: str, timeout_s: float) -> None: ...
    def infer(self, request: InferRequest) -> Outputs: ...
    def close(self) -> None: ...


@runtime_checkable
class SyncStreamTransport(SyncTransport, Protocol):
    """A sync transport that also streams (gRPC): one bidirectional stream, events through a callback."""

    def start_stream(self, on_event: Callable[[StreamEvent], None], headers: dict[str, Any] | None) -> None: ...
    def send_stream(self, request: InferRequest) -> None: ...
    def stop_stream(self, *, cancel: bool) -> None: ...


@runtime_checkable
class AsyncTransport(Protocol):
    """What an asyncio front needs: :class:`SyncTransport`'s operations as coroutines."""

    protocol: str

    async def server_live(self, timeout_s: float) -> bool: ...
    async def server_ready(self, timeout_s: float) -> bool: ...
    async def server_metadata(self, timeout_s: float) -> dict[str, Any]: ...
    async def model_ready(self, name: str, version: str, timeout_s: float) -> bool: ...
    async def model_metadata(self, name: str, version: str, timeout_s: float) -> dict[str, Any]: ...
    async def repository_index(self, timeout_s: float) -> list[dict[str, Any]]: ...
    async def model_config(self, name: str, version: str, timeout_s: float) -> dict[str, Any]: ...
    async def model_statistics(self, name: str, version: str, timeout_s: float) -> dict[str, Any]: ...
    async def load_model(
        self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float
    ) -> None: ...
    async def unload_model(self, name: str, timeout_s: float) -> None: ...
    async def infer(self, request: InferRequest) -> Outputs: ...
    async def close(self) -> None: ...


class StreamHandle(Protocol):
    """One open streaming call; ``cancel()`` stops it (and the request on the server)."""

    def cancel(self) -> Any: ...


@runtime_checkable
class AsyncStreamTransport(AsyncTransport, Protocol):
    """An asyncio transport that also streams (gRPC): one streaming call per request."""

    def open_stream(self, request: InferRequest) -> StreamHandle: ...
    async def next_event(self, stream: StreamHandle, name: str) -> StreamEvent | None:
        """The stream's next event within the inference timeout; ``None`` when the call ended."""
        ...


# -- the named operations, written once over a protocol's ``_call`` -----------------------------------
class SyncOperations:
    """The named non-inference operations of a sync transport; the protocol supplies ``_call``."""

    def _call(self, call: Call, timeout_s: float) -> Any:
        raise NotImplementedError

    def server_live(self, timeout_s: float) -> bool:
        return bool(self._call(SERVER_LIVE, timeout_s))

    def server_ready(self, timeout_s: float) -> bool:
        return self.server_live(timeout_s) and bool(self._call(SERVER_READY, timeout_s))

    def server_metadata(self, timeout_s: float) -> dict[str, Any]:
        return answer_document(self._call(SERVER_METADATA, timeout_s), SERVER_METADATA)

    def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return bool(self._call(model_call("is_model_ready", "readiness check", name, version), timeout_s))

    def model_metadata(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        call = model_call("get_model_metadata", "metadata request", name, version, "")
        return answer_document(self._call(call, timeout_s), call)

    def repository_index(self, timeout_s: float) -> list[dict[str, Any]]:
        return answer_list(self._call(REPOSITORY_INDEX, timeout_s), REPOSITORY_INDEX)

    def model_config(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        call = model_call("get_model_config", "config request", name, version, "config")
        return answer_document(self._call(call, timeout_s), call)

    def model_statistics(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        call = model_call("get_inference_statistics", "statistics request", name, version, "")
        return answer_document(self._call(call, timeout_s), call)

    def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None:
        self._call(
            Call("load_model", f"loading model {name!r}", (name,), {"config": config, "files": files}), timeout_s
        )

    def unload_model(self, name: str, timeout_s: float) -> None:
        self._call(unload_call(name), timeout_s)


class AsyncOperations:
    """The named non-inference operations of an asyncio transport; the protocol supplies ``_call``."""

    async def _call(self, call: Call, timeout_s: float) -> Any:
        raise NotImplementedError

    async def server_live(self, timeout_s: float) -> bool:
        return bool(await self._call(SERVER_LIVE, timeout_s))

    async def server_ready(self, timeout_s: float) -> bool:
        return await self.server_live(timeout_s) and bool(await self._call(SERVER_READY, timeout_s))

    async def server_metadata(self, timeout_s: float) -> dict[str, Any]:
        return answer_document(await self._call(SERVER_METADATA, timeout_s), SERVER_METADATA)

    async def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return bool(await self._call(model_call("is_model_ready", "readiness check", name, version), timeout_s))

    async def model_metadata(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        call = model_call("get_model_metadata", "metadata request", name, version, "")
        return answer_document(await self._call(call, timeout_s), call)

    async def repository_index(self, timeout_s: float) -> list[dict[str, Any]]:
        return answer_list(await self._call(REPOSITORY_INDEX, timeout_s), REPOSITORY_INDEX)

    async def model_config(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        call = model_call("get_model_config", "config request", name, version, "config")
        return answer_document(await self._call(call, timeout_s), call)

    async def model_statistics(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        call = model_call("get_inference_statistics", "statistics request", name, version, "")
        return answer_document(await self._call(call, timeout_s), call)

    async def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None:
        await self._call(load_call(name, config, files), timeout_s)

    async def unload_model(self, name: str, timeout_s: float) -> None:
        await self._call(unload_call(name), timeout_s)


# -- picking the adapter --------------------------------------------------------------------------------
class TransportBase:
    """What every adapter keeps from the client's settings."""

    protocol: str

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._url = settings.url.with_scheme
        """The URL with its scheme, for error messages."""
        self._headers = settings.auth_headers
        """The access token's header, sent with every non-inference call."""
        self._timeout_s = settings.inference_timeout_s


def make_sync_transport(settings: ClientSettings) -> SyncTransport:
    """The sync transport for the URL's protocol (imports its module on first use; gRPC ones stream)."""
    if settings.url.protocol == "grpc":
        from pytriton_client._grpc import SyncGrpcTransport

        return SyncGrpcTransport(settings)
    from pytriton_client._http import SyncHttpTransport

    return SyncHttpTransport(settings)


def make_async_transport(settings: ClientSettings) -> AsyncTransport:
    """The asyncio transport for the URL's protocol (needs a running event loop; gRPC ones stream)."""
    if settings.url.protocol == "grpc":
        from pytriton_client._grpc import AsyncGrpcTransport

        return AsyncGrpcTransport(settings)
    from pytriton_client._http import AsyncHttpTransport

    return AsyncHttpTransport(settings)


__all__ = [
    "AsyncOperations",
    "AsyncStreamTransport",
    "AsyncTransport",
    "Call",
    "InferRequest",
    "Outputs",
    "StreamEvent",
    "StreamHandle",
    "SyncOperations",
    "SyncStreamTransport",
    "SyncTransport",
    "TransportBase",
    "infer_kwargs",
    "make_async_transport",
    "make_sync_transport",
]
