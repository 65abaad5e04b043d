"""Locust users, one thin class per traffic pattern, built on ``pytriton_client``.

Owns how each pattern drives its client from a Locust greenlet without blocking the gevent hub:

- ``sync``: one :class:`~pytriton_client.ModelClient` per user. HTTP runs in the hub (tritonclient's
  HTTP client is gevent-native); gRPC calls run in gevent's native thread pool.
- ``futures``: one :class:`~pytriton_client.FuturesModelClient` per user with ``in_flight``
  requests outstanding; completions wake the user through the hub.
- ``asyncio``: one :class:`~pytriton_client.AsyncioModelClient` per user, living on the process's
  asyncio loop thread, with ``in_flight`` coroutines outstanding.
- ``decoupled``: one :class:`~pytriton_client.DecoupledModelClient` per user, each stream consumed
  in the native thread pool.

Timing comes only from the clients' observer hook; records are handed to the hub, which feeds the
:class:`~loadtest.recording.recorder.Recorder` (the source of truth) and Locust's ``request`` event (for its UI
and CSVs). Open loop users serve tickets (intended start times) from a shared schedule and record the
response time from the intended start as well as the service time. Never parses scenarios and never
writes files.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import gevent
import gevent.event
import numpy as np
from locust import User, constant, constant_pacing, task
from locust.env import Environment
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_STOPPING

from loadtest.engine import _bridge
from loadtest.engine.targets import ClientOptions
from loadtest.recording.recorder import Recorder, RequestOutcome
from pytriton_client.observer import RequestRecord

PATTERNS = ("sync", "futures", "asyncio", "decoupled")
LATE_THRESHOLD_NS = 5_000_000
"""An open-loop send that starts more than this after its intended time counts as late (the hub's
timers resolve to about a millisecond, so smaller delays are timer noise, not a saturated generator)."""


class PayloadSource(Protocol):
    """Hands out input dicts; pre-generated, so ``next`` costs nothing on the hot path."""

    def next(self) -> dict[str, np.ndarray]: ...


@dataclass
class TrafficSpec:
    """One traffic entry, resolved: what its users send and how."""

    name: str
    pattern: str
    method: str
    client: ClientOptions
    payloads: PayloadSource
    parameters: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    in_flight: int = 1
    pacing_s: float = 0.0
    model_config: Any = None
    """The model config fetched by the preflight check; spares every user its own fetch."""

    def call_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the next request: the next payload, parameters and headers."""
        kwargs: dict[str, Any] = dict(self.payloads.next())
        if self.parameters:
            kwargs["parameters"] = dict(self.parameters)
        if self.headers:
            kwargs["headers"] = dict(self.headers)
        return kwargs


class Tickets:
    """Open loop: hands out intended start times of one traffic entry's requests, in order.

    ``offset_s(n)`` is a pure schedule (``None`` once it is exhausted); times are relative to
    ``start_ns``. Used only from the hub's thread.
    """

    def __init__(self, offset_s: Callable[[int], float | None], start_ns: int) -> None:
        self._offset_s = offset_s
        self._start_ns = start_ns
        self._next = 0

    def take(self) -> int | None:
        """The next request's intended start (``perf_counter_ns``), or ``None`` when done."""
        offset = self._offset_s(self._next)
        if offset is None:
            return None
        self._next += 1
        return self._start_ns + int(offset * 1e9)


class RunControl:
    """State shared by every user of a run; touched only from the hub's thread."""

    def __init__(
        self,
        recorder: Recorder,
        environment: Environment,
        *,
        max_requests: int | None = None,
        loop_thread: _bridge.AsyncioLoopThread | None = None,
    ) -> None:
        self.recorder = recorder
        self.environment = environment
        self.max_requests = max_requests
        self.loop_thread = loop_thread
        self.tickets: dict[str, Tickets] = {}
        self.stopping = False
        self.in_flight = 0
        self.sent_measured = 0
        self.last_ok_ns = time.perf_counter_ns()
        self.last_connection_error_ns: int | None = None
        self.closers: list[Callable[[], None]] = []

    def may_send(self) -> bool:
        """Whether a user may start another request (not stopping, request budget left)."""
        if self.stopping:
            return False
        if self.max_requests is not None and self.recorder.measuring:
            if self.sent_measured >= self.max_requests:
                self.stopping = True
                return False
            self.sent_measured += 1
        return True


def _kind_of(error: BaseException) -> str:
    kind = getattr(error, "kind", None)
    return kind if isinstance(kind, str) and kind else "other"


