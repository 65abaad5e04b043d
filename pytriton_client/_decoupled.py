"""Synchronous streaming front: ``DecoupledModelClient`` and the iterator of one streamed request.

Owns the client's single gRPC stream (opened on first use, reopened when the headers change,
dropped after an error or an abandoned request), the one-request-at-a-time guard, the wait for each
next response within ``inference_timeout_s`` and the observer's per-stream record. Inputs, readiness
and configuration come from ``ModelClient`` and the core; the stream calls from ``_grpc``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any

import numpy as np

from pytriton_client._core import ClientSettings, debatch
from pytriton_client._inputs import PreparedInput, outputs_bytes
from pytriton_client._sync import ModelClient
from pytriton_client.exceptions import (
    PyTritonClientClosedError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
)
from pytriton_client.model_config import TritonModelConfig


class DecoupledModelClient(ModelClient):
    """Synchronous client for decoupled (streaming) models; gRPC only (an HTTP URL raises
    :class:`PyTritonClientValueError` at construction).

    ``infer_sample``/``infer_batch`` return an iterator of output dicts, one per streamed response.
    One request at a time per client (a second call before the first iterator ends raises
    :class:`PyTritonClientInferenceServerError`); leaving an iterator early (``break``, ``close()``,
    dropping it) cancels the request on the server and frees the client. Each response must arrive
    within ``inference_timeout_s`` of the previous one. Request ``parameters`` are sent with each
    request; ``headers`` become the stream's metadata (a change of headers opens a new stream).
    Not thread-safe: use one client per thread (or greenlet).

    Usage::

        client = DecoupledModelClient("grpc://localhost", "streaming_bot")
        for partial in client.infer_sample(np.array([b"AI answers to"])):
            print(partial["response"])
    """

    _client_name = "DecoupledModelClient"
    _decoupled = True

    def _check_protocol(self, settings: ClientSettings) -> None:
        if settings.url.protocol != "grpc":
            raise PyTritonClientValueError(
                f"DecoupledModelClient is only supported for grpc protocol; got {settings.url.with_scheme!r}. "
                "Use a grpc:// (or grpcs://) URL, e.g. 'grpc://localhost:8001'."
            )

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        super()._setup(settings, config, ensure_ready)
        self._guard = threading.Lock()
        self._responses: queue.Queue[tuple[Any, Any]] = queue.Queue()
        self._stream_headers: dict[str, Any] | None = None
        self._stream_open = False

    def infer_sample(  # type: ignore[override]
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> _ResponseStream:
        """Stream one sample; yields one output dict per response (batch axis removed)."""
        return self._open(inputs, named_inputs, parameters, headers, True)

    def infer_batch(  # type: ignore[override]
        self,
        *inputs: np.ndarray,
        parameters: dict[str, str | int | bool] | None = None,
        headers: dict[str, str | int | bool] | None = None,
        **named_inputs: np.ndarray,
    ) -> _ResponseStream:
        """Stream a batch; yields one output dict per response."""
        return self._open(inputs, named_inputs, parameters, headers, False)

    def _open(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> _ResponseStream:
        if self._closed:
            raise PyTritonClientClosedError(f"{self._client_name} is closed")
        if not self._guard.acquire(blocking=False):
            raise PyTritonClientInferenceServerError(
                "Inference is already in progress: finish or close the previous iterator first "
                "(or use one DecoupledModelClient per concurrent stream)."
            )
        start_ns = time.perf_counter_ns()
        try:
            planner, prepared, merged = self._prepare(args, kwargs, parameters, headers, sample)
        except BaseException as error:
            self._guard.release()
            if self._settings.observer is not None and isinstance(error, PyTritonClientError):
                self._settings.observer(self._record(sample, start_ns, error, None, None))
            raise
        return _ResponseStream(self, prepared, parameters, merged, sample, sample and planner.batching)

    def _on_response(self, result: Any, error: Any) -> None:
        self._responses.put((result, error))

    def _ensure_stream(self, headers: dict[str, Any] | None) -> None:
        if self._stream_open and headers == self._stream_headers:
            return
        if self._stream_open:
            self._drop_stream(cancel=False)
        self._responses = queue.Queue()
        self._transport.start_stream(self._on_response, headers)
        self._stream_open, self._stream_headers = True, headers

    def _drop_stream(self, *, cancel: bool) -> None:
        if self._stream_open:
            self._stream_open = False
            self._transport.stop_stream(cancel=cancel)

    def close(self) -> None:
        """Cancel an active stream, then close the connection; idempotent."""
        if self._closed:
            return
        self._drop_stream(cancel=True)
        super().close()


class _ResponseStream:
    """Iterator over the responses of one decoupled request; ``close()`` cancels it."""

    def __init__(
        self,
        client: DecoupledModelClient,
        prepared: list[PreparedInput],
        parameters: dict[str, Any] | None,
        headers: dict[str, Any] | None,
        sample: bool,
        debatch_outputs: bool,
    ) -> None:
        self._client = client
        self._prepared = prepared
        self._parameters = parameters
        self._headers = headers
        self._sample = sample
        self._debatch = debatch_outputs
        self._request_id = str(next(client._ids))
        self._started = False
        self._done = False
        self._start_ns = 0
        self._arrivals: list[int] = []
        self._bytes_received = 0

    def __iter__(self) -> _ResponseStream:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self._done:
            raise StopIteration
        client = self._client
        settings = client._settings
        try:
            if not self._started:
                self._started = True
                client._check_open()
                self._start_ns = time.perf_counter_ns()
                client._ensure_stream(self._headers)
                client._transport.send_stream(
                    settings.model_name, settings.model_version, self._prepared, self._request_id, self._parameters
                )
            while True:
                try:
                    result, error = client._responses.get(timeout=settings.inference_timeout_s)
                except queue.Empty:
                    raise PyTritonClientTimeoutError(
                        f"Timeout while waiting for model {settings.model_name} to return its next response "
                        f"({settings.inference_timeout_s:g} s)"
                    ) from None
                if error is not None:
                    from pytriton_client._errors import translate

                    raise translate(
                        error,
                        settings.url.with_scheme,
                        f"streaming inference on model {settings.model_name!r}",
                        settings.inference_timeout_s,
                    ) from error
                from pytriton_client._grpc import grpc_outputs, is_final

                response = result.get_response()
                if response.id != self._request_id:
                    continue  # a late response of an earlier, abandoned request
                outputs = grpc_outputs(result)
                final = is_final(result)
                if final and not outputs:
                    self._finish(None, cancel=False)
                    raise StopIteration
                if final:
                    self._done = True
                if settings.observer is not None:
                    self._arrivals.append(time.perf_counter_ns())
                    self._bytes_received += outputs_bytes(outputs)
                if self._done:
                    self._finish(None, cancel=False)
                return debatch(outputs) if self._debatch else outputs
        except StopIteration:
            raise
        except BaseException as error:
            self._finish(error, cancel=True)
            raise

    def _finish(self, error: BaseException | None, *, cancel: bool, cancelled: bool = False) -> None:
        self._done = True
        client = self._client
        if cancel:
            client._drop_stream(cancel=True)
        client._guard.release()
        observer = client._settings.observer
        if observer is not None and self._started:
            record = client._record(
                self._sample, self._start_ns, error, self._prepared, None, tuple(self._arrivals), cancelled
            )
            record.bytes_received = self._bytes_received
            observer(record)

    def close(self) -> None:
        """Stop consuming: cancels the request on the server when it has not finished."""
        if not self._done:
            self._finish(None, cancel=self._started, cancelled=self._started)

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            with contextlib.suppress(Exception):
                self.close()


__all__ = ["DecoupledModelClient"]
