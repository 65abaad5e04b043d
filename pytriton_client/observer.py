"""The timing hook: clients tell an optional observer about every inference request.

Owns the record type and the observer signature. Never does I/O and never imports a transport.
A client created without an observer does no timing work at all.

Usage::

    def observe(record: RequestRecord) -> None:
        print(record.method, record.duration_ns / 1e6, "ms", "ok" if record.ok else record.error)

    client = ModelClient("grpc://localhost", "Linear", observer=observe)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class RequestRecord:
    """One finished inference request (or stream), as seen by the client.

    Times are ``time.perf_counter_ns()`` values of the calling process.
    """

    method: str
    """``"infer_sample"`` or ``"infer_batch"``."""
    model_name: str
    """Model name the request was sent to."""
    model_version: str
    """Requested model version; ``""`` means the server's latest."""
    protocol: str
    """``"http"`` or ``"grpc"``."""
    start_ns: int
    """Just before the request is built and sent (after any lazy initialisation finished); for a call that
    failed before anything was sent (initialisation or input checks), when the call began."""
    end_ns: int
    """When the result was decoded, the error raised, or (streams) the final response arrived."""
    error: BaseException | None = None
    """``None`` when the request succeeded, else the exception the caller receives."""
    bytes_sent: int | None = None
    """Bytes of input tensor data sent, where known; ``None`` when nothing was sent."""
    bytes_received: int | None = None
    """Bytes of output tensor data received, where known."""
    response_ns: tuple[int, ...] = ()
    """Streams only: arrival time of each response that carried data, in order."""
    cancelled: bool = False
    """Streams only: the caller stopped consuming before the final response."""

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None

    @property
    def duration_ns(self) -> int:
        """``end_ns - start_ns``."""
        return self.end_ns - self.start_ns


RequestObserver = Callable[[RequestRecord], None]
"""Called once per finished request, in the thread (or event loop) that ran it.

Exceptions raised by the observer propagate to the caller of the inference method.
"""

__all__ = ["RequestObserver", "RequestRecord"]
