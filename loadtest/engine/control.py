"""State shared by every user of one run: the recorder, the request budget, open-loop tickets, counters.

Owns what users read and update between requests: whether they may send, the requests in flight,
when a request last succeeded and when a connection last failed (for the stop rules), the closers
of every client, and the asyncio loop thread when a pattern needs one.

Touched from the gevent hub's thread and, for ``sync`` gRPC users, from each user's request thread
(``users._thread_loop``), which admits, starts and ends its requests itself: the requests in flight and
``stopping`` are guarded by one lock (so no request starts once ``stopping`` is set, and in flight only
falls from then on), the budget and tickets by their own (``rules``). The rest (recording, the times of the
last completion, success and connection error, the closers) is the hub's alone. Never imports Locust;
never sends a request.
"""

from __future__ import annotations

import itertools
import threading
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
        self._lock = threading.Lock()
        self._stopping = False
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
    def stopping(self) -> bool:
        """The run is ending: no request may start any more (requests in flight may finish)."""
        return self._stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        with self._lock:  # a request thread between its last check and its start sees it (start_unless_stopping)
            self._stopping = value

    @property
    def in_flight(self) -> int:
        """Requests sent and not finished yet."""
        return len(self._outstanding)

    def started(self, traffic: str) -> int:
        """A request of ``traffic`` was sent now; returns the token to pass to :meth:`ended`."""
        with self._lock:
            token = next(self._tokens)
            self._outstanding[token] = (traffic, time.perf_counter_ns())
        return token

    def start_unless_stopping(self, traffic: str) -> int | None:
        """:meth:`started`, unless the run is stopping (then None, and nothing starts): for a request thread,
        whose check of ``stopping`` and start must not let the hub's graceful stop slip in between."""
        with self._lock:
            if self._stopping:
                return None
            token = next(self._tokens)
            self._outstanding[token] = (traffic, time.perf_counter_ns())
        return token

    def ended(self, token: int) -> None:
        """The request of ``token`` finished (or was cancelled); idempotent."""
        with self._lock:
            self._outstanding.pop(token, None)

    def unfinished(self, now_ns: int) -> list[tuple[str, int]]:
        """``(traffic, age in µs)`` of every request still out at ``now_ns``, oldest first."""
        with self._lock:
            out = list(self._outstanding.values())
        return sorted(((name, (now_ns - start) // 1000) for name, start in out), key=lambda x: -x[1])

    def may_send(self) -> bool:
        """Whether a user may start another request (not stopping, request budget left)."""
        return not self._stopping and self.budget.take(self.recorder.measuring)

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
