"""The exception hierarchy of ``pytriton_client``.

Owns every exception type a client raises for a request. Never imports a transport: errors of
``tritonclient``, gRPC, aiohttp and sockets are translated in ``_errors`` and chained as ``__cause__``.

::

    PyTritonClientError                               kind "error"
    ├── PyTritonClientValueError                      kind "invalid_input"
    │   └── PyTritonClientInvalidUrlError             kind "invalid_url"
    ├── PyTritonClientTimeoutError                    kind "timeout"
    ├── PyTritonClientConnectionError   (ours)        kind "connection"
    ├── PyTritonClientModelUnavailableError           kind "model_unavailable"
    ├── PyTritonClientClosedError                     kind "closed"
    ├── PyTritonClientModelDoesntSupportBatchingError kind "not_supported"
    ├── PyTritonClientInferenceServerError            kind "server"
    │   ├── PyTritonClientAuthorizationError (ours)   kind "unauthorized"
    │   └── PyTritonClientCancelledError    (ours)    kind "cancelled"
    └── PyTritonClientQueueFullError                  kind "queue_full"

``kind`` is a short stable string for grouping errors in reports; it never changes for a class.
"""

from __future__ import annotations

from typing import ClassVar


class PyTritonClientError(Exception):
    """Root of every error a ``pytriton_client`` client raises for a request.

    ``str(error) == error.message``; errors pickle with their type and message.
    """

    kind: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    @property
    def message(self) -> str:
        """The error message."""
        return self._message

    def __str__(self) -> str:
        return self._message


class PyTritonClientValueError(PyTritonClientError):
    """Invalid argument: an input, a parameter, a header or an option; the message names it."""

    kind = "invalid_input"


class PyTritonClientInvalidUrlError(PyTritonClientValueError):
    """The server URL cannot be used; the message says which part is wrong."""

    kind = "invalid_url"


class PyTritonClientTimeoutError(PyTritonClientError):
    """A deadline passed: waiting for the server or model, an inference, or the next streamed response."""

    kind = "timeout"


class PyTritonClientConnectionError(PyTritonClientError):
    """The server could not be reached (refused, reset, unknown host, wrong protocol); names the URL."""

    kind = "connection"


class PyTritonClientModelUnavailableError(PyTritonClientError):
    """The server does not serve the requested model or version; lists the models it does serve."""

    kind = "model_unavailable"


class PyTritonClientClosedError(PyTritonClientError):
    """The client was used after ``close()``."""

    kind = "closed"


class PyTritonClientModelDoesntSupportBatchingError(PyTritonClientError):
    """``infer_batch`` was called for a model with ``max_batch_size == 0``; use ``infer_sample``."""

    kind = "not_supported"


class PyTritonClientInferenceServerError(PyTritonClientError):
    """The server (or the model) reported an error, or the model cannot be used with this client."""

    kind = "server"


class PyTritonClientAuthorizationError(PyTritonClientInferenceServerError):
    """The server refused the call for lack of a valid access token (restricted endpoint)."""

    kind = "unauthorized"


class PyTritonClientCancelledError(PyTritonClientInferenceServerError):
    """The request was cancelled (by the client stopping a stream, or by the server)."""

    kind = "cancelled"


class PyTritonClientQueueFullError(PyTritonClientError):
    """``FuturesModelClient`` could not queue a request: its queue is full."""

    kind = "queue_full"


ERROR_KINDS: tuple[str, ...] = (
    "error",
    "invalid_input",
    "invalid_url",
    "timeout",
    "connection",
    "model_unavailable",
    "closed",
    "not_supported",
    "server",
    "unauthorized",
    "cancelled",
    "queue_full",
)
"""Every ``kind`` value an exception of this module can carry."""

__all__ = [
    "ERROR_KINDS",
    "PyTritonClientAuthorizationError",
    "PyTritonClientCancelledError",
    "PyTritonClientClosedError",
    "PyTritonClientConnectionError",
    "PyTritonClientError",
    "PyTritonClientInferenceServerError",
    "PyTritonClientInvalidUrlError",
    "PyTritonClientModelDoesntSupportBatchingError",
    "PyTritonClientModelUnavailableError",
    "PyTritonClientQueueFullError",
    "PyTritonClientTimeoutError",
    "PyTritonClientValueError",
]
