"""The beat on which ``sync`` gRPC users collect what their request threads finished: one greenlet per process.

Owns one greenlet that wakes every ``COLLECT_EVERY_S`` (on multiples of it) while any user is a member.
A request thread that finished something calls :meth:`Beat.notify` (a deque append, safe from any
thread, once until its user collects); at the next beat the greenlet runs the collect function of each
notified member itself, in the hub (no switch to the member's greenlet), and wakes a member's greenlet
only when its collect function says so (its thread ended) or failed. Every :data:`POLL_EVERY_BEATS` beats
it also asks every member whether it has something to do (Locust asked it to stop, the run is
stopping). The hub thus wakes once per beat whatever the number of users, and an idle user costs
nothing per beat (when each of 200 users paced at 1 request/s woke itself every 5 ms, the generator
spent 4x the CPU of the per-request hand-over). Lives in the hub.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

import gevent
import gevent.event

from loadtest.engine.users._thread_loop import next_beat_s

POLL_EVERY_BEATS = 10
"""Every this many beats (50 ms) each member is asked whether it is due: how soon a user sees Locust's
request to stop or the run's stop when its thread has nothing to hand over."""


class Member:
    """One greenlet served by the beat.

    Args:
        due: asked at every poll; true wakes the member's greenlet.
        collect: run by the beat (in the hub, not the member's greenlet) after the member was notified;
            returns whether to wake the member's greenlet too. None: wake the greenlet at once instead.
    """

    __slots__ = ("collect", "due", "event", "failure")

    def __init__(self, due: Callable[[], bool], collect: Callable[[], bool] | None) -> None:
        self.event = gevent.event.Event()
        self.due = due
        self.collect = collect
        self.failure: BaseException | None = None
        """What the collect function raised at a beat; the member's greenlet re-raises it (:meth:`Beat.wait`)."""


class Beat:
    """Collects for its members on a shared beat and wakes their greenlets when they have something to do.

    Usage (in a user's greenlet; its thread calls ``BEAT.notify(member)`` when it finished something)::

        member = BEAT.join(lambda: user.asked_to_stop(), collect=lambda: user.collect())
        try:
            while ...:
                BEAT.wait(member)     # until its collect function or a poll finds it due
                ...
        finally:
            BEAT.leave(member)
    """

    def __init__(self) -> None:
        self._members: dict[Member, None] = {}
        self._ready: collections.deque[Member] = collections.deque()
        self._greenlet: gevent.Greenlet | None = None

    def join(self, due: Callable[[], bool], collect: Callable[[], bool] | None = None) -> Member:
        """A new member; when notified, the beat runs ``collect`` (or wakes the member), and it wakes the
        member when ``due()`` is true at a poll (the beat runs while it has members)."""
        member = Member(due, collect)
        self._enrol(member)
        return member

    def notify(self, member: Member) -> None:
        """``member`` has something to do: collect for it (or wake it) at the next beat. Callable from any
        thread (no gevent)."""
        self._ready.append(member)

    def wait(self, member: Member) -> None:
        """Wait (in the member's greenlet) until the beat finds it due; re-raises what its collect raised."""
        if member not in self._members:  # the beat ended abnormally and let its members go: join again
            self._enrol(member)
        member.event.wait()
        member.event.clear()
        failure, member.failure = member.failure, None
        if failure is not None:
            raise failure

    def leave(self, member: Member) -> None:
        """Remove a member; idempotent."""
        self._members.pop(member, None)

    @property
    def members(self) -> int:
        """How many greenlets the beat serves now."""
        return len(self._members)

    def _enrol(self, member: Member) -> None:
        self._members[member] = None
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        beats = 0
        ready, members = self._ready, self._members
        try:
            while members:
                gevent.sleep(next_beat_s(time.perf_counter_ns()))
                while ready:
                    member = ready.popleft()
                    if member in members:  # a member that left collected for itself
                        self._serve(member)
                beats += 1
                if beats % POLL_EVERY_BEATS == 0:
                    for member in list(members):
                        if member.due():
                            member.event.set()
        finally:
            self._greenlet = None
            left, self._members = self._members, {}
            for member in left:  # killed or failed with members: wake them (each joins a new beat)
                member.event.set()

    @staticmethod
    def _serve(member: Member) -> None:
        collect = member.collect
        if collect is None:
            member.event.set()
            return
        try:
            wake = collect()
        except Exception as exc:  # a bug in recording: the member's greenlet raises it, the beat goes on
            member.failure = exc
            wake = True
        if wake:
            member.event.set()


BEAT = Beat()
"""The process's beat (the gevent hub's: users of every run in this process share it)."""

__all__ = ["BEAT", "POLL_EVERY_BEATS", "Beat", "Member"]
