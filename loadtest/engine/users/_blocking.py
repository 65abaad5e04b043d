"""Users whose request blocks until it is done: ``sync`` and ``decoupled``.

Owns how a blocking call waits without blocking the gevent hub: ``sync`` over HTTP runs in the hub
(the HTTP transport is gevent-native); ``sync`` over gRPC runs in a thread of each user's own
(``_bridge.BlockingWorker``), every ``decoupled`` stream in gevent's native thread pool. Owns too
the ``sync`` fast path's shared pool of encoded requests. Recording is the base user's.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from loadtest.engine import _bridge
from loadtest.engine.control import RunControl
from loadtest.engine.model import TrafficEntry
from loadtest.engine.users._base import TritonUser


class SyncUser(TritonUser):
    """``sync`` pattern: one blocking request at a time on a ``ModelClient``.

    On the fast path (``traffic.fast_path``) every payload is sent pre-encoded: the entry's pool is
    encoded once, by its first user, and the users take the encoded requests in turn
    (``ModelClient.infer_encoded``); the ordinary path builds each request from the payload's arrays.
    """

    abstract = True
    _in_thread = False
    _encoded: Iterator[Any] | None = None
    _worker: _bridge.BlockingWorker | None = None
    """gRPC: the thread of this user's blocking calls."""

    def open_client(self) -> Any:
        from pytriton_client import ModelClient

        make = functools.partial(ModelClient, *self.client_args(), **self.client_kwargs())
        self._in_thread = self.traffic.client.protocol == "grpc"
        if self._in_thread:
            self._worker = _bridge.BlockingWorker(f"tritonload-{self.traffic.name}")
            client = self._worker.call(make)
        else:
            client = make()
        if self.traffic.fast_path:
            self._encoded = encoded_requests(self.traffic, self.control, client)
        return client

    def close_client(self) -> None:
        super().close_client()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()

    def step(self) -> None:
        """Send one request and wait for it."""
        intended = self.begin()
        encoded = self._encoded
        args: tuple[Any, ...]
        if encoded is not None:
            method: Callable[..., Any] = self._client.infer_encoded
            args, kwargs = (next(encoded),), {}
        else:
            method = getattr(self._client, self.traffic.method)
            args, kwargs = (), self.traffic.call_kwargs()
        error: BaseException | None = None
        token = self.control.started(self.traffic.name)
        try:
            worker = self._worker
            if worker is not None:
                worker.call(functools.partial(method, *args, **kwargs))
            else:
                method(*args, **kwargs)
        except Exception as exc:  # recorded through the observer (or synthesised by finish)
            error = exc
        finally:
            self.control.ended(token)
        self.finish(intended, error)


def encoded_requests(traffic: TrafficEntry, control: RunControl, client: Any) -> Iterator[Any] | None:
    """The entry's payloads in wire form, taken in turn by all its users; encoded once per run, by the
    first user that asks. None when they cannot be pre-encoded (the ordinary path then runs; the
    entry's ``info["fast_path"]`` says so in summary.json)."""
    shared = control.encoded.get(traffic.name)
    if shared is not None:
        return shared
    items = getattr(traffic.payloads, "items", None)
    if not items or not getattr(client, "can_encode", False):
        traffic.info["fast_path"] = False
        return None
    encode = client.encode_sample if traffic.method == "infer_sample" else client.encode_batch
    extra: dict[str, Any] = {}
    if traffic.parameters:
        extra["parameters"] = dict(traffic.parameters)
    if traffic.headers:
        extra["headers"] = dict(traffic.headers)
    shared = control.encoded[traffic.name] = itertools.cycle([encode(**item, **extra) for item in items])
    return shared


class DecoupledUser(TritonUser):
    """``decoupled`` pattern: one stream at a time on a ``DecoupledModelClient``, in a native thread."""

    abstract = True

    def open_client(self) -> Any:
        from pytriton_client import DecoupledModelClient

        return _bridge.run_in_thread(
            functools.partial(DecoupledModelClient, *self.client_args(), **self.client_kwargs())
        )

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _bridge.run_in_thread(client.close)

    @staticmethod
    def _consume(method: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        for _ in method(**kwargs):
            pass

    def step(self) -> None:
        """Send one request and consume its whole stream."""
        intended = self.begin()
        method = getattr(self._client, self.traffic.method)
        error: BaseException | None = None
        token = self.control.started(self.traffic.name)
        try:
            _bridge.run_in_thread(self._consume, method, self.traffic.call_kwargs())
        except Exception as exc:
            error = exc
        finally:
            self.control.ended(token)
        self.finish(intended, error)


__all__ = ["DecoupledUser", "SyncUser", "encoded_requests"]
