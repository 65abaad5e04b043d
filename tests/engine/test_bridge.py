"""Greenlets waiting on real threads and on the asyncio loop thread, without blocking the hub."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import gevent
import gevent.event
import gevent.threadpool
import pytest

from loadtest.engine import _bridge


def test_wait_future_lets_other_greenlets_run() -> None:
    executor = concurrent.futures.ThreadPoolExecutor(1)
    greenlet_ran = threading.Event()
    gevent.spawn(greenlet_ran.set)
    # The thread's call can only end early if the greenlet runs while the main greenlet waits: a
    # wait that blocked the hub would make it time out and return False.
    result = _bridge.wait_future(executor.submit(greenlet_ran.wait, 10))
    executor.shutdown()
    assert result is True


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


@pytest.fixture
def hub_errors(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Every error the gevent hub is asked to handle (and would print) during the test."""
    hub = gevent.get_hub()
    handle_error = hub.handle_error
    seen: list[tuple[object, ...]] = []

    def record(*info: object) -> None:
        seen.append(info)
        handle_error(*info)

    monkeypatch.setattr(hub, "handle_error", record)
    return seen


def test_run_in_thread_reraises_in_the_greenlet_and_prints_nothing(
    capfd: pytest.CaptureFixture[str], hub_errors: list[tuple[object, ...]]
) -> None:
    def fail() -> None:
        raise KeyError("from the thread")

    with pytest.raises(KeyError, match="from the thread"):
        _bridge.run_in_thread(fail)
    # gevent hands a thread's error to the hub before it wakes the waiting greenlet: by now it is done.
    assert hub_errors == []
    assert capfd.readouterr().err == ""


def test_a_thread_call_failing_after_its_greenlet_was_killed_prints_nothing(
    capfd: pytest.CaptureFixture[str], hub_errors: list[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[gevent.event.AsyncResult] = []
    submitted = gevent.event.Event()
    spawn = gevent.threadpool.ThreadPool.spawn

    def spawn_and_keep(pool: gevent.threadpool.ThreadPool, *args: object, **kwargs: object) -> object:
        result = spawn(pool, *args, **kwargs)
        calls.append(result)
        submitted.set()
        return result

    monkeypatch.setattr(gevent.threadpool.ThreadPool, "spawn", spawn_and_keep)
    release = threading.Event()

    def fail_later() -> None:
        release.wait(10)
        raise ConnectionError("channel closed under the call")

    waiter = gevent.spawn(_bridge.run_in_thread, fail_later)
    assert submitted.wait(10)  # the waiter handed the call to a pool thread
    waiter.kill()  # the call goes on in its thread, as when Locust kills a user mid-request
    release.set()
    [call] = calls
    call.wait(10)  # the hub has taken the thread's outcome (and would have printed an error by now)
    assert call.ready()
    assert hub_errors == []
    assert capfd.readouterr().err == ""


def test_thread_waker_wakes_from_another_thread() -> None:
    waker = _bridge.ThreadWaker()
    threading.Timer(0.05, waker.notify).start()
    assert waker.event.wait(timeout=5)
    waker.close()
