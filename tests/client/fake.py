"""An in-memory Triton behind the transport Protocols, so the fronts' rules are tested without a server.

``FakeServer`` holds models (configurations in the HTTP API's form), readiness, scripted failures and
a log of every call. ``SyncFake`` and ``AsyncFake`` are its sync and asyncio transports (both stream
too); ``install`` puts them behind ``pytriton_client._transport``'s factories, so every client
created afterwards (any front, any URL) talks to the fake. The fake answers as a transport must:
already-translated ``PyTritonClientError`` exceptions, raw errors only inside stream events.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from pytriton_client import _transport
from pytriton_client._core import ClientSettings
from pytriton_client._transport import InferRequest, Outputs, StreamEvent
from pytriton_client.exceptions import PyTritonClientError, PyTritonClientModelUnavailableError

DOUBLE = {  # batching: y = 2 * x
    "name": "Double",
    "max_batch_size": 8,
    "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [2]}],
    "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [2]}],
}
PAIR = {  # no batching, two inputs: sum = a + b
    "name": "Pair",
    "max_batch_size": 0,
    "input": [
        {"name": "a", "data_type": "TYPE_FP32", "dims": [-1]},
        {"name": "b", "data_type": "TYPE_FP32", "dims": [-1]},
    ],
    "output": [{"name": "sum", "data_type": "TYPE_FP32", "dims": [-1]}],
}
COUNTER = {  # decoupled: response i holds x + i
    "name": "Counter",
    "max_batch_size": 8,
    "model_transaction_policy": {"decoupled": True},
    "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [2]}],
    "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [2]}],
}
STATISTICS = {"model_stats": [{"name": "Double", "version": "1", "inference_count": 0, "execution_count": 0}]}


def compute(request: InferRequest) -> Outputs:
    """What the fake's models answer (``Counter``: its first response)."""
    arrays = {name: array for name, array, _ in request.inputs}
    if request.model_name == "Pair":
        return {"sum": arrays["a"] + arrays["b"]}
    return {"y": arrays["x"] * (2 if request.model_name == "Double" else 1)}


