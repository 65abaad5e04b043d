"""What a run reads from the server while it runs: its success counts and one statistics snapshot per interval.

Owns the reads' futures (the :class:`~loadtest.engine.server_poll.ServerPoller` thread makes the calls)
and when their results are used: the success counts when measuring begins and when the run ends (the
summary's ``server_counts``), and the snapshot asked for at each interval tick, written to
``server-stats.jsonl`` at the next tick or when the run ends. Waits only where a caller gives a bound:
a hung server leaves one read out, never one per interval, and never holds up the hub.
Never records latencies.
"""

from __future__ import annotations

import concurrent.futures
import logging
from typing import Any, TypeVar

from loadtest.engine import _bridge
from loadtest.engine import summary as summary_of_run
from loadtest.engine.server_poll import ServerPoller
from loadtest.recording.rundir import RunWriter

LOGGER = logging.getLogger("loadtest.run")
T = TypeVar("T")


class ServerReads:
    """The server's side of one run, read off the hub.

    Usage (in the hub)::

        reads = ServerReads(poller)
        reads.count_start(wait_s=5.0)       # measuring begins (wait only before any request is sent)
        reads.snapshot(writer, t_s)         # every interval tick
        reads.write_last_snapshot(writer, wait_s)    # the run ended
        counts = reads.server_counts(wait_s)         # for the summary's ``server_counts``
    """

    def __init__(self, poller: ServerPoller) -> None:
        self.poller = poller
        self._counts_start: concurrent.futures.Future[dict[str, int]] | None = None
        self._pending: concurrent.futures.Future[dict[str, Any]] | None = None

    def count_start(self, wait_s: float = 0.0) -> None:
        """Ask for the server's success counts as measuring begins; wait up to ``wait_s`` for them."""
        self._counts_start = self.poller.submit(self.poller.success_counts)
        if wait_s > 0:
            result(self._counts_start, wait_s)

    def server_counts(self, wait_s: float) -> dict[str, dict[str, int | None]] | None:
        """Per model endpoint, the success counts at the start, now and their delta; None when either read
        failed or the one now did not come within ``wait_s``."""
        start = result(self._counts_start, 0.0)
        if start is None:
            return None
        end = result(self.poller.submit(self.poller.success_counts), wait_s)
        return None if end is None else summary_of_run.server_counts(start, end)

    def snapshot(self, writer: RunWriter, t_s: float) -> None:
        """Write the last snapshot if it came back, and ask for the next one (``t_s``: the run's clock).

        Raises:
            RunWriteError: ``server-stats.jsonl`` could not be written.
        """
        if not self.poller.active:
            return
        pending = self._pending
        if pending is not None and pending.done():
            self._pending = None
            if pending.exception() is None:
                writer.write_server_stats(pending.result())
        if self._pending is None:
            self._pending = self.poller.submit(lambda: self.poller.snapshot(t_s))

    def write_last_snapshot(self, writer: RunWriter, wait_s: float) -> None:
        """Write the snapshot still out if it comes within ``wait_s`` (a run shorter than a snapshot's round
        trip would otherwise end without ``server-stats.jsonl``).

        Raises:
            RunWriteError: ``server-stats.jsonl`` could not be written.
        """
        pending, self._pending = self._pending, None
        snapshot = result(pending, wait_s)
        if snapshot is not None:
            writer.write_server_stats(snapshot)


def result(future: concurrent.futures.Future[T] | None, timeout_s: float) -> T | None:
    """The result of a stats-thread call if it comes within ``timeout_s`` (cooperatively: other greenlets
    run meanwhile); None if not, or if it failed (logged)."""
    if future is None:
        return None
    try:
        return _bridge.wait_future(future, timeout_s) if timeout_s > 0 or future.done() else None
    except Exception as exc:
        LOGGER.warning("server statistics unavailable: %s", exc)
        return None


__all__ = ["ServerReads", "result"]
