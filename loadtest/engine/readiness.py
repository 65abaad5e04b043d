"""Waiting for a traffic entry's server and model before the run, saying why once a second.

Owns the preflight's wait: short readiness checks in a loop (each bounded by about a second), the
decision whether an error is worth waiting out (a refused connection, a server or model still
loading: a server may be starting) or ends the wait at once (a wrong token, an untrusted
certificate, an unknown model, an unusable URL), and the words that tell the user why they wait
(``waiting for http://127.0.0.1:9 (connection refused), 57 s left``). :func:`wait_until_ready`
takes its check, clock, sleep and output as arguments, so it is table-tested without a server.
Never sends an inference request and never prints except through the ``say`` it is given.
"""

from __future__ import annotations

import errno
import math
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pytriton_client import ModelClient, PyTritonClientError, PyTritonClientTimeoutError

CHECK_S = 1.0
"""Longest single readiness check; also the time between two waiting lines."""
FIRST_CHECK_S = 0.25
"""The first check is shorter, so a refused connection is said at once, not after a second."""
MIN_CHECK_S = 0.1
"""Shortest check: a wait with less time left than this gives up instead of checking."""
_FATAL_KINDS = frozenset(
    {"unauthorized", "invalid_input", "invalid_url", "model_unavailable", "closed", "not_supported"}
)
# gRPC reports a failed TLS handshake only as UNAVAILABLE text; these words mark it (display and the
# wait-or-not decision only: when none matches, the wait goes on until init_s, which is still correct).
_TLS_WORDS = ("ssl", "tls", "handshake", "certificate")


class NotReadyError(Exception):
    """The server or model did not become ready within the time given; names the URL and the reason."""


class _NotReady(Exception):
    """One check failed in a way worth waiting out."""

    def __init__(self, reason: str, error: PyTritonClientError) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class Watch:
    """How a wait talks and keeps time: ``say`` prints a line, ``interrupted`` tells Ctrl-C, ``sleep``
    lets others run (``gevent.sleep`` in a run, so signals are seen)."""

    say: Callable[[str], None] = field(default=lambda text: None)
    interrupted: Callable[[], bool] = field(default=lambda: False)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _innermost_client_error(error: PyTritonClientError) -> PyTritonClientError:
    found = error
    for link in _chain(error):
        if isinstance(link, PyTritonClientError):
            found = link
    return found


def error_text(error: PyTritonClientError) -> str:
    """The message of the deepest client error in ``error``'s chain: it names the call that failed and
    why, where the outer error speaks of the wait around it (whose one-second bound means nothing here)."""
    return str(_innermost_client_error(error))


def _transport_text(error: PyTritonClientError) -> str:
    """The text of the deepest exception below the client errors (the transport's own words)."""
    texts = [str(link) for link in _chain(error) if not isinstance(link, PyTritonClientError)]
    return texts[-1] if texts else str(_innermost_client_error(error))


def waiting_reason(error: PyTritonClientError) -> str | None:
    """Why a readiness check failed, in a few words, when waiting may cure it; ``None`` when it cannot.

    A refused connection, an unknown host, no answer, or a server error are worth waiting out (a
    server may be starting, or a service being created); an authorization error, a TLS failure, an
    unknown model or an unusable URL are not.
    """
    chain = list(_chain(error))
    if any(isinstance(link, ssl.SSLError | ssl.CertificateError) for link in chain):
        return None
    kinds = {link.kind for link in chain if isinstance(link, PyTritonClientError)}
    if kinds & _FATAL_KINDS:
        return None
    for link in chain:
        if isinstance(link, socket.gaierror):
            return "host name not found"
        if isinstance(link, ConnectionRefusedError) or getattr(link, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(link, OSError) and not isinstance(link, TimeoutError) and link.strerror:
            return str(link.strerror).lower()
    innermost = _innermost_client_error(error)
    if innermost.kind == "connection":
        text = _transport_text(error).lower()
        if any(word in text for word in _TLS_WORDS):
            return None
        if "connection refused" in text:
            return "connection refused"
        if "resolv" in text or "name not found" in text or "not known" in text:
            return "host name not found"
        return "unreachable"
    if innermost.kind == "timeout":
        return "no answer"
    return f"{innermost.kind} error"


def wait_until_ready(check: Callable[[float], None], target: str, timeout_s: float, watch: Watch) -> None:
    """Call ``check(timeout_s)`` until it returns, at most ``timeout_s`` in all, one line per failed check.

    ``check`` returns when ready and raises :class:`PyTritonClientError` when not; each call is given
    at most :data:`CHECK_S` (the first one :data:`FIRST_CHECK_S`). Errors that waiting cannot cure are raised at once.

    Raises:
        NotReadyError: still not ready after ``timeout_s`` (names ``target`` and the last reason).
        PyTritonClientError: an error no wait can cure (wrong token, untrusted certificate, ...).
        KeyboardInterrupt: ``watch.interrupted()`` became true.
    """
    deadline = watch.clock() + timeout_s
    check_s = FIRST_CHECK_S
    while True:
        started = watch.clock()
        try:
            check(min(check_s, max(deadline - started, MIN_CHECK_S)))
            return
        except _NotReady as not_ready:
            reason, error = not_ready.reason, not_ready.error
        except PyTritonClientError as exc:
            found = waiting_reason(exc)
            if found is None:
                raise
            reason, error = found, exc
        # A check that failed fast waits out the rest of its time: one line a second, no busy loop.
        watch.sleep(max(0.0, min(started + check_s, deadline) - watch.clock()))
        check_s = CHECK_S
        if watch.interrupted():
            raise KeyboardInterrupt
        left_s = deadline - watch.clock()
        if left_s < MIN_CHECK_S:
            raise NotReadyError(
                f"{target} was not ready within {timeout_s:g} s ({reason}); last error: {error_text(error)}"
            ) from error
        watch.say(f"waiting for {target} ({reason}), {math.ceil(left_s)} s left")


def model_check(client: ModelClient, model: str) -> Callable[[float], None]:
    """A check for :func:`wait_until_ready`: the server is ready, then the client's model (``model``) is."""

    def check(timeout_s: float) -> None:
        try:
            client.wait_for_server(timeout_s)
        except PyTritonClientTimeoutError as exc:
            if exc.__cause__ is None:  # the server answered, and said "not ready"
                raise _NotReady("server not ready", exc) from exc
            raise
        try:
            client.wait_for_model(timeout_s)
        except PyTritonClientTimeoutError as exc:
            if exc.__cause__ is None:  # the server answered, and said the model is not ready
                raise _NotReady(f"model '{model}' not ready", exc) from exc
            raise

    return check


def wait_for_model(options: Any, watch: Watch) -> float:
    """Wait for ``options``' server and model (``ClientOptions``), one line a second; the time left (s).

    Raises:
        NotReadyError, PyTritonClientError, KeyboardInterrupt: as :func:`wait_until_ready`.
    """
    started = watch.clock()
    timeout_s = options.init_timeout_s
    kwargs = {**options.kwargs(), "inference_timeout_s": CHECK_S}
    with ModelClient(options.url, options.model, options.version, lazy_init=True, **kwargs) as client:
        wait_until_ready(model_check(client, options.model), options.url, timeout_s, watch)
    return max(timeout_s - (watch.clock() - started), MIN_CHECK_S)


__all__ = [
    "CHECK_S",
    "FIRST_CHECK_S",
    "NotReadyError",
    "Watch",
    "error_text",
    "model_check",
    "wait_for_model",
    "wait_until_ready",
    "waiting_reason",
]
