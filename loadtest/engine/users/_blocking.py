"""Users whose request blocks until it is done: ``sync`` and ``decoupled``.

Owns how a blocking call waits without blocking the gevent hub: ``sync`` over HTTP runs in the hub
(the HTTP transport is gevent-native); ``sync`` over gRPC runs its whole request loop in a thread of
each user's own (``_thread_loop.RequestLoop``: admission, tickets, the call) and its greenlet collects
the finished requests every few milliseconds; every ``decoupled`` stream runs in gevent's native thread
pool. Owns too the ``sync`` fast path's shared pool of encoded requests. Recording is the base user's,
in the hub.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from locust.exception import StopUser

from loadtest.engine import _bridge
from loadtest.engine.control import RunControl
from loadtest.engine.model import TrafficEntry
from loadtest.engine.rules import is_late, response_time_us
from loadtest.engine.users._base import TritonUser
from loadtest.engine.users._beat import BEAT
from loadtest.engine.users._thread_loop import RequestLoop
from pytriton_client.observer import RequestRecord


class SyncUser(TritonUser):
    """``sync`` pattern: one blocking request at a time on a ``ModelClient``.

    On the fast path (``traffic.fast_path``) every payload is sent pre-encoded: the entry's pool is
    encoded once, by its first user, and the users take the encoded requests in turn
    (``ModelClient.infer_encoded``); the ordinary path builds each request from the payload's arrays.
    Over gRPC the requests are sent by a thread of the user's own (:meth:`request_loop`).
    """

    abstract = True
    _encoded: Iterator[Any] | None = None
    _loop: RequestLoop | None = None
    """gRPC: the thread sending this user's requests, while it runs."""
    _seen: list[RequestRecord] | None = None
    """gRPC: where the client's observer puts its records, in the request thread."""

    def client_kwargs(self, *, preconfigured: bool = True) -> dict[str, Any]:
        """The base's, with the observer of the request thread over gRPC."""
        kwargs = super().client_kwargs(preconfigured=preconfigured)
        if self._seen is not None:
            kwargs["observer"] = self._seen.append
        return kwargs

    def open_client(self) -> Any:
        from pytriton_client import ModelClient

        if self.traffic.client.protocol == "grpc":
            self._seen = []
        make = functools.partial(ModelClient, *self.client_args(), **self.client_kwargs())
        client = _bridge.run_in_thread(make) if self._seen is not None else make()
        if self.traffic.fast_path:
            self._encoded = encoded_requests(self.traffic, self.control, client)
        return client

    def close_client(self) -> None:
        loop = self._loop
        if loop is not None:
            loop.halt()
        super().close_client()

    def _sender(self) -> Callable[[], Any]:
        """One request on this user's client, as the request thread makes it."""
        client, encoded, control = self._client, self._encoded, self.control
        if encoded is not None:
            infer_encoded = client.infer_encoded
            # The answer's size is only reported to Locust's statistics: not parsed when they are not fed.
            return lambda: infer_encoded(next(encoded), measure=control.feed_locust)
        return functools.partial(getattr(client, self.traffic.method), **self.traffic.call_kwargs())

    def request_loop(self) -> None:
        """gRPC: start the request thread; the process's beat collects what it finished (in the hub, with
        :meth:`_collect`) and wakes this greenlet only when the thread ended, Locust asked the user to stop
        or the run is stopping (then the thread is halted; seen at the next collection or poll), until its
        loop ends. A kill (Locust's stop
        timeout) halts the thread too, and what it finished is still recorded; a request it has out then is
        left to the run's end (counted as unfinished there if it is still out). HTTP: the base's loop, in
        the hub."""
        if self._seen is None:
            super().request_loop()
            return
        control = self.control

        def collect() -> bool:  # at a beat: record what the thread finished; wake the greenlet when it has to act
            ended = loop.ended  # read before collecting: everything it finished is queued by then
            self._collect(loop)
            return ended or self.asked_to_stop() or control.stopping  # a busy user sees a stop within a beat

        member = BEAT.join(lambda: self.asked_to_stop() or control.stopping, collect)
        loop = self._loop = RequestLoop(
            control,
            self.traffic.name,
            self._sender(),
            self._seen,
            pacing_s=self.traffic.pacing_s,
            name=f"tritonload-{self.traffic.name}",
            notify=lambda: BEAT.notify(member),
        ).start()
        try:
            while not loop.ended:
                if self.asked_to_stop() or control.stopping:
                    loop.halt()  # wakes a thread waiting for its next start
                BEAT.wait(member)
        finally:
            BEAT.leave(member)
            loop.halt()
            self._collect(loop)
            self._loop = None
        if loop.failure is not None:
            raise loop.failure
        raise StopUser()

    def _collect(self, loop: RequestLoop) -> None:
        """Record what ``loop`` finished: successes with one record each in one batch (the recorder's lock
        taken once), anything else (errors, several or no records, Locust's statistics fed) one by one."""
        finished = loop.take()
        if not finished:
            return
        control = self.control
        batch = not control.feed_locust
        latencies_us: list[int] = []
        response_times_us: list[int] = []
        late = 0
        last_ok_ns = 0
        for intended, error, records in finished:
            if batch and error is None and len(records) == 1 and records[0].error is None:
                record = records[0]  # the same rules as the one-by-one path (TritonUser._report)
                latencies_us.append(record.duration_ns // 1000)
                response_us = response_time_us(record.end_ns, intended)
                if response_us is not None:  # open loop
                    response_times_us.append(response_us)
                    late += is_late(record.start_ns, intended)
                last_ok_ns = max(last_ok_ns, record.end_ns)
            else:
                self._records.extend(records)
                self.finish(intended, error)
        if latencies_us:
            control.recorder.record_exchanges(self.traffic.name, latencies_us, response_times_us, late)
            control.last_ok_ns = max(control.last_ok_ns, last_ok_ns)
            control.last_completion_ns = max(control.last_completion_ns, last_ok_ns)

    def step(self) -> None:
        """Send one request and wait for it (HTTP, in the hub)."""
        intended = self.begin()
        encoded = self._encoded
        args: tuple[Any, ...]
        if encoded is not None:
            method: Callable[..., Any] = self._client.infer_encoded
            args, kwargs = (next(encoded),), {}
        else:
            method = getattr(self._client, self.traffic.method)
            args, kwargs = (), self.traffic.call_kwargs()
        error: BaseException | None = None
        token = self.control.started(self.traffic.name)
        try:
            method(*args, **kwargs)
        except Exception as exc:  # recorded through the observer (or synthesised by finish)
            error = exc
        finally:
            self.control.ended(token)
        self.finish(intended, error)


def encoded_requests(traffic: TrafficEntry, control: RunControl, client: Any) -> Iterator[Any] | None:
    """The entry's payloads in wire form, taken in turn by all its users; encoded once per run, by the
    first user that asks. None when they cannot be pre-encoded (the ordinary path then runs; the
    entry's ``info["fast_path"]`` says so in summary.json). gRPC users' request threads take from it at
    once: ``next`` on an ``itertools.cycle`` over a list runs no Python code, so the GIL makes it atomic."""
    shared = control.encoded.get(traffic.name)
    if shared is not None:
        return shared
    items = getattr(traffic.payloads, "items", None)
    if not items or not getattr(client, "can_encode", False):
        traffic.info["fast_path"] = False
        return None
    encode = client.encode_sample if traffic.method == "infer_sample" else client.encode_batch
    extra: dict[str, Any] = {}
    if traffic.parameters:
        extra["parameters"] = dict(traffic.parameters)
    if traffic.headers:
        extra["headers"] = dict(traffic.headers)
    shared = control.encoded[traffic.name] = itertools.cycle([encode(**item, **extra) for item in items])
    return shared


class DecoupledUser(TritonUser):
    """``decoupled`` pattern: one stream at a time on a ``DecoupledModelClient``, in a native thread."""

    abstract = True

    def open_client(self) -> Any:
        from pytriton_client import DecoupledModelClient

        return _bridge.run_in_thread(
            functools.partial(DecoupledModelClient, *self.client_args(), **self.client_kwargs())
        )

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
        intended = self.begin()
        method = getattr(self._client, self.traffic.method)
        error: BaseException | None = None
        token = self.control.started(self.traffic.name)
        try:
            _bridge.run_in_thread(self._consume, method, self.traffic.call_kwargs())
        except Exception as exc:
            error = exc
        finally:
            self.control.ended(token)
        self.finish(intended, error)


__all__ = ["DecoupledUser", "SyncUser", "encoded_requests"]
