"""Synchronous streaming front: ``DecoupledModelClient`` and the iterator of one streamed request.

Owns the client's single gRPC stream (opened on first use, reopened when the headers change,
dropped after an error or an abandoned request), the one-request-at-a-time guard and the blocking
wait for each next response within ``inference_timeout_s``. Inputs, readiness, configuration and
observer records come from ``ModelClient`` and the pure base; the stream calls from the transport.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any, cast

from pytriton_client import _transport
from pytriton_client._base import Observation
from pytriton_client._core import Array, ClientSettings, Params, debatch
from pytriton_client._sync import ModelClient
from pytriton_client._transport import InferRequest, Outputs, StreamEvent, SyncStreamTransport
from pytriton_client.exceptions import PyTritonClientInferenceServerError, PyTritonClientTimeoutError
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
    _grpc_only = True
    _transport: SyncStreamTransport

    def _setup(self, settings: ClientSettings, config: TritonModelConfig | None, ensure_ready: bool) -> None:
        super()._setup(settings, config, ensure_ready)
        self._guard = threading.Lock()
        self._events: queue.Queue[StreamEvent] = queue.Queue()
        self._stream_headers: dict[str, Any] | None = None
        self._stream_open = False

    def _connect(self, settings: ClientSettings) -> SyncStreamTransport:
        return cast(SyncStreamTransport, _transport.make_sync_transport(settings))  # gRPC only: checked

    def infer_sample(  # type: ignore[override]
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> _ResponseStream:
        """Stream one sample; yields one output dict per response (batch axis removed)."""
        return self._open(inputs, named_inputs, parameters, headers, True)

    def infer_batch(  # type: ignore[override]
        self, *inputs: Array, parameters: Params | None = None, headers: Params | None = None, **named_inputs: Array
    ) -> _ResponseStream:
        """Stream a batch; yields one output dict per response."""
        return self._open(inputs, named_inputs, parameters, headers, False)

    def _open(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], parameters: Any, headers: Any, sample: bool
    ) -> _ResponseStream:
        self._check_open()
        if not self._guard.acquire(blocking=False):
            raise PyTritonClientInferenceServerError(
                "Inference is already in progress: finish or close the previous iterator first "
                "(or use one DecoupledModelClient per concurrent stream)."
            )
        seen = self._observe(sample)
        try:
            planner = self._check_call(args, kwargs, parameters, headers) or self._initialize()
            request = self._plan(planner, args, kwargs, parameters, headers, sample)
        except BaseException as error:
            self._guard.release()
            seen.failed(error)
            raise
        return _ResponseStream(self, request, seen, sample and planner.batching)

    def _ensure_stream(self, headers: dict[str, Any] | None) -> None:
        if self._stream_open and headers == self._stream_headers:
            return
        if self._stream_open:
            self._drop_stream(cancel=False)
        events: queue.Queue[StreamEvent] = queue.Queue()
        self._events = events
        self._transport.start_stream(events.put, headers)
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

    def __init__(self, client: DecoupledModelClient, request: InferRequest, seen: Observation, debatched: bool) -> None:
        self._client = client
        self._request = request
        self._seen = seen
        self._debatch = debatched
        self._started = False
        self._done = False
        self._released = False

    def __iter__(self) -> _ResponseStream:
        return self

    def __next__(self) -> Outputs:
        if self._done:
            raise StopIteration
        client = self._client
        settings = client._settings
        try:
            if not self._started:
                self._started = True
                client._check_open()
                self._seen.sent(self._request, stream=True)
                client._ensure_stream(self._request.headers)
                client._transport.send_stream(self._request)
            while True:
                try:
                    event = client._events.get(timeout=settings.inference_timeout_s)
                except queue.Empty:
                    raise PyTritonClientTimeoutError(
                        f"Timeout while waiting for model {settings.model_name} to return its next response "
                        f"({settings.inference_timeout_s:g} s)"
                    ) from None
                if event.error is not None:
                    raise client._stream_error(event.error) from event.error
                if event.request_id != self._request.request_id:
                    continue  # a late response of an earlier, abandoned request
                if event.final and not event.outputs:
                    self._finish(None, cancel=False)
                    raise StopIteration
                self._done = event.final
                self._seen.response(event.outputs)
                if self._done:
                    self._finish(None, cancel=False)
                return debatch(event.outputs) if self._debatch else event.outputs
        except StopIteration:
            raise
        except BaseException as error:
            self._finish(error, cancel=True)
            raise

    def _finish(self, error: BaseException | None, *, cancel: bool, cancelled: bool = False) -> None:
        self._done = True
        if self._released:  # already finished; here again because the observer raised
            return
        self._released = True
        client = self._client
        if cancel:
            client._drop_stream(cancel=True)
        client._guard.release()
        if self._started:
            self._seen.finished(error, cancelled=cancelled)

    def close(self) -> None:
        """Stop consuming: cancels the request on the server when it has not finished."""
        if not self._done:
            self._finish(None, cancel=self._started, cancelled=self._started)

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            with contextlib.suppress(Exception):
                self.close()


__all__ = ["DecoupledModelClient"]
