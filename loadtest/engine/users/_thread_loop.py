"""A user's request loop run by an OS thread of its own, its records collected by the hub in bursts.

Owns the loop of a ``sync`` gRPC user: the thread admits each request (``RunControl.may_send``, the
open-loop ticket and a timed wait in the thread until its intended start, or the closed loop's pacing), starts it,
makes the blocking call, and queues what the client recorded; the user's greenlet is woken by the
process's beat (``_beat``, every :data:`COLLECT_EVERY_S`) when its thread finished something, and hands
the queued records to the recording path in the hub. The hub is woken once per beat instead of once
per request (each wake-up from another thread costs the hub a libev async watcher, a context switch and
a turn of the GIL: about as much CPU as the gRPC call's own Python, measured in
``tests/benchmarks/bench_grpc_paths.py``).

The thread touches only what is safe from two threads: the run control's admission, start and end of
requests and the tickets (locked, see ``loadtest.engine.control``), its own client, a deque the hub
drains and the beat's notice (``notify``). It never records, never fires Locust events and never
touches gevent. Never parses scenarios or writes files.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

from loadtest.engine.control import RunControl
from loadtest.engine.rules import Tickets
from pytriton_client.observer import RequestRecord

COLLECT_EVERY_S = 0.005
"""How often what the threads finished is collected: one beat for every user of the process (``_beat``),
on multiples of this. A record reaches the recorder at most about this late: an interval's boundary may
move a request into the next interval, and the stall detection and the graceful stop see completions
that much later."""
MAX_NAP_S = 0.5
"""The longest the thread waits (for an intended start, or the closed loop's pacing) without looking
whether the run is stopping or the schedule was replaced; :meth:`RequestLoop.halt` wakes it at once."""

Finished = tuple[int | None, BaseException | None, tuple[RequestRecord, ...]]
"""One request as the thread hands it over: intended start (open loop, else None), the error the call
raised (None on success) and the records the client's observer made of it."""


class _Stop(Exception):
    """The loop ends: a request may not start (the run is ending, the budget or the schedule is spent) or
    the user was told to stop."""


class RequestLoop:
    """One user's requests, sent back to back (or paced, or at their tickets) by a thread of its own.

    Usage (from the user's greenlet)::

        loop = RequestLoop(control, "traffic", send, seen, name="tritonload-traffic").start()
        ...                     # every beat: for intended, error, records in loop.take(): ...
        loop.halt()             # Locust asked the user to stop; the thread ends after its request

    Args:
        control: the run's shared control (admission, tickets, requests in flight).
        traffic: the traffic entry's name.
        send: makes one request, blocking; raises what the call raised.
        seen: the list the client's observer appends its records to (called in this thread); the loop
            hands them over with their request and clears it.
        pacing_s: closed loop: the least time between the starts of two requests (0: back to back).
        name: the thread's name.
        notify: called in the thread when it has something for the greenlet (finished requests, its end),
            once until the greenlet's next :meth:`take`.
    """

    def __init__(
        self,
        control: RunControl,
        traffic: str,
        send: Callable[[], Any],
        seen: list[RequestRecord],
        *,
        pacing_s: float = 0.0,
        name: str = "tritonload-requests",
        notify: Callable[[], None] | None = None,
    ) -> None:
        self._control = control
        self._notify = notify
        self._signalled = False
        self._traffic = traffic
        self._send = send
        self._seen = seen
        self._pacing_ns = round(pacing_s * 1e9)
        self._finished: collections.deque[Finished] = collections.deque()
        self._halted = False
        self._halt = threading.Event()
        self.ended = False
        """The thread left its loop; everything it finished is queued (set after the last hand-over)."""
        self.failure: BaseException | None = None
        """An unexpected error that ended the thread (a bug, not a failed request)."""
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> RequestLoop:
        """Start the thread; returns ``self``."""
        self._thread.start()
        return self

    def halt(self) -> None:
        """Ask the thread to end after its current request (at once when it waits); from any thread."""
        self._halted = True
        self._halt.set()

    def due(self) -> bool:
        """Whether the greenlet has something to do: finished requests to collect, or the thread ended."""
        return bool(self._finished) or self.ended

    def take(self) -> list[Finished]:
        """What the thread finished since the last call, oldest first."""
        self._signalled = False  # before draining: whatever comes after is notified again
        finished = self._finished
        out = []
        while finished:
            out.append(finished.popleft())
        return out

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait (blocking) for the thread to end; whether it did. For tests and benchmarks, not the hub."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # -- the thread -------------------------------------------------------------------------------
    def _main(self) -> None:
        # Per request this runs in a thread that competes for the GIL with the others and the hub: locals
        # for everything touched per request, and no call that the closed loop does not need.
        control, traffic, seen, finished = self._control, self._traffic, self._seen, self._finished
        tickets_of, send, pacing_ns, clock = control.tickets.get, self._send, self._pacing_ns, time.perf_counter_ns
        try:
            next_start_ns = 0
            while True:
                if pacing_ns:
                    self._nap_until(next_start_ns)
                    next_start_ns = clock() + pacing_ns
                elif self._halted or control.stopping:
                    raise _Stop()
                if tickets_of(traffic) is None:  # closed loop
                    if not control.may_send():
                        raise _Stop()
                    intended = None
                else:
                    intended = self._admit()
                token = control.start_unless_stopping(traffic)
                if token is None:
                    raise _Stop()
                error: BaseException | None = None
                try:
                    send()
                except Exception as exc:  # the request's outcome: recorded by the hub
                    error = exc
                # Queued before it ends: once nothing is in flight the hub may stop the user, and it
                # collects what is queued.
                finished.append((intended, error, tuple(seen)))
                seen.clear()
                if not self._signalled and self._notify is not None:
                    self._signalled = True
                    self._notify()
                control.ended(token)
        except _Stop:
            pass
        except BaseException as exc:  # handed to the greenlet, which re-raises it
            self.failure = exc
        finally:
            self.ended = True
            if self._notify is not None:
                self._notify()

    def _admit(self) -> int | None:
        """Admit one request of an entry with tickets; returns its intended start (open loop), or None when
        the entry's schedule went away (closed loop).

        Raises:
            _Stop: it may not start.
        """
        control, traffic = self._control, self._traffic
        while (tickets := control.tickets.get(traffic)) is not None and not tickets.ready:
            self._nap_until(time.perf_counter_ns() + round(MAX_NAP_S * 1e9))
        if not control.may_send():
            raise _Stop()
        while True:
            tickets = control.tickets.get(traffic)
            if tickets is None:
                return None
            intended = tickets.take()
            if intended is None:
                raise _Stop()
            if self._nap_until(intended, tickets):
                return intended
            # The schedule was replaced while this thread waited (a sweep changed the rate): the ticket is void.

    def _nap_until(self, when_ns: int, tickets: Tickets | None = None) -> bool:
        """Sleep until ``when_ns`` (``perf_counter_ns``); with ``tickets``, only while they are the entry's
        schedule (False, at once, when it was replaced).

        Raises:
            _Stop: the user was told to stop or the run is ending (looked at least every ``MAX_NAP_S``).
        """
        control = self._control
        while True:
            if self._halted or control.stopping:
                raise _Stop()
            if tickets is not None and control.tickets.get(self._traffic) is not tickets:
                return False
            delay_ns = when_ns - time.perf_counter_ns()
            if delay_ns <= 0:
                return True
            self._halt.wait(min(delay_ns / 1e9, MAX_NAP_S))


def next_beat_s(now_ns: int) -> float:
    """Seconds from ``now_ns`` to the next multiple of :data:`COLLECT_EVERY_S` (every user's shared beat)."""
    beat_ns = round(COLLECT_EVERY_S * 1e9)
    return (beat_ns - now_ns % beat_ns) / 1e9


__all__ = ["COLLECT_EVERY_S", "MAX_NAP_S", "Finished", "RequestLoop", "next_beat_s"]
