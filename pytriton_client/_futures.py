"""Thread-pool front: ``FuturesModelClient``.

Owns the request queue, the worker threads (each with its own ``ModelClient``, created in that
thread because gevent-based HTTP connections are bound to their thread) and the futures. Worker
threads are daemons, so a forgotten client never keeps the interpreter alive. Submission never
waits for initialisation. No I/O of its own: workers call ``ModelClient``.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future
from typing import Any

from pytriton_client._core import Array, ClientSettings, ClosingContext, Params, make_settings
from pytriton_client._sync import ModelClient
from pytriton_client.exceptions import PyTritonClientClosedError, PyTritonClientQueueFullError
from pytriton_client.model_config import TritonModelConfig
from pytriton_client.observer import RequestObserver

_STOP = object()


class FuturesModelClient(ClosingContext):
    """Runs requests on a pool of worker threads and returns ``concurrent.futures.Future`` objects.

    Submission methods may be called from many threads at once. Each worker uses its own
    :class:`ModelClient`; the model configuration is fetched once and shared.

    Usage::

        with FuturesModelClient("grpc://localhost", "Linear", max_workers=8) as client:
            futures = [client.infer_sample(x) for x in samples]
            results = [f.result() for f in futures]

    Args:
        url: server URL (see :class:`ModelClient`); checked here, at construction.
        model_name: model name on the server.
        model_version: version as a string; ``None`` for the latest.
        max_workers: most worker threads (``None``: no limit); started only as work arrives.
        max_queue_size: most requests waiting for a worker (``None``: no limit).
        non_blocking: when the queue is full, raise :class:`PyTritonClientQueueFullError` at once
            instead of waiting (up to ``inference_timeout_s`` when set, else indefinitely).
        init_timeout_s: as for ``ModelClient``.
        inference_timeout_s: as for ``ModelClient``; also bounds the wait for queue space.
        access_token: as for ``ModelClient``.
        tls_ca_file: as for ``ModelClient``.
        tls_cert_file: as for ``ModelClient``.
        tls_key_file: as for ``ModelClient``.
        tls_verify: as for ``ModelClient``.
        observer: as for ``ModelClient``.

    Raises:
        ValueError: ``max_workers`` or ``max_queue_size`` is not positive.
    """

    def __init__(
        self,
        url: str,
        model_name: str,
        model_version: str | None = None,
        *,
        max_workers: int | None = 128,
        max_queue_size: int | None = 128,
        non_blocking: bool = False,
        init_timeout_s: float | None = None,
        inference_timeout_s: float | None = None,
        access_token: str | None = None,
        tls_ca_file: str | os.PathLike[str] | None = None,
        tls_cert_file: str | os.PathLike[str] | None = None,
        tls_key_file: str | os.PathLike[str] | None = None,
        tls_verify: bool = True,
        observer: RequestObserver | None = None,
    ) -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if max_queue_size is not None and max_queue_size <= 0:
            raise ValueError("max_queue_size must be greater than 0")
        self._settings: ClientSettings = make_settings(
            url,
            model_name,
            model_version,
            init_timeout_s=init_timeout_s,
            inference_timeout_s=inference_timeout_s,
            access_token=access_token,
            tls_ca_file=tls_ca_file,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            tls_verify=tls_verify,
            observer=observer,
        )
        self._put_timeout_s = inference_timeout_s
        self._max_workers = max_workers
        self._non_blocking = non_blocking
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue_size or 0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._config: TritonModelConfig | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._threads)} workers"
        return (
            f"FuturesModelClient(url={self._settings.url.with_scheme!r}, model={self._settings.model_name!r}, {state})"
        )

    # -- submission ---------------------------------------------------------------------------------
    def infer_sample(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> Future[dict[str, Array]]:
        """Queue one sample; the future gives what ``ModelClient.infer_sample`` returns or raises."""
        return self._submit("infer_sample", inputs, {"parameters": parameters, "headers": headers, **named_inputs})

    def infer_batch(
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> Future[dict[str, Array]]:
        """Queue a batch; the future gives what ``ModelClient.infer_batch`` returns or raises."""
        return self._submit("infer_batch", inputs, {"parameters": parameters, "headers": headers, **named_inputs})

    def model_config(self) -> Future[TritonModelConfig]:
        """Future of the model configuration."""
        return self._submit("model_config", (), {})

    def wait_for_model(self, timeout_s: float) -> Future[None]:
        """Future that completes when the model is ready (or fails with a timeout)."""
        return self._submit("wait_for_model", (timeout_s,), {})

    def _submit(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[Any]:
        if self._closed:
            raise PyTritonClientClosedError("FutureModelClient is already closed")
        future: Future[Any] = Future()
        item = (future, method, args, kwargs)
        try:
            if self._non_blocking:
                self._queue.put_nowait(item)
            else:
                self._queue.put(item, timeout=self._put_timeout_s)
        except queue.Full:
            raise PyTritonClientQueueFullError("Queue is full") from None
        self._maybe_add_worker()
        return future

    def _maybe_add_worker(self) -> None:
        with self._lock:
            if (
                self._closed
                or self._idle > 0
                or (self._max_workers is not None and len(self._threads) >= self._max_workers)
            ):
                return
            thread = threading.Thread(target=self._work, name=f"FuturesModelClient-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            self._idle += 1
        thread.start()

    # -- workers ------------------------------------------------------------------------------------
    def _work(self) -> None:
        client: ModelClient | None = None
        try:
            while True:
                item = self._queue.get()
                with self._lock:
                    self._idle -= 1
                if item is _STOP:
                    return
                future, method, args, kwargs = item
                if future.set_running_or_notify_cancel():
                    if client is None:
                        client = ModelClient._from_settings(self._settings, self._config)
                    try:
                        if method == "model_config":
                            result: Any = client.model_config
                        else:
                            result = getattr(client, method)(*args, **kwargs)
                    except BaseException as error:
                        self._share_config(client)
                        future.set_exception(error)
                    else:
                        self._share_config(client)
                        future.set_result(result)
                with self._lock:
                    self._idle += 1
        finally:
            if client is not None:
                client.close()

    def _share_config(self, client: ModelClient) -> None:
        """Keep the first fetched config for workers started later (before the caller can submit more)."""
        if self._config is None and client._planner is not None:
            self._config = client._config

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self, wait: bool = True) -> None:
        """Stop accepting work (later submissions raise :class:`PyTritonClientClosedError` at once); queued
        requests still run. ``wait`` blocks until the workers finish.
        """
        with self._lock:
            if self._closed:
                threads: list[threading.Thread] = []
            else:
                self._closed = True
                threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()


__all__ = ["FuturesModelClient"]
