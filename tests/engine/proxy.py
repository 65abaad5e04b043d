"""Test helper: a TCP forwarder in front of Triton's HTTP port that counts the inference requests sent.

It counts every ``POST /v2/models/<model>/`` line a client sends, as it reads it and before it is
forwarded, so the count is what the clients sent, whether or not the server was there to answer:
when the server is gone, each request is read and counted, then its connection is closed (the
client sees the connection drop, as it would with the server itself). Runs its own asyncio loop in
a thread; stops only what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CountingForwarder:
    """Listens on 127.0.0.1 (``port``), forwards to ``127.0.0.1:target_port``, counts ``POST /v2/models/<model>/``."""

    def __init__(self, target_port: int, model: str) -> None:
        self._target_port = target_port
        self._pattern = f"POST /v2/models/{model}/".encode()
        self._lock = threading.Lock()
        self._count = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def requests(self) -> int:
        """Inference requests the clients sent so far."""
        with self._lock:
            return self._count

    def start(self) -> CountingForwarder:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def _counted(self, tail: bytes, data: bytes) -> bytes:
        """Count the pattern in ``tail + data`` (``tail``: the end of the previous chunk); returns the new tail."""
        window = tail + data
        found = window.count(self._pattern)
        if found:
            with self._lock:
                self._count += found
        # Keep what could begin a pattern split across two reads: too short to hold a counted one.
        return window[-(len(self._pattern) - 1) :]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        back: asyncio.Task[None] | None = None
        tail = b""
        try:
            while data := await reader.read(65536):
                tail = self._counted(tail, data)
                if upstream is None or upstream.is_closing():
                    try:
                        up_reader, upstream = await asyncio.open_connection("127.0.0.1", self._target_port)
                    except OSError:
                        return  # the server is gone: this request was counted; drop the connection
                    back = asyncio.ensure_future(self._pipe_back(up_reader, writer))
                upstream.write(data)
                await upstream.drain()
        except (OSError, asyncio.CancelledError):
            return
        finally:
            if upstream is not None:
                upstream.close()
            if back is not None:
                back.cancel()
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def _pipe_back(self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()  # the server hung up: so does the forwarder

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
