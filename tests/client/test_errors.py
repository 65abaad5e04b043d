"""Error translation (pure): every transport status and exception type maps to one client error."""

from __future__ import annotations

import asyncio
import http.client
import socket

import pytest
from tritonclient.utils import InferenceServerException

from pytriton_client._errors import translate
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


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("StatusCode.DEADLINE_EXCEEDED", PyTritonClientTimeoutError),
        ("StatusCode.UNAVAILABLE", PyTritonClientConnectionError),
        ("StatusCode.NOT_FOUND", PyTritonClientModelUnavailableError),
        ("404", PyTritonClientModelUnavailableError),
        ("StatusCode.UNAUTHENTICATED", PyTritonClientAuthorizationError),
        ("StatusCode.PERMISSION_DENIED", PyTritonClientAuthorizationError),
        ("401", PyTritonClientAuthorizationError),
        ("403", PyTritonClientAuthorizationError),
        ("StatusCode.CANCELLED", PyTritonClientCancelledError),
        ("StatusCode.INVALID_ARGUMENT", PyTritonClientInferenceServerError),
        ("StatusCode.INTERNAL", PyTritonClientInferenceServerError),
        ("400", PyTritonClientInferenceServerError),
        ("500", PyTritonClientInferenceServerError),
        (None, PyTritonClientInferenceServerError),
    ],
)
def test_server_statuses(status: str | None, expected: type[PyTritonClientError]) -> None:
    original = InferenceServerException(msg="boom", status=status)
    error = translate(original, "grpc://h:1", "inference on model 'M'", 2.0)
    assert type(error) is expected
    assert "boom" in str(error)


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), PyTritonClientConnectionError),
        (ConnectionResetError(104, "reset"), PyTritonClientConnectionError),
        (socket.gaierror(-2, "Name or service not known"), PyTritonClientConnectionError),
        (http.client.HTTPException("Expected HTTP/"), PyTritonClientConnectionError),
        (TimeoutError("timed out"), PyTritonClientTimeoutError),
        (asyncio.TimeoutError(), PyTritonClientTimeoutError),
        (ValueError("bad"), PyTritonClientValueError),
        (RuntimeError("odd"), PyTritonClientInferenceServerError),
    ],
)
def test_python_exceptions(original: BaseException, expected: type[PyTritonClientError]) -> None:
    error = translate(original, "http://h:1", "the server readiness check", 1.5)
    assert type(error) is expected
    assert "http://h:1" in str(error)


def test_gevent_timeout_is_a_timeout() -> None:
    import gevent

    assert type(translate(gevent.Timeout(1), "http://h:1", "x", 1.0)) is PyTritonClientTimeoutError


def test_client_errors_pass_through_unchanged() -> None:
    original = PyTritonClientValueError("mine")
    assert translate(original, "http://h:1", "x") is original


def test_restricted_grpc_api_is_an_authorization_error_not_a_connection_error() -> None:
    """Triton reports a missing gRPC token as UNAVAILABLE, like an unreachable server."""
    original = InferenceServerException(
        msg="This protocol is restricted, expecting header 'triton-grpc-protocol-triton-access-token'",
        status="StatusCode.UNAVAILABLE",
    )
    assert type(translate(original, "grpc://h:1", "x", 1.0)) is PyTritonClientAuthorizationError
