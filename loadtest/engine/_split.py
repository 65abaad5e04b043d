"""How one scenario's load is split over several generator processes, so it means the same for any count.

Owns the pure arithmetic of a distributed run: the share of a total (``max_requests``) each process
gets, which requests of an open-loop arrival schedule each process sends (so the processes together
send exactly the one schedule, at its total rate), the number of processes ``auto`` means, and the
estimate of a worker's clock offset. Never reads a clock, never talks to Locust or to a process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Schedule = Callable[[int], "float | None"]
"""``n -> intended start of request n`` (seconds after the run start), None when the schedule is done."""


def split_total(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split over processes in proportion to ``weights`` (whole numbers that add up to ``total``).

    Largest remainders go first, ties to the lower index; all-zero weights split evenly.

    Usage::

        split_total(10, [1, 1, 1])  # [4, 3, 3]
    """
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    shares = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class Slots:
    """One process's slots in a cycle of ``cycle`` requests: requests ``n`` with ``start <= n % cycle < start + width``.

    A process with a quarter of an entry's users (its in-flight capacity) takes a quarter of each
    cycle, so every request of the schedule is sent by exactly one process.
    """

    start: int
    width: int
    cycle: int

    def request(self, k: int) -> int:
        """The schedule index of this process's ``k``-th request."""
        rounds, offset = divmod(k, self.width)
        return rounds * self.cycle + self.start + offset


def slots_of(user_counts: Sequence[int]) -> list[Slots | None]:
    """The slots of each process from its user count for one traffic entry (None for a process without users)."""
    cycle = sum(user_counts)
    result: list[Slots | None] = []
    start = 0
    for count in user_counts:
        result.append(Slots(start, count, cycle) if count > 0 and cycle > 0 else None)
        start += count
    return result


def slice_schedule(schedule: Schedule, slots: Slots) -> Schedule:
    """The part of ``schedule`` that the process owning ``slots`` sends, indexed from 0."""

    def offset_s(k: int) -> float | None:
        return schedule(slots.request(k))

    return offset_s


def processes_for(value: int | str | None, *, cpu_count: Callable[[], int] | None = None) -> int:
    """The number of generator processes ``processes:`` (or ``--processes``) asks for: ``auto`` = usable cores.

    Raises:
        ValueError: not a positive integer or ``auto``.
    """
    if value is None:
        return 1
    if value == "auto":
        count = cpu_count() if cpu_count else _usable_cores()
        return max(1, count)
    if isinstance(value, str):
        if not value.isdigit():
            raise ValueError(f"expected a positive integer or 'auto', got {value!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a positive integer or 'auto', got {value!r}")
    return value


def _usable_cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return len(affinity(0))
    return os.cpu_count() or 1


def clock_offset_s(sent_s: float, worker_s: float, received_s: float) -> tuple[float, float]:
    """``(offset, round trip)`` of a worker's wall clock against ours, from one exchange (NTP's estimate).

    ``sent_s`` and ``received_s`` are our clock when we asked and when the answer came, ``worker_s`` the
    worker's clock when it answered; the offset's error is at most half the round trip.
    """
    round_trip_s = max(0.0, received_s - sent_s)
    return worker_s - (sent_s + received_s) / 2, round_trip_s


__all__ = ["Schedule", "Slots", "clock_offset_s", "processes_for", "slice_schedule", "slots_of", "split_total"]
