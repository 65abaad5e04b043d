"""The request thread of ``sync`` gRPC users (``users._thread_loop.RequestLoop``), without a server.

Pure unit tests of its rules with a stand-in ``send``: several threads share one run control, its
request budget and its open-loop tickets; what they hand over is checked against what was admitted.
The same loop against a real Triton is in ``test_grpc_loop.py``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from loadtest.engine.control import RunControl
from loadtest.engine.rules import Tickets
from loadtest.engine.users._thread_loop import COLLECT_EVERY_S, RequestLoop, next_beat_s
from loadtest.recording.recorder import Recorder
from pytriton_client.observer import RequestRecord

JOIN_S = 10.0  # generous: the box is shared; every loop here ends in milliseconds when it works


def _control(max_requests: int | None = None) -> RunControl:
    recorder = Recorder(highest_us=1_000_000)
    recorder.start_measuring(time.perf_counter_ns())
    return RunControl(recorder, environment=None, max_requests=max_requests)


def _loops(control: RunControl, count: int, send: Callable[[list[RequestRecord]], None]) -> list[RequestLoop]:
    loops = []
    for _ in range(count):
        seen: list[RequestRecord] = []
        loops.append(RequestLoop(control, "t", lambda seen=seen: send(seen), seen))  # type: ignore[misc]
    return loops


def _record(error: BaseException | None = None) -> RequestRecord:
    now = time.perf_counter_ns()
    return RequestRecord("infer_sample", "m", "", "grpc", now, now, error)


def _run(loops: list[RequestLoop]) -> None:
    for loop in loops:
        loop.start()
    for loop in loops:
        assert loop.join(JOIN_S), "a request thread did not end"
        assert loop.ended and loop.failure is None


def test_threads_sharing_a_budget_send_exactly_max_requests() -> None:
    control = _control(max_requests=500)
    sent = []

    def send(seen: list[RequestRecord]) -> None:
        sent.append(1)
        seen.append(_record())

    loops = _loops(control, 6, send)
    _run(loops)
    finished = [item for loop in loops for item in loop.take()]
    assert len(sent) == len(finished) == 500
    assert control.budget.exhausted and control.in_flight == 0
    assert all(intended is None and error is None and len(records) == 1 for intended, error, records in finished)


def test_a_failed_call_is_handed_over_once_with_its_records() -> None:
    control = _control(max_requests=40)
    calls = iter(range(1000))

    def send(seen: list[RequestRecord]) -> None:
        if next(calls) % 2:
            error = RuntimeError("model failed")
            seen.append(_record(error))
            raise error
        seen.append(_record())

    loops = _loops(control, 3, send)
    _run(loops)
    finished = [item for loop in loops for item in loop.take()]
    assert len(finished) == 40
    failed = [(error, records) for _, error, records in finished if error is not None]
    assert len(failed) == 20
    assert all(len(records) == 1 and records[0].error is error for error, records in failed)


def test_open_loop_tickets_are_each_used_once_across_threads() -> None:
    control = _control()
    start_ns = time.perf_counter_ns()
    control.tickets["t"] = Tickets(lambda n: n * 0.001 if n < 60 else None, start_ns)
    loops = _loops(control, 4, lambda seen: None)
    _run(loops)
    intended = sorted(item[0] for loop in loops for item in loop.take())  # type: ignore[type-var]
    assert intended == [start_ns + n * 1_000_000 for n in range(60)]


def test_a_replaced_schedule_voids_the_tickets_of_the_old_one() -> None:
    control = _control()
    now_ns = time.perf_counter_ns()
    old = Tickets(lambda n: 3600.0 if n < 10 else None, now_ns)  # an hour out: only taken, never used
    control.tickets["t"] = old
    loops = _loops(control, 2, lambda seen: None)
    for loop in loops:
        loop.start()
    deadline = time.monotonic() + JOIN_S
    while old.issued < 2 and time.monotonic() < deadline:  # both threads hold an old ticket and wait
        time.sleep(0.001)
    assert old.issued == 2
    new_start = time.perf_counter_ns()
    control.tickets["t"] = Tickets(lambda n: n * 0.001 if n < 20 else None, new_start)
    for loop in loops:
        assert loop.join(JOIN_S)
    intended = sorted(item[0] for loop in loops for item in loop.take())  # type: ignore[type-var]
    assert intended == [new_start + n * 1_000_000 for n in range(20)]


@pytest.mark.parametrize("how", ["halt", "stopping"])
def test_a_thread_waiting_for_its_ticket_ends_when_told_to_stop(how: str) -> None:
    control = _control()
    control.tickets["t"] = Tickets(lambda n: 3600.0, time.perf_counter_ns())
    [loop] = _loops(control, 1, lambda seen: None)
    loop.start()
    while control.tickets["t"].issued < 1:
        time.sleep(0.001)
    began = time.monotonic()
    if how == "halt":
        loop.halt()
    else:
        control.stopping = True
    assert loop.join(JOIN_S) and time.monotonic() - began < JOIN_S
    assert loop.take() == [] and control.in_flight == 0


def test_no_request_starts_once_the_run_is_stopping() -> None:
    control = _control()
    loops = _loops(control, 4, lambda seen: None)
    for loop in loops:
        loop.start()
    while sum(len(loop._finished) for loop in loops) < 100:
        time.sleep(0.001)
    control.stopping = True
    with control._lock:  # the lock every start takes: tokens handed out after this were starts after the stop
        last_token = next(control._tokens)
    for loop in loops:
        assert loop.join(JOIN_S)
    assert next(control._tokens) == last_token + 1
    assert control.in_flight == 0


def test_pacing_spaces_the_starts_of_one_thread() -> None:
    control = _control(max_requests=5)
    starts: list[int] = []
    [loop] = _loops(control, 1, lambda seen: starts.append(time.perf_counter_ns()))
    _run([loop])
    assert len(starts) == 5
    # no pacing given: back to back; with pacing, at least pacing_s apart
    paced_control = _control(max_requests=4)
    paced: list[int] = []
    seen: list[RequestRecord] = []
    paced_loop = RequestLoop(paced_control, "t", lambda: paced.append(time.perf_counter_ns()), seen, pacing_s=0.02)
    _run([paced_loop])
    assert len(paced) == 4
    # paced from the start of each admission; the send follows it by microseconds (slack for that)
    assert all(b - a >= 19_000_000 for a, b in itertools.pairwise(paced))


def test_an_unexpected_error_in_the_thread_is_kept_for_the_greenlet() -> None:
    control = _control()
    control.tickets["t"] = Tickets(lambda n: 1 / 0, time.perf_counter_ns())  # a broken schedule
    [loop] = _loops(control, 1, lambda seen: None)
    loop.start()
    assert loop.join(JOIN_S)
    assert isinstance(loop.failure, ZeroDivisionError)


def test_every_user_collects_on_the_same_beat() -> None:
    beat_ns = round(COLLECT_EVERY_S * 1e9)
    for now_ns in (0, 1, beat_ns - 1, beat_ns, 7 * beat_ns + 123):
        wake_ns = now_ns + round(next_beat_s(now_ns) * 1e9)
        assert wake_ns % beat_ns == 0 and 0 < wake_ns - now_ns <= beat_ns


def test_the_beat_wakes_a_member_its_thread_notified_and_polls_the_others() -> None:
    import threading

    import gevent

    from loadtest.engine.users._beat import Beat

    beat = Beat()
    stop_asked = [False]
    idle = beat.join(lambda: stop_asked[0])
    busy = beat.join(lambda: False)
    woken: list[str] = []

    def waiter(member: Any, name: str) -> None:
        beat.wait(member)
        woken.append(name)

    busy_waiter, idle_waiter = gevent.spawn(waiter, busy, "busy"), gevent.spawn(waiter, idle, "idle")
    notifier = threading.Thread(target=beat.notify, args=(busy,))  # a request thread finished something
    notifier.start()
    notifier.join()
    busy_waiter.join(timeout=JOIN_S)
    assert woken == ["busy"]  # the idle member, not due, was left asleep
    stop_asked[0] = True  # Locust asks the idle user to stop: a poll finds it due
    idle_waiter.join(timeout=JOIN_S)
    assert woken == ["busy", "idle"] and busy_waiter.ready() and idle_waiter.ready()
    beat.leave(idle)
    beat.leave(busy)
    deadline = time.monotonic() + JOIN_S
    while beat._greenlet is not None and time.monotonic() < deadline:  # the beat ends with its last member
        gevent.sleep(COLLECT_EVERY_S)
    assert beat._greenlet is None and beat.members == 0


def test_the_beat_collects_for_a_notified_member_and_wakes_it_only_when_asked_to() -> None:
    import gevent

    from loadtest.engine.users._beat import Beat

    beat = Beat()
    collected: list[int] = []
    wake_next = [False]

    def collect() -> bool:  # runs in the beat's greenlet
        collected.append(len(collected))
        return wake_next[0]

    member = beat.join(lambda: False, collect)
    woken = gevent.event.Event()

    def waiter() -> None:
        beat.wait(member)
        woken.set()

    greenlet = gevent.spawn(waiter)
    beat.notify(member)
    deadline = time.monotonic() + JOIN_S
    while not collected and time.monotonic() < deadline:
        gevent.sleep(COLLECT_EVERY_S)
    assert collected == [0] and not woken.is_set()  # collected at a beat; the greenlet slept on
    wake_next[0] = True  # its thread ended: the next collect wakes it
    beat.notify(member)
    greenlet.join(timeout=JOIN_S)
    assert collected == [0, 1] and woken.is_set()
    beat.leave(member)


def test_what_a_collect_raised_is_raised_in_the_members_greenlet() -> None:
    import gevent

    from loadtest.engine.users._beat import Beat

    beat = Beat()
    member = beat.join(lambda: False, lambda: 1 / 0 > 0)
    other = beat.join(lambda: False, lambda: True)
    caught: list[BaseException] = []

    def waiter() -> None:
        try:
            beat.wait(member)
        except ZeroDivisionError as exc:
            caught.append(exc)

    failing, fine = gevent.spawn(waiter), gevent.spawn(beat.wait, other)
    beat.notify(member)
    beat.notify(other)
    gevent.joinall([failing, fine], timeout=JOIN_S)
    assert len(caught) == 1 and fine.successful()  # the beat went on serving the other member
    beat.leave(member)
    beat.leave(other)
