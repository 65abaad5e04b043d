"""Users whose request blocks until it is done: ``sync`` and ``decoupled``.

Owns how a blocking call waits without blocking the gevent hub: ``sync`` over HTTP runs in the hub
(tritonclient's HTTP client is gevent-native); ``sync`` over gRPC and every ``decoupled`` stream run in
gevent's native thread pool. Recording is the base user's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from loadtest.engine import _bridge
from loadtest.engine.users._base import TritonUser


class SyncUser(TritonUser):
    """``sync`` pattern: one blocking request at a time on a ``ModelClient``."""

    abstract = True
    _in_thread = False

    def open_client(self) -> Any:
        from pytriton_client import ModelClient

        make = functools.partial(ModelClient, *self.client_args(), **self.client_kwargs())
        self._in_thread = self.traffic.client.protocol == "grpc"
        return _bridge.run_in_thread(make) if self._in_thread else make()

    def step(self) -> None:
        """Send one request and wait for it."""
        intended = self.begin()
        method = getattr(self._client, self.traffic.method)
        kwargs = self.traffic.call_kwargs()
        error: BaseException | None = None
        token = self.control.started(self.traffic.name)
        try:
            if self._in_thread:
                _bridge.run_in_thread(functools.partial(method, **kwargs))
            else:
                method(**kwargs)
        except Exception as exc:  # recorded through the observer (or synthesised by finish)
            error = exc
        finally:
            self.control.ended(token)
        self.finish(intended, error)


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


__all__ = ["DecoupledUser", "SyncUser"]
