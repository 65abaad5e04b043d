"""The pieces of a run that speak Locust's and gevent's language: the stage shape and signal handling.

Owns the closed-loop stage shape (a Locust ``LoadTestShape`` that follows the plan and then holds the
last stage) and the SIGINT/SIGTERM watcher of ``tritonload run``. Never records, never decides when a
run ends (``rules.stop_reason`` does).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import gevent
from locust import LoadTestShape

StageUsers = Callable[[float], "tuple[int, float] | None"]


def stage_shape(stage_users: StageUsers) -> LoadTestShape:
    """A load shape that follows ``stage_users`` (elapsed s -> (users, spawn rate)), then holds the last stage."""

    class _Shape(LoadTestShape):
        """Follows the stages, then holds the last one: the run session, not Locust, ends the run.

        A shape that returned None would make Locust kill every user at once, racing the session's
        graceful stop and cutting requests in flight.
        """

        last: tuple[int, float] | None = None

        def tick(self) -> tuple[int, float] | None:
            wanted = stage_users(self.get_run_time())
            if wanted is not None:
                self.last = wanted
            return self.last

    return _Shape()


class Interrupt:
    """Turns SIGINT/SIGTERM into flags the interval loop checks, through the gevent hub.

    The first signal asks for a graceful stop; a second one abandons the requests in flight.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.abandon = False
        self._watchers: list[Any] = []

    def __enter__(self) -> Interrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._watchers.append(gevent.signal_handler(sig, self._handle, sig))
        return self

    def _handle(self, signum: int) -> None:
        if self.signal is not None:
            self.abandon = True
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers.clear()


class NoInterrupt(Interrupt):
    """Signals are someone else's (plain ``locust -f`` handles them itself)."""

    def __enter__(self) -> NoInterrupt:
        return self


__all__ = ["Interrupt", "NoInterrupt", "stage_shape"]
