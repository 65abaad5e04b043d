"""State shared by every user of one run: the recorder, the request budget, open-loop tickets, counters.

Owns what users read and update between requests: whether they may send, the requests in flight,
when a request last succeeded and when a connection last failed (for the stop rules), the closers
of every client, and the asyncio loop thread when a pattern needs one. Touched only from the gevent
hub's thread. Never imports Locust; never sends a request.
"""

from __future__ import annotations

import itertools
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
        self._outstanding: dict[int, tuple[str, int]] = {}
        self._tokens = itertools.count()
        self.last_ok_ns = time.perf_counter_ns()
        self.last_completion_ns = self.last_ok_ns
        """When any request last finished (ok or not): stalls are measured from here."""
        self.last_connection_error_ns: int | None = None
        self.closers: list[Callable[[], None]] = []
        self.feed_locust = True
        """Fire Locust's ``request`` event for every request (its web UI, CSVs and a plain ``locust -f`` read
        Locust's statistics). A headless ``tritonload run`` has no reader and turns it off: ~4 µs a request."""
        self.encoded: dict[str, Any] = {}
        """Traffic name -> its payloads pre-encoded, taken in turn by its users (the fast path)."""

    @property
    def in_flight(self) -> int:
        """Requests sent and not finished yet."""
        return len(self._outstanding)

    def started(self, traffic: str) -> int:
        """A request of ``traffic`` was sent now; returns the token to pass to :meth:`ended`."""
        token = next(self._tokens)
        self._outstanding[token] = (traffic, time.perf_counter_ns())
        return token

    def ended(self, token: int) -> None:
        """The request of ``token`` finished (or was cancelled); idempotent."""
        self._outstanding.pop(token, None)

    def unfinished(self, now_ns: int) -> list[tuple[str, int]]:
        """``(traffic, age in µs)`` of every request still out at ``now_ns``, oldest first."""
        return sorted(
            ((name, (now_ns - start) // 1000) for name, start in self._outstanding.values()), key=lambda x: -x[1]
        )

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

    def close(self) -> list[BaseException]:
        """Close every client and stop the asyncio loop thread (if one runs); returns the clients' errors."""
        errors = self.close_clients()
        if self.loop_thread is not None:
            self.loop_thread.stop()
            self.loop_thread = None
        return errors


__all__ = ["RunControl"]
