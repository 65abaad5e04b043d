"""The beat on which ``sync`` gRPC users collect what their request threads finished: one greenlet per process.

Owns one greenlet that wakes every ``COLLECT_EVERY_S`` (on multiples of it) while any user is a member.
A request thread that finished something calls :meth:`Beat.notify` (a deque append, safe from any
thread, once until its user collects); at the next beat the greenlet wakes those users only. Every
:data:`POLL_EVERY_BEATS` beats it also asks every member whether it has something to do (Locust asked it
to stop, the run is stopping). The hub thus wakes once per beat whatever the number of users, and an
idle user costs nothing per beat (when each of 200 users paced at 1 request/s woke itself every 5 ms, the
generator spent 4x the CPU of the per-request hand-over). Lives in the hub.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

import gevent
import gevent.event

from loadtest.engine.users._thread_loop import next_beat_s

POLL_EVERY_BEATS = 10
"""Every this many beats (50 ms) each member is asked whether it is due: how soon a user sees Locust's
request to stop or the run's stop when its thread has nothing to hand over."""


class Beat:
    """Wakes its members' greenlets on a shared beat when they have something to do.

    Usage (in a user's greenlet; its thread calls ``BEAT.notify(member)`` when it finished something)::

        member = BEAT.join(lambda: user.asked_to_stop())
        try:
            while ...:
                BEAT.wait(member)     # until the beat finds it due
                ...
        finally:
            BEAT.leave(member)
    """

    def __init__(self) -> None:
        self._members: dict[gevent.event.Event, Callable[[], bool]] = {}
        self._ready: collections.deque[gevent.event.Event] = collections.deque()
        self._greenlet: gevent.Greenlet | None = None

    def join(self, due: Callable[[], bool]) -> Member:
        """A new member; the beat wakes it when notified, and when ``due()`` is true at a poll (the beat runs
        while it has members)."""
        member = Member(gevent.event.Event(), due)
        self._enrol(member)
        return member

    def notify(self, member: Member) -> None:
        """``member`` has something to do: wake it at the next beat. Callable from any thread (no gevent)."""
        self._ready.append(member.event)

    def wait(self, member: Member) -> None:
        """Wait (in the member's greenlet) until the beat finds it due."""
        if member.event not in self._members:  # the beat ended abnormally and let its members go: join again
            self._enrol(member)
        member.event.wait()
        member.event.clear()

    def leave(self, member: Member) -> None:
        """Remove a member; idempotent."""
        self._members.pop(member.event, None)

    @property
    def members(self) -> int:
        """How many greenlets the beat serves now."""
        return len(self._members)

    def _enrol(self, member: Member) -> None:
        self._members[member.event] = member.due
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        beats = 0
        ready = self._ready
        try:
            while self._members:
                gevent.sleep(next_beat_s(time.perf_counter_ns()))
                while ready:
                    ready.popleft().set()
                beats += 1
                if beats % POLL_EVERY_BEATS == 0:
                    for event, due in list(self._members.items()):
                        if due():
                            event.set()
        finally:
            self._greenlet = None
            left, self._members = self._members, {}
            for event in left:  # killed or failed with members: wake them (each joins a new beat)
                event.set()


@dataclass(frozen=True)
class Member:
    """One greenlet served by the beat."""

    event: gevent.event.Event
    due: Callable[[], bool]


BEAT = Beat()
"""The process's beat (the gevent hub's: users of every run in this process share it)."""

__all__ = ["BEAT", "POLL_EVERY_BEATS", "Beat", "Member"]
