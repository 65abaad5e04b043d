"""Greenlets waiting on real threads and on the asyncio loop thread, without blocking the hub."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import gevent
import pytest

from loadtest.engine import _bridge


def test_wait_future_lets_other_greenlets_run() -> None:
    executor = concurrent.futures.ThreadPoolExecutor(1)
    ticks: list[float] = []

    def ticker() -> None:
        for _ in range(10):
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    background = gevent.spawn(ticker)
    result = _bridge.wait_future(executor.submit(lambda: (time.sleep(0.2), 42)[1]))
    background.join()
    executor.shutdown()
    assert result == 42
    assert len(ticks) == 10  # the ticker ran while the main greenlet waited


def test_wait_future_needs_no_other_greenlet_to_keep_the_hub_alive() -> None:
    executor = concurrent.futures.ThreadPoolExecutor(1)
    assert _bridge.wait_future(executor.submit(lambda: (time.sleep(0.05), "done")[1])) == "done"
    executor.shutdown()


def test_asyncio_loop_thread_runs_coroutines_in_its_own_thread() -> None:
    loop = _bridge.AsyncioLoopThread().start()
    try:

        async def where() -> int:
            await asyncio.sleep(0.01)
            return threading.get_ident()

        assert loop.run(where()) != threading.get_ident()
        futures = [loop.submit(asyncio.sleep(0.05, result=i)) for i in range(20)]
        assert [_bridge.wait_future(f) for f in futures] == list(range(20))
    finally:
        loop.stop()


def test_run_in_thread_returns_the_result() -> None:
    assert _bridge.run_in_thread(lambda a, b: a + b, 2, 3) == 5


def test_run_in_thread_reraises_in_the_greenlet_and_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    def fail() -> None:
        raise KeyError("from the thread")

    with pytest.raises(KeyError, match="from the thread"):
        _bridge.run_in_thread(fail)
    gevent.sleep(0.05)
    assert capfd.readouterr().err == ""


def test_a_thread_call_failing_after_its_greenlet_was_killed_prints_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    release = threading.Event()
    finished = threading.Event()

    def fail_later() -> None:
        release.wait(5)
        finished.set()
        raise ConnectionError("channel closed under the call")

    waiter = gevent.spawn(_bridge.run_in_thread, fail_later)
    gevent.sleep(0.05)
    waiter.kill()  # the call goes on in its thread, as when Locust kills a user mid-request
    release.set()
    assert finished.wait(5)
    gevent.sleep(0.1)  # let the hub take the thread's outcome
    assert capfd.readouterr().err == ""


def test_thread_waker_wakes_from_another_thread() -> None:
    waker = _bridge.ThreadWaker()
    threading.Timer(0.05, waker.notify).start()
    assert waker.event.wait(timeout=5)
    waker.close()
