"""State shared by every user of one run: the recorder, the request budget, open-loop tickets, counters.

Owns what users read and update between requests: whether they may send, the requests in flight,
when a request last succeeded and when a connection last failed (for the stop rules), the closers
of every client, and the asyncio loop thread when a pattern needs one. Touched only from the gevent
hub's thread. Never imports Locust; never sends a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loadtest.engine.rules import RequestBudget, Tickets
from loadtest.recording.recorder import Recorder


class RunControl:
    """Shared by the users of one run; see the module docstring."""

    def __init__(self, recorder: Recorder, environment: Any, *, max_requests: int | None = None) -> None:
        self.recorder = recorder
        self.environment = environment
        """Locust's environment (its ``request`` event feeds Locust's UI); None until Locust provides one."""
        self.budget = RequestBudget(max_requests)
        self.loop_thread: Any = None
        """The process's asyncio loop thread (``_bridge.AsyncioLoopThread``) when a pattern needs it."""
        self.tickets: dict[str, Tickets] = {}
        self.stopping = False
        self.in_flight = 0
        self.last_ok_ns = time.perf_counter_ns()
        self.last_connection_error_ns: int | None = None
        self.closers: list[Callable[[], None]] = []

    def may_send(self) -> bool:
        """Whether a user may start another request (not stopping, request budget left)."""
        return not self.stopping and self.budget.take(self.recorder.measuring)

    def close_clients(self) -> list[BaseException]:
        """Close every client that registered a closer; returns the errors (closing goes on past them)."""
        errors: list[BaseException] = []
        for close in list(self.closers):
            try:
                close()
            except Exception as exc:
                errors.append(exc)
        return errors


__all__ = ["RunControl"]
