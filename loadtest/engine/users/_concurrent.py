"""Users that keep several requests outstanding: ``futures``, ``asyncio`` and ``asyncio-decoupled``.

Owns the top-up-and-collect loop: a user starts requests until ``in_flight`` are outstanding (one at a
time in open loop, where tickets pace it), then waits in the hub until another thread completes at
least one (``_bridge.ThreadWaker``), and records every finished one. Subclasses say only how one
request is started: on a ``FuturesModelClient``'s threads, or as a coroutine on the process's asyncio
loop thread.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import AsyncIterator
from typing import Any

from locust.env import Environment
from locust.exception import StopUser

from loadtest.engine import _bridge
from loadtest.engine.users._base import TritonUser


class ConcurrentUser(TritonUser):
    """Keeps up to ``in_flight`` requests outstanding; completions wake the user through the hub."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._waker = _bridge.ThreadWaker()
        self._pending: dict[concurrent.futures.Future[Any], tuple[int | None, int]] = {}
        """Outstanding request -> (intended start, run-control token)."""

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        """Start one request; returns a future completed by another thread."""
        raise NotImplementedError

    def step(self) -> None:
        """Top up the outstanding requests, then wait for at least one to finish."""
        limit = 1 if self.traffic.open_loop else max(self.traffic.in_flight, 1)
        while len(self._pending) < limit:
            try:
                intended = self.begin()
            except StopUser:
                if not self._pending:
                    raise
                break
            future = self.submit(self.traffic.call_kwargs())
            self._pending[future] = (intended, self.control.started(self.traffic.name))
            future.add_done_callback(self._waker.notify)
        self._collect()

    def drain(self) -> None:
        while self._pending:
            self._collect()

    def _collect(self) -> None:
        """Wait until at least one outstanding request is done, then record every finished one."""
        self._waker.event.wait()
        self._waker.event.clear()
        for future in [f for f in self._pending if f.done()]:
            intended, token = self._pending.pop(future)
            self.control.ended(token)
            self.finish(intended, future.exception())

    def on_stop(self) -> None:
        for future, (_, token) in self._pending.items():
            future.cancel()
            self.control.ended(token)
        self._pending.clear()
        self._waker.close()
        super().on_stop()


class FuturesUser(ConcurrentUser):
    """``futures`` pattern: a ``FuturesModelClient`` with ``in_flight`` worker threads."""

    abstract = True

    def open_client(self) -> Any:
        from pytriton_client import FuturesModelClient

        workers = max(self.traffic.in_flight, 1)
        kwargs = self.client_kwargs(preconfigured=False)
        return FuturesModelClient(*self.client_args(), max_workers=workers, max_queue_size=workers, **kwargs)

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _bridge.run_in_thread(client.close)

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = getattr(self._client, self.traffic.method)(**kwargs)
        return future


class _LoopUser(ConcurrentUser):
    """A user whose client lives on the process's asyncio loop thread."""

    abstract = True

    def loop(self) -> _bridge.AsyncioLoopThread:
        loop_thread: _bridge.AsyncioLoopThread | None = self.control.loop_thread
        if loop_thread is None:
            raise RuntimeError(f"{self.traffic.pattern.name} traffic needs the run's asyncio loop thread")
        return loop_thread

    def open_client(self) -> Any:
        from pytriton_client import AsyncioDecoupledModelClient, AsyncioModelClient

        client_class = AsyncioDecoupledModelClient if self.traffic.pattern.streams else AsyncioModelClient
        args, kwargs = self.client_args(), self.client_kwargs()

        async def _make() -> Any:  # the client binds to the loop it is created on
            return client_class(*args, **kwargs)

        return self.loop().run(_make())

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self.loop().run(client.close())


class AsyncioUser(_LoopUser):
    """``asyncio`` pattern: an ``AsyncioModelClient`` with ``in_flight`` coroutines outstanding."""

    abstract = True

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        coroutine = getattr(self._client, self.traffic.method)(**kwargs)
        return self.loop().submit(coroutine)


class AsyncioDecoupledUser(_LoopUser):
    """``asyncio-decoupled`` pattern: an ``AsyncioDecoupledModelClient`` with ``in_flight`` streams open."""

    abstract = True

    @staticmethod
    async def _consume(stream: AsyncIterator[Any]) -> None:
        async for _ in stream:
            pass

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        stream = getattr(self._client, self.traffic.method)(**kwargs)
        return self.loop().submit(self._consume(stream))


__all__ = ["AsyncioDecoupledUser", "AsyncioUser", "ConcurrentUser", "FuturesUser"]
