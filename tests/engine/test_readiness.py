"""Waiting for a server before the run (loadtest.engine.readiness): a fake clock, no server, no sleep."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

import pytest

from loadtest.engine.readiness import CHECK_S, FIRST_CHECK_S, NotReadyError, Watch, wait_until_ready, waiting_reason
from pytriton_client import (
    PyTritonClientAuthorizationError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientInvalidUrlError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
)

URL = "http://127.0.0.1:9"


class InferenceServerException(Exception):
    """Stands in for tritonclient's exception: only its text matters here."""


def caused(error: PyTritonClientError, cause: BaseException) -> PyTritonClientError:
    error.__cause__ = cause
    return error


def refused() -> PyTritonClientError:
    """What the HTTP client raises for a port where nothing listens (the flow's error around the call's)."""
    inner = caused(
        PyTritonClientConnectionError(f"Could not reach {URL} during the server liveness check: refused"),
        ConnectionRefusedError(111, "Connection refused"),
    )
    return caused(PyTritonClientConnectionError(f"Server not reachable within 1 s. {inner}"), inner)


# Texts the gRPC client gave on this machine (grpcio 1.7x) for a refused port and an untrusted certificate.
GRPC_REFUSED = (
    "[StatusCode.UNAVAILABLE] failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: "
    "Failed to connect to remote host: Connection refused"
)
GRPC_UNTRUSTED = (
    "[StatusCode.UNAVAILABLE] failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:40863: "
    "Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL "
    "routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: self signed certificate in certificate chain: OK"
)
GRPC_SOCKET_CLOSED = (
    "[StatusCode.UNAVAILABLE] failed to connect to all addresses; last error: UNAVAILABLE: Socket closed"
)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (refused(), "connection refused"),
        (
            caused(PyTritonClientConnectionError("x"), socket.gaierror(-2, "Name or service not known")),
            "host name not found",
        ),
        (caused(PyTritonClientConnectionError("x"), OSError(113, "No route to host")), "no route to host"),
        (caused(PyTritonClientConnectionError("x"), InferenceServerException(GRPC_REFUSED)), "connection refused"),
        (caused(PyTritonClientConnectionError("x"), InferenceServerException(GRPC_SOCKET_CLOSED)), "unreachable"),
        (caused(PyTritonClientTimeoutError("x"), TimeoutError()), "no answer"),
        (PyTritonClientInferenceServerError("HTTP 503"), "server error"),
        # waiting cannot cure these: they end the wait at once
        (caused(PyTritonClientConnectionError("x"), InferenceServerException(GRPC_UNTRUSTED)), None),
        (
            caused(
                PyTritonClientConnectionError("x"),
                ssl.SSLCertVerificationError(1, "certificate verify failed: unable to get local issuer certificate"),
            ),
            None,
        ),
        (PyTritonClientAuthorizationError("The server refused the server liveness check"), None),
        (PyTritonClientModelUnavailableError("Model 'Lineer' is not served. Did you mean 'Linear'?"), None),
        (PyTritonClientInvalidUrlError("bad port"), None),
        (caused(PyTritonClientTimeoutError("outer"), PyTritonClientAuthorizationError("inner")), None),
    ],
    ids=[
        "refused",
        "unknown-host",
        "no-route",
        "grpc-refused",
        "grpc-socket-closed",
        "timeout",
        "server-error",
        "grpc-untrusted-certificate",
        "https-untrusted-certificate",
        "wrong-token",
        "unknown-model",
        "bad-url",
        "fatal-below-a-wait",
    ],
)
def test_waiting_reason_says_why_or_that_waiting_cannot_help(error: PyTritonClientError, reason: str | None) -> None:
    assert waiting_reason(error) == reason


