"""Translate transport exceptions into ``pytriton_client`` exceptions, in one place.

Owns the mapping from ``tritonclient.utils.InferenceServerException`` status codes (HTTP status or
gRPC ``StatusCode``), socket/OS errors and timeouts to the hierarchy in ``exceptions``. Never maps
by message text; the original exception always becomes ``__cause__``. Imports no transport module.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
from typing import Any

from pytriton_client.exceptions import (
    PyTritonClientAuthorizationError,
    PyTritonClientCancelledError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
)

_GRPC_RESTRICTED = "This protocol is restricted"
_BY_STATUS: dict[str, type[PyTritonClientError]] = {
    "DEADLINE_EXCEEDED": PyTritonClientTimeoutError,
    "UNAVAILABLE": PyTritonClientConnectionError,
    "NOT_FOUND": PyTritonClientModelUnavailableError,
    "404": PyTritonClientModelUnavailableError,
    "UNAUTHENTICATED": PyTritonClientAuthorizationError,
    "PERMISSION_DENIED": PyTritonClientAuthorizationError,
    "401": PyTritonClientAuthorizationError,
    "403": PyTritonClientAuthorizationError,
    "CANCELLED": PyTritonClientCancelledError,
    "499": PyTritonClientCancelledError,
    "408": PyTritonClientTimeoutError,
    "504": PyTritonClientTimeoutError,
}


def status_name(status: Any) -> str:
    """``"StatusCode.NOT_FOUND"`` → ``"NOT_FOUND"``; HTTP codes stay as digits."""
    text = str(getattr(status, "name", status) or "")
    return text.rsplit(".", 1)[-1]


def is_timeout(exc: BaseException) -> bool:
    """Socket, asyncio and gevent timeouts (gevent's ``Timeout`` is recognised by type name only)."""
    return isinstance(exc, TimeoutError | socket.timeout | asyncio.TimeoutError) or type(exc).__name__ == "Timeout"


def translate(exc: BaseException, url: str, action: str, timeout_s: float | None = None) -> PyTritonClientError:
    """The client error for ``exc`` raised while doing ``action`` (e.g. ``"inference on model 'Linear'"``).

    The caller raises the result ``from exc``.
    """
    if isinstance(exc, PyTritonClientError):
        return exc
    status_of = getattr(exc, "status", None)
    if callable(status_of) and type(exc).__name__ == "InferenceServerException":
        status = status_name(status_of())
        message_of = getattr(exc, "message", None)
        message = str(message_of()) if callable(message_of) else str(exc)
        cls = _BY_STATUS.get(status, PyTritonClientInferenceServerError)
        if status == "UNAVAILABLE" and message.startswith(_GRPC_RESTRICTED):
            # Triton answers a restricted gRPC API with UNAVAILABLE, the very code of an unreachable server, and
            # gRPC gives no other sign that the server answered: its fixed text is the only signal left.
            cls = PyTritonClientAuthorizationError
        if cls is PyTritonClientTimeoutError:
            return cls(f"Timeout during {action} on {url} (timeout {timeout_s:g} s): {message}")
        if cls is PyTritonClientConnectionError:
            return cls(f"Could not reach {url} during {action}: {message}")
        if cls is PyTritonClientAuthorizationError:
            return cls(f"The server at {url} refused {action}: {message}. Pass a valid access_token.")
        return cls(f"Error occurred during {action} ({url}). Message: {message}")
    if is_timeout(exc):
        limit = f" (timeout {timeout_s:g} s)" if timeout_s is not None else ""
        return PyTritonClientTimeoutError(f"Timeout occurred during {action} on {url}{limit}.")
    if isinstance(exc, OSError | http.client.HTTPException | EOFError):
        return PyTritonClientConnectionError(
            f"Could not reach {url} during {action}: {type(exc).__name__}: {exc}. "
            "Check that Triton is running there and that the URL's scheme and port are right."
        )
    if isinstance(exc, ValueError | TypeError):
        return PyTritonClientValueError(f"Invalid request for {action} ({url}): {exc}")
    return PyTritonClientInferenceServerError(f"Error occurred during {action} ({url}): {type(exc).__name__}: {exc}")


__all__ = ["is_timeout", "status_name", "translate"]
