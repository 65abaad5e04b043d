"""One blocking face for every client front, so one behaviour suite runs against all of them.

``sync`` is ``ModelClient``; ``futures`` is ``FuturesModelClient`` (results through ``Future.result``);
``asyncio`` is ``AsyncioModelClient`` driven from a dedicated event-loop thread, as the load-test
harness drives it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from pytriton_client import AsyncioModelClient, FuturesModelClient, ModelClient

FRONTS = ("sync", "futures", "asyncio")


class LoopThread:
    """An asyncio event loop running in its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class Handle:
    """A client of any front, called synchronously."""

    def __init__(self, front: str, client: Any, loop: LoopThread | None) -> None:
        self.front = front
        self.client = client
        self._loop = loop

    def infer_sample(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._call("infer_sample", args, kwargs)

    def infer_batch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._call("infer_batch", args, kwargs)

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        func = getattr(self.client, method)
        if self.front == "futures":
            return func(*args, **kwargs).result(60)
        if self.front == "asyncio":
            assert self._loop is not None
            return self._loop.run(func(*args, **kwargs))
        return func(*args, **kwargs)

    @property
    def model_config(self) -> Any:
        if self.front == "futures":
            return self.client.model_config().result(60)
        if self.front == "asyncio":
            assert self._loop is not None

            async def get() -> Any:
                return await self.client.model_config

            return self._loop.run(get())
        return self.client.model_config

    def wait_for_model(self, timeout_s: float) -> None:
        self._call("wait_for_model", (timeout_s,), {})

    def wait_for_server(self, timeout_s: float) -> None:
        """Not on ``FuturesModelClient`` (nor in the reference)."""
        self._call("wait_for_server", (timeout_s,), {})

    def load_model(self, config: str | None = None, files: dict[str, bytes] | None = None) -> None:
        """Not on ``FuturesModelClient`` (nor in the reference)."""
        self._call("load_model", (), {"config": config, "files": files})

    def unload_model(self) -> None:
        """Not on ``FuturesModelClient`` (nor in the reference)."""
        self._call("unload_model", (), {})

    def close(self) -> None:
        if self.front == "asyncio":
            assert self._loop is not None
            self._loop.run(self.client.close())
        else:
            self.client.close()


class Fronts:
    """Creates clients of one front; closes them all at the end of a test."""

    def __init__(self, front: str) -> None:
        self.front = front
        self._loop = LoopThread() if front == "asyncio" else None
        self._handles: list[Handle] = []

    def make(self, url: str, model: str, **kwargs: Any) -> Handle:
        if self.front == "sync":
            client: Any = ModelClient(url, model, **kwargs)
        elif self.front == "futures":
            for unsupported in ("lazy_init", "model_config", "ensure_model_is_ready"):
                kwargs.pop(unsupported, None)
            client = FuturesModelClient(url, model, **kwargs)
        else:
            assert self._loop is not None

            async def create() -> Any:
                return AsyncioModelClient(url, model, **kwargs)

            client = self._loop.run(create())
        handle = Handle(self.front, client, self._loop)
        self._handles.append(handle)
        return handle

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        if self._loop is not None:
            self._loop.stop()
