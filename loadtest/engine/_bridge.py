"""Bridges between the gevent hub (where Locust users run) and real threads / an asyncio loop.

Owns the ways a user greenlet waits without blocking the hub: on a blocking call moved to gevent's
native thread pool, on a ``concurrent.futures.Future`` completed by another thread, and on a coroutine
run by the per-process asyncio loop thread (a ``sync`` gRPC user does not wait per request: its thread
runs the whole loop, ``users._thread_loop``). Completions from other threads reach the
hub only through ``loop.run_callback_threadsafe``; gevent objects are never touched from another
thread. Knows nothing about Triton, Locust or recording.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import gevent
import gevent.event

T = TypeVar("T")


def run_in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run a blocking ``function(*args)`` in gevent's native thread pool; the greenlet waits.

    An exception raised by ``function`` is re-raised in the waiting greenlet. It never reaches the
    hub's error handler, which would print its traceback to stderr, also when nobody waits any more
    (the greenlet was killed while the call went on in its thread).
    """
    outcome: tuple[bool, Any] = gevent.get_hub().threadpool.apply(_capture, (function, args))
    succeeded, value = outcome
    if not succeeded:
        raise value
    result: T = value
    return result


def _capture(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    try:
        return True, function(*args)
    except Exception as exc:
        return False, exc


def ensure_thread_pool(size: int) -> None:
    """Make gevent's native thread pool hold at least ``size`` threads."""
    pool = gevent.get_hub().threadpool
    pool.maxsize = max(pool.maxsize, size)


class ThreadWaker:
    """Lets any thread wake a greenlet: ``notify()`` (from anywhere) sets :attr:`event` in the hub.

    Built on a libev async watcher, which is safe to signal from other threads and keeps the hub's
    loop alive while a greenlet waits for another thread. Call :meth:`close` when done.
    """

    def __init__(self) -> None:
        self.event = gevent.event.Event()
        self._watcher = gevent.get_hub().loop.async_()
        self._watcher.start(self.event.set)

    def notify(self, _: Any = None) -> None:
        """Wake the waiting greenlet; callable from any thread, any number of times."""
        self._watcher.send()

    def close(self) -> None:
        """Release the watcher."""
        self._watcher.stop()
        self._watcher.close()


def wait_future(future: concurrent.futures.Future[T], timeout_s: float | None = None) -> T:
    """Wait cooperatively for a future that another thread completes; returns its result.

    Raises:
        TimeoutError: ``timeout_s`` passed first (the future goes on; nobody waits for it any more).
    """
    if not future.done():
        waker = ThreadWaker()
        try:
            future.add_done_callback(waker.notify)
            if not waker.event.wait(timeout_s):
                raise TimeoutError(f"no result within {timeout_s:g} s")
        finally:
            waker.close()
    return future.result()


class AsyncioLoopThread:
    """One asyncio event loop running in its own OS thread (uvloop when installed).

    Usage::

        loop = AsyncioLoopThread().start()
        result = loop.run(some_coroutine())   # from a greenlet: waits cooperatively
        loop.stop()
    """

    def __init__(self, name: str = "tritonload-asyncio") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (after :meth:`start`)."""
        if self._loop is None:
            raise RuntimeError("the asyncio loop thread is not started")
        return self._loop

    def start(self) -> AsyncioLoopThread:
        """Start the thread and its loop; returns ``self`` once the loop runs."""
        if self._thread is not None:
            return self
        try:
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        ready = threading.Event()

        def _main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=_main, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the loop; returns a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and wait for it cooperatively (from a greenlet)."""
        return wait_future(self.submit(coroutine))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the loop and join its thread; safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        thread.join(timeout_s)
