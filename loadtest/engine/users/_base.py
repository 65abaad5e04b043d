"""The base Locust user: lifecycle, the request loop and the recording of every finished request.

Owns what every pattern shares: creating and closing the client, the loop that sends requests back
to back (or one per task when paced), open-loop tickets, and turning the clients' timing records
into recorder entries (the source of truth) and Locust ``request`` events (for its UI and CSVs, when
``RunControl.feed_locust`` says something reads them).
Pattern users (``_blocking``, ``_concurrent``) add only how a request is sent and waited for.
Never parses scenarios and never writes files.
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import Any, ClassVar

import gevent
from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_STOPPING

from loadtest.engine.control import RunControl
from loadtest.engine.model import TrafficEntry
from loadtest.engine.rules import is_late, response_time_us
from loadtest.recording.recorder import RequestOutcome
from pytriton_client.observer import RequestRecord

REPORTED_EARLY_KEPT = 256
"""Errors reported ahead of their request that a user remembers; more than it keeps outstanding."""


def kind_of(error: BaseException) -> str:
    """The stable error kind of ``error`` (``pytriton_client`` exceptions carry one), else ``other``."""
    kind = getattr(error, "kind", None)
    return kind if isinstance(kind, str) and kind else "other"


class CancelledStream(Exception):
    """A stream the consumer left before its final response."""

    kind = "cancelled"


class TritonUser(User):
    """Base of the pattern users; concrete classes are made per traffic entry by ``make_user_class``."""

    abstract = True
    traffic: ClassVar[TrafficEntry]
    control: ClassVar[RunControl]
    wait_time = constant(0)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._records: collections.deque[RequestRecord] = collections.deque()
        # Errors whose record was reported before their request was collected (see ``_was_reported``).
        self._reported_early: collections.deque[BaseException] = collections.deque(maxlen=REPORTED_EARLY_KEPT)
        self._client: Any = None

    # -- lifecycle ----------------------------------------------------------------------------
    def on_start(self) -> None:
        """Create this user's client (the preflight already waited for the model)."""
        self._client = self.open_client()
        self.control.closers.append(self.close_client)

    def on_stop(self) -> None:
        """Close the client."""
        self.close_client()

    def open_client(self) -> Any:
        """Create the client; runs in the hub."""
        raise NotImplementedError

    def close_client(self) -> None:
        """Close the client; idempotent."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def client_kwargs(self, *, preconfigured: bool = True) -> dict[str, Any]:
        """Keyword arguments of the client: connection settings, the observer, the preflight's config."""
        kwargs = self.traffic.client.kwargs()
        kwargs["observer"] = self._records.append
        if preconfigured and self.traffic.model_config is not None:
            kwargs.update(model_config=self.traffic.model_config, ensure_model_is_ready=False)
        return kwargs

    def client_args(self) -> tuple[str, str, str | None]:
        """URL, model name and version, the clients' positional arguments."""
        options = self.traffic.client
        return options.url, options.model, options.version

    # -- the request loop ----------------------------------------------------------------------
    @task
    def run_requests(self) -> None:
        """The user's only task: :meth:`request_loop`."""
        self.request_loop()

    def request_loop(self) -> None:
        """Requests back to back (every wait yields to the hub), or one per task call when paced so that
        Locust's ``wait_time`` spaces them. A pattern whose loop runs elsewhere overrides this."""
        if self.traffic.pacing_s > 0:
            self.step()
            return
        while not self.asked_to_stop():
            self.step()
        self.drain()

    def asked_to_stop(self) -> bool:
        """Whether Locust asked this user to stop after its current task (a ramp-down with a stop timeout)."""
        return self._state == LOCUST_STATE_STOPPING

    def step(self) -> None:
        """One unit of work: a request (or a top-up of outstanding requests) and its recording."""
        raise NotImplementedError

    def drain(self) -> None:
        """Wait for this user's outstanding requests and record them (before a graceful stop)."""

    def begin(self) -> int | None:
        """Admit one request: stop the user when the run is ending; open loop: wait for the next ticket and
        return its intended start (``perf_counter_ns``); closed loop: None."""
        control = self.control
        if not control.may_send():
            raise StopUser()
        while True:
            tickets = control.tickets.get(self.traffic.name)
            if tickets is None:
                return None
            intended = tickets.take()
            if intended is None:
                raise StopUser()
            delay_ns = intended - time.perf_counter_ns()
            if delay_ns > 0:
                gevent.sleep(delay_ns / 1e9)
            if control.stopping:
                raise StopUser()
            if control.tickets.get(self.traffic.name) is tickets:
                return intended
            # The schedule was replaced while this user waited (a sweep changed the rate): the ticket is void.

    # -- recording ------------------------------------------------------------------------------
    def finish(self, intended_ns: int | None, error: BaseException | None) -> None:
        """Hand every finished record to the recorder and Locust; synthesise one for an error the client
        did not report (one that stopped the request before the client could)."""
        if error is not None and not self._was_reported(error):
            now = time.perf_counter_ns()
            options = self.traffic.client
            self._records.append(
                RequestRecord(
                    self.traffic.method, options.model, options.version or "", options.protocol, now, now, error
                )
            )
        while self._records:
            record = self._records.popleft()
            self._report(record, intended_ns)
            if record.error is not None and record.error is not error:
                self._reported_early.append(record.error)

    def _was_reported(self, error: BaseException) -> bool:
        """Whether the client's own record of ``error`` came: it is waiting, or an earlier ``finish`` took it.

        A concurrent user reports every record that came, other requests' too, so a failed request's
        record can be reported before that request itself is collected; the error object (the one the
        client raised, recorded and handed to the future) tells which.
        """
        if any(record.error is error for record in self._records):
            return True
        for index, reported in enumerate(self._reported_early):
            if reported is error:
                del self._reported_early[index]
                return True
        return False

    def _report(self, record: RequestRecord, intended_ns: int | None) -> None:
        traffic = self.traffic
        control = self.control
        late = is_late(record.start_ns, intended_ns)
        error = record.error
        if error is None and record.cancelled:
            error = CancelledStream()
        kind = None
        control.last_completion_ns = record.end_ns
        if error is not None:
            kind = kind_of(error)
            if kind == "connection":
                control.last_connection_error_ns = record.end_ns
        else:
            control.last_ok_ns = record.end_ns
        if traffic.pattern.streams and error is None:
            control.recorder.record(self._stream_outcome(record, intended_ns, late))
        else:
            latency_us = record.duration_ns // 1000 if error is None else None
            response_us = response_time_us(record.end_ns, intended_ns)
            control.recorder.record_request(traffic.name, latency_us, kind, response_us, late)
        if control.feed_locust:
            self.environment.events.request.fire(
                request_type=traffic.pattern.name,
                name=traffic.name,
                response_time=record.duration_ns / 1e6,
                response_length=record.bytes_received or 0,
                exception=error,
                context={},
            )

    def _stream_outcome(self, record: RequestRecord, intended_ns: int | None, late: bool) -> RequestOutcome:
        arrivals = record.response_ns
        outcome = RequestOutcome(
            self.traffic.name, latency_us=record.duration_ns // 1000, late=late, responses=len(arrivals)
        )
        outcome.response_time_us = response_time_us(record.end_ns, intended_ns)
        if arrivals:
            outcome.ttfr_us = (arrivals[0] - record.start_ns) // 1000
            outcome.gaps_us = [(b - a) // 1000 for a, b in itertools.pairwise(arrivals)]
        return outcome


__all__ = ["CancelledStream", "TritonUser", "kind_of"]