class TritonUser(User):
    """Base of the pattern users; subclasses are made per traffic entry by the runner."""

    abstract = True
    traffic: ClassVar[TrafficSpec]
    control: ClassVar[RunControl]
    wait_time = constant(0)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._records: collections.deque[RequestRecord] = collections.deque()
        self._client: Any = None

    # -- lifecycle ----------------------------------------------------------------------------
    def on_start(self) -> None:
        """Create this user's client (the preflight check already waited for the model)."""
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

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs = self.traffic.client.kwargs()
        kwargs["observer"] = self._records.append
        return kwargs

    def _preconfigured(self) -> dict[str, Any]:
        if self.traffic.model_config is None:
            return {}
        return {"model_config": self.traffic.model_config, "ensure_model_is_ready": False}

    # -- the request loop ----------------------------------------------------------------------
    @task
    def run_requests(self) -> None:
        """Requests back to back (every wait yields to the hub), or one per task call when paced so that
        Locust's ``wait_time`` spaces them."""
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

    def _next_intended(self) -> int | None:
        """Open loop: sleep until the next ticket's intended start and return it; closed: None."""
        tickets = self.control.tickets.get(self.traffic.name)
        if tickets is None:
            return None
        intended = tickets.take()
        if intended is None:
            raise StopUser()
        delay_ns = intended - time.perf_counter_ns()
        if delay_ns > 0:
            gevent.sleep(delay_ns / 1e9)
        return intended

    def _begin(self) -> int | None:
        if not self.control.may_send():
            raise StopUser()
        intended = self._next_intended()
        if self.control.stopping:
            raise StopUser()
        return intended

    def _finish(self, intended_ns: int | None, error: BaseException | None) -> None:
        """Hand every finished record to the recorder and Locust; synthesise one if none came."""
        if not self._records and error is not None:
            now = time.perf_counter_ns()
            spec = self.traffic
            self._records.append(
                RequestRecord(
                    spec.method, spec.client.model, spec.client.version or "", spec.client.protocol, now, now, error
                )
            )
        while self._records:
            self._report(self._records.popleft(), intended_ns)

    def _report(self, record: RequestRecord, intended_ns: int | None) -> None:
        spec = self.traffic
        control = self.control
        late = intended_ns is not None and record.start_ns - intended_ns > LATE_THRESHOLD_NS
        error = record.error
        if error is None and record.cancelled:
            error = _Cancelled()
        kind = None
        if error is not None:
            kind = _kind_of(error)
            if kind == "connection":
                control.last_connection_error_ns = record.end_ns
        else:
            control.last_ok_ns = record.end_ns
        if spec.pattern == "decoupled" and error is None:
            control.recorder.record(self._stream_outcome(record, intended_ns, late))
        else:
            latency_us = record.duration_ns // 1000 if error is None else None
            response_us = (record.end_ns - intended_ns) // 1000 if intended_ns is not None else None
            control.recorder.record_request(spec.name, latency_us, kind, response_us, late)
        self.environment.events.request.fire(
            request_type=spec.pattern,
            name=spec.name,
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
        if intended_ns is not None:
            outcome.response_time_us = (record.end_ns - intended_ns) // 1000
        if arrivals:
            outcome.ttfr_us = (arrivals[0] - record.start_ns) // 1000
            outcome.gaps_us = [(b - a) // 1000 for a, b in itertools.pairwise(arrivals)]
        return outcome


class _Cancelled(Exception):
    kind = "cancelled"


class SyncUser(TritonUser):
    """``sync`` pattern: one blocking request at a time on a ``ModelClient``."""

    abstract = True

    def open_client(self) -> Any:
        from pytriton_client import ModelClient

        make = functools.partial(
            ModelClient,
            self.traffic.client.url,
            self.traffic.client.model,
            self.traffic.client.version,
            **self._preconfigured(),
            **self._client_kwargs(),
        )
        self._grpc = self.traffic.client.protocol == "grpc"
        return _bridge.run_in_thread(make) if self._grpc else make()

    def step(self) -> None:
        """Send one request and wait for it."""
        intended = self._begin()
        method = getattr(self._client, self.traffic.method)
        kwargs = self.traffic.call_kwargs()
        error: BaseException | None = None
        self.control.in_flight += 1
        try:
            if self._grpc:
                _bridge.run_in_thread(functools.partial(method, **kwargs))
            else:
                method(**kwargs)
        except Exception as exc:  # recorded through the observer (or synthesised below)
            error = exc
        finally:
            self.control.in_flight -= 1
        self._finish(intended, error)


class DecoupledUser(TritonUser):
    """``decoupled`` pattern: one stream at a time on a ``DecoupledModelClient``, in a native thread."""

    abstract = True

    def open_client(self) -> Any:
        from pytriton_client import DecoupledModelClient

        make = functools.partial(
            DecoupledModelClient,
            self.traffic.client.url,
            self.traffic.client.model,
            self.traffic.client.version,
            **self._preconfigured(),
            **self._client_kwargs(),
        )
        return _bridge.run_in_thread(make)

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _bridge.run_in_thread(client.close)

    @staticmethod
    def _consume(method: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        for _ in method(**kwargs):
            pass

    def step(self) -> None:
        """Send one request and consume its whole stream."""
        intended = self._begin()
        method = getattr(self._client, self.traffic.method)
        error: BaseException | None = None
        self.control.in_flight += 1
        try:
            _bridge.run_in_thread(self._consume, method, self.traffic.call_kwargs())
        except Exception as exc:
            error = exc
        finally:
            self.control.in_flight -= 1
        self._finish(intended, error)


class _ConcurrentUser(TritonUser):
    """Keeps up to ``in_flight`` requests outstanding; completions wake the user via the hub."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._waker = _bridge.ThreadWaker()
        self._pending: dict[concurrent.futures.Future[Any], int | None] = {}

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        """Start one request; returns a future completed by another thread."""
        raise NotImplementedError

    def step(self) -> None:
        """Top up the outstanding requests, then wait for at least one to finish."""
        open_loop = self.traffic.name in self.control.tickets
        limit = 1 if open_loop else max(self.traffic.in_flight, 1)
        while len(self._pending) < limit:
            try:
                intended = self._begin()
            except StopUser:
                if not self._pending:
                    raise
                break
            future = self.submit(self.traffic.call_kwargs())
            self.control.in_flight += 1
            self._pending[future] = intended
            future.add_done_callback(self._waker.notify)
        self._collect()

    def drain(self) -> None:
        while self._pending:
            self._collect()

    def _collect(self) -> None:
        """Wait until at least one outstanding request is done, then record every finished one."""
        self._waker.event.wait()
        self._waker.event.clear()
        for future in [f for f in self._pending if f.done()]:
            intended = self._pending.pop(future)
            self.control.in_flight -= 1
            self._finish(intended, future.exception())

    def on_stop(self) -> None:
        for future in self._pending:
            future.cancel()
        self.control.in_flight -= len(self._pending)
        self._pending.clear()
        self._waker.close()
        super().on_stop()


class FuturesUser(_ConcurrentUser):
    """``futures`` pattern: a ``FuturesModelClient`` with ``in_flight`` worker threads."""

    abstract = True

    def open_client(self) -> Any:
        from pytriton_client import FuturesModelClient

        workers = max(self.traffic.in_flight, 1)
        return FuturesModelClient(
            self.traffic.client.url,
            self.traffic.client.model,
            self.traffic.client.version,
            max_workers=workers,
            max_queue_size=workers,
            **self._client_kwargs(),
        )

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _bridge.run_in_thread(client.close)

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = getattr(self._client, self.traffic.method)(**kwargs)
        return future


class AsyncioUser(_ConcurrentUser):
    """``asyncio`` pattern: an ``AsyncioModelClient`` on the process's asyncio loop thread."""

    abstract = True

    def _loop(self) -> _bridge.AsyncioLoopThread:
        loop_thread = self.control.loop_thread
        if loop_thread is None:
            raise RuntimeError("asyncio traffic needs the run's asyncio loop thread")
        return loop_thread

    def open_client(self) -> Any:
        from pytriton_client import AsyncioModelClient

        spec = self.traffic.client
        kwargs = {**self._preconfigured(), **self._client_kwargs()}

        async def _make() -> Any:
            return AsyncioModelClient(spec.url, spec.model, spec.version, **kwargs)

        return self._loop().run(_make())

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._loop().run(client.close())

    def submit(self, kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        coroutine = getattr(self._client, self.traffic.method)(**kwargs)
        return self._loop().submit(coroutine)


USER_BASES: dict[str, type[TritonUser]] = {
    "sync": SyncUser,
    "futures": FuturesUser,
    "asyncio": AsyncioUser,
    "decoupled": DecoupledUser,
}


def make_user_class(
    spec: TrafficSpec, control: RunControl, *, fixed_count: int = 0, weight: float = 1
) -> type[TritonUser]:
    """A concrete Locust user class for one traffic entry."""
    base = USER_BASES[spec.pattern]
    safe = "".join(ch if ch.isalnum() else "_" for ch in spec.name)
    attrs: dict[str, Any] = {
        "traffic": spec,
        "control": control,
        "fixed_count": fixed_count,
        "weight": weight,
        "abstract": False,
        "__module__": __name__,
        "wait_time": constant_pacing(spec.pacing_s) if spec.pacing_s > 0 else constant(0),
    }
    return type(f"{safe}_{spec.pattern}_user", (base,), attrs)