@dataclass
class FakeServer:
    """The fake's state, shared by every transport it hands out (thread-safe)."""

    configs: dict[str, dict[str, Any]] = field(default_factory=lambda: {c["name"]: c for c in (DOUBLE, PAIR, COUNTER)})
    not_ready_polls: Counter[str] = field(default_factory=Counter)
    """Op (``server_ready``, ``model_ready``) -> how many more times it answers ``False``."""
    failures: dict[str, list[PyTritonClientError]] = field(default_factory=dict)
    """Op -> errors its next calls raise, in order."""
    infer_delay_s: float = 0.0
    stream_responses: int = 3
    stream_error_after: int | None = None
    """Streams: send a raw error event after this many responses."""
    calls: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    """Every call with its arguments, in order."""
    requests: list[InferRequest] = field(default_factory=list)
    closed: int = 0
    cancelled: int = 0
    hold: asyncio.Event | None = None
    """Asyncio inference waits for this event when set (to cancel a request in flight)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, op: str, *errors: PyTritonClientError) -> None:
        self.failures.setdefault(op, []).extend(errors)

    def call(self, op: str, *args: Any) -> None:
        """Count and log a call; raise its scripted failure if any."""
        with self.lock:
            self.calls[op] += 1
            self.log.append((op, args))
            pending = self.failures.get(op)
            error = pending.pop(0) if pending else None
        if error is not None:
            raise error

    def ready(self, op: str) -> bool:
        with self.lock:
            if self.not_ready_polls[op] > 0:
                self.not_ready_polls[op] -= 1
                return False
            return True

    def config(self, name: str) -> dict[str, Any]:
        if name not in self.configs:
            raise PyTritonClientModelUnavailableError(f"Request for unknown model: {name!r} is not found")
        return dict(self.configs[name])

    def infer(self, request: InferRequest) -> Outputs:
        self.call("infer", request)
        with self.lock:
            self.requests.append(request)
        if self.infer_delay_s:
            time.sleep(self.infer_delay_s)
        return compute(request)

    def events(self, request: InferRequest) -> list[StreamEvent]:
        """What one streamed request delivers, the final flag included."""
        first = compute(request)
        events = []
        for index in range(self.stream_responses):
            if self.stream_error_after is not None and index == self.stream_error_after:
                return [*events, StreamEvent("", {}, False, RuntimeError("model failed mid-stream"))]
            events.append(StreamEvent(request.request_id, {k: v + index for k, v in first.items()}, False))
        return [*events, StreamEvent(request.request_id, {}, True)]


class SyncFake:
    """A :class:`~pytriton_client._transport.SyncStreamTransport` over a :class:`FakeServer`."""

    def __init__(self, server: FakeServer, settings: ClientSettings) -> None:
        self.server = server
        self.protocol = settings.url.protocol
        self.settings = settings
        self._on_event: Callable[[StreamEvent], None] | None = None

    def server_live(self, timeout_s: float) -> bool:
        self.server.call("server_live", timeout_s)
        return True

    def server_ready(self, timeout_s: float) -> bool:
        self.server.call("server_ready", timeout_s)
        return self.server.ready("server_ready")

    def server_metadata(self, timeout_s: float) -> dict[str, Any]:
        self.server.call("server_metadata", timeout_s)
        return {"name": "fake", "version": "0", "extensions": ["statistics"]}

    def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        self.server.call("model_ready", name, version, timeout_s)
        return name in self.server.configs and self.server.ready("model_ready")

    def model_metadata(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        self.server.call("model_metadata", name, version, timeout_s)
        return {"name": self.server.config(name)["name"]}

    def repository_index(self, timeout_s: float) -> list[dict[str, Any]]:
        self.server.call("repository_index", timeout_s)
        return [{"name": name, "version": "1", "state": "READY"} for name in self.server.configs]

    def model_config(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        self.server.call("model_config", name, version, timeout_s)
        return self.server.config(name)

    def model_statistics(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        self.server.call("model_statistics", name, version, timeout_s)
        return STATISTICS

    def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None:
        self.server.call("load_model", name, config, files, timeout_s)

    def unload_model(self, name: str, timeout_s: float) -> None:
        self.server.call("unload_model", name, timeout_s)

    def infer(self, request: InferRequest) -> Outputs:
        return self.server.infer(request)

    def close(self) -> None:
        with self.server.lock:
            self.server.closed += 1

    def start_stream(self, on_event: Callable[[StreamEvent], None], headers: dict[str, Any] | None) -> None:
        self.server.call("start_stream", headers)
        self._on_event = on_event

    def send_stream(self, request: InferRequest) -> None:
        self.server.call("send_stream", request)
        assert self._on_event is not None
        for event in self.server.events(request):
            self._on_event(event)

    def stop_stream(self, *, cancel: bool) -> None:
        self.server.call("stop_stream", cancel)
        if cancel:
            self.server.cancelled += 1


class FakeStream:
    """One asyncio streaming call of the fake."""

    def __init__(self, server: FakeServer, events: list[StreamEvent]) -> None:
        self.server = server
        self.events = events

    def cancel(self) -> None:
        self.server.cancelled += 1


class AsyncFake:
    """A :class:`~pytriton_client._transport.AsyncStreamTransport` over a :class:`FakeServer`: the sync
    fake's answers, awaited."""

    def __init__(self, server: FakeServer, settings: ClientSettings) -> None:
        self.server = server
        self.protocol = settings.url.protocol
        self._sync = SyncFake(server, settings)

    async def server_live(self, timeout_s: float) -> bool:
        return self._sync.server_live(timeout_s)

    async def server_ready(self, timeout_s: float) -> bool:
        return self._sync.server_ready(timeout_s)

    async def server_metadata(self, timeout_s: float) -> dict[str, Any]:
        return self._sync.server_metadata(timeout_s)

    async def model_ready(self, name: str, version: str, timeout_s: float) -> bool:
        return self._sync.model_ready(name, version, timeout_s)

    async def model_metadata(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        return self._sync.model_metadata(name, version, timeout_s)

    async def repository_index(self, timeout_s: float) -> list[dict[str, Any]]:
        return self._sync.repository_index(timeout_s)

    async def model_config(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        await asyncio.sleep(0)  # let concurrent callers pile up behind the initialisation lock
        return self._sync.model_config(name, version, timeout_s)

    async def model_statistics(self, name: str, version: str, timeout_s: float) -> dict[str, Any]:
        return self._sync.model_statistics(name, version, timeout_s)

    async def load_model(self, name: str, config: str | None, files: dict[str, bytes] | None, timeout_s: float) -> None:
        self._sync.load_model(name, config, files, timeout_s)

    async def unload_model(self, name: str, timeout_s: float) -> None:
        self._sync.unload_model(name, timeout_s)

    async def infer(self, request: InferRequest) -> Outputs:
        if self.server.hold is not None:
            self.server.call("held", request)
            await self.server.hold.wait()
        if self.server.infer_delay_s:
            await asyncio.sleep(self.server.infer_delay_s)
        self.server.call("infer", request)
        self.server.requests.append(request)
        return compute(request)

    async def close(self) -> None:
        self._sync.close()

    def open_stream(self, request: InferRequest) -> FakeStream:
        self.server.call("open_stream", request)
        return FakeStream(self.server, [event for event in self.server.events(request) if not event.final])

    async def next_event(self, stream: FakeStream, name: str) -> StreamEvent | None:
        await asyncio.sleep(0)
        return stream.events.pop(0) if stream.events else None


def install(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    """Every client created from now on (in this test) talks to ``server``."""
    monkeypatch.setattr(_transport, "make_sync_transport", lambda settings: SyncFake(server, settings))
    monkeypatch.setattr(_transport, "make_async_transport", lambda settings: AsyncFake(server, settings))


def sample(*values: float) -> np.ndarray[Any, Any]:
    return np.array(values, dtype=np.float32)