class FakeTime:
    """A clock that moves only when a check or a sleep spends time."""

    def __init__(self) -> None:
        self.now_s = 100.0
        self.lines: list[str] = []
        self.calls: list[tuple[float, float]] = []  # (time of the call, timeout given)

    def watch(self, interrupted: Callable[[], bool] = lambda: False) -> Watch:
        return Watch(say=self.lines.append, interrupted=interrupted, clock=lambda: self.now_s, sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now_s += seconds

    def check(self, failures: list[PyTritonClientError], cost_s: float = 0.0) -> Callable[[float], None]:
        """Fails with each of ``failures`` in turn (each after ``cost_s``, at most its timeout), then succeeds."""

        def check(timeout_s: float) -> None:
            self.calls.append((self.now_s, timeout_s))
            if failures:
                self.now_s += min(cost_s, timeout_s)
                raise failures.pop(0)

        return check


def test_a_ready_server_is_not_waited_for_and_nothing_is_said() -> None:
    time = FakeTime()
    wait_until_ready(time.check([]), URL, 60, time.watch())
    assert time.lines == []
    assert time.calls == [(100.0, FIRST_CHECK_S)]


def test_a_server_that_starts_late_is_waited_for_with_a_line_a_second() -> None:
    time = FakeTime()
    wait_until_ready(time.check([refused() for _ in range(4)]), URL, 60, time.watch())
    assert time.lines == [
        f"waiting for {URL} (connection refused), 60 s left",
        f"waiting for {URL} (connection refused), 59 s left",
        f"waiting for {URL} (connection refused), 58 s left",
        f"waiting for {URL} (connection refused), 57 s left",
    ]
    starts = [at for at, _ in time.calls]
    assert starts == pytest.approx([100.0, 100.0 + FIRST_CHECK_S, 101.0 + FIRST_CHECK_S, 102.0 + FIRST_CHECK_S, 103.25])
    assert [timeout for _, timeout in time.calls] == [FIRST_CHECK_S, CHECK_S, CHECK_S, CHECK_S, CHECK_S]


def test_a_server_that_never_comes_fails_within_the_timeout_naming_url_and_reason() -> None:
    time = FakeTime()
    with pytest.raises(NotReadyError) as raised:
        wait_until_ready(time.check([refused() for _ in range(100)], cost_s=1.0), URL, 5, time.watch())
    message = str(raised.value)
    assert message.startswith(f"{URL} was not ready within 5 s (connection refused); last error: Could not reach")
    assert "Server not reachable within 1 s" not in message  # the wait's own bound says nothing to the user
    assert time.now_s - 100.0 <= 5.0
    assert len(time.lines) == 5 and time.lines[-1].endswith("1 s left")


def test_a_check_never_gets_more_time_than_is_left() -> None:
    time = FakeTime()
    with pytest.raises(NotReadyError):
        wait_until_ready(time.check([refused() for _ in range(100)], cost_s=1.0), URL, 2.5, time.watch())
    assert [timeout for _, timeout in time.calls] == pytest.approx([FIRST_CHECK_S, 1.0, 1.0, 0.25])


@pytest.mark.parametrize(
    "error",
    [
        PyTritonClientAuthorizationError("refused: This protocol is restricted"),
        PyTritonClientModelUnavailableError("Model 'Lineer' is not served"),
        caused(PyTritonClientConnectionError("tls"), ssl.SSLCertVerificationError(1, "certificate verify failed")),
    ],
    ids=["wrong-token", "unknown-model", "untrusted-certificate"],
)
def test_an_error_that_waiting_cannot_cure_ends_the_wait_at_once(error: PyTritonClientError) -> None:
    time = FakeTime()
    with pytest.raises(PyTritonClientError) as raised:
        wait_until_ready(time.check([error]), URL, 60, time.watch())
    assert raised.value is error
    assert time.lines == [] and len(time.calls) == 1


def test_ctrl_c_ends_the_wait_after_the_check_in_progress() -> None:
    time = FakeTime()
    with pytest.raises(KeyboardInterrupt):
        wait_until_ready(time.check([refused() for _ in range(100)]), URL, 60, time.watch(lambda: len(time.calls) >= 2))
    assert len(time.calls) == 2 and len(time.lines) == 1
