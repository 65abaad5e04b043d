"""Where a gRPC request's client cost and latency go: raw Python gRPC next to the shape `tritonload` runs.

    .venv/bin/python tests/benchmarks/bench_grpc_paths.py [--mode cpu|open|both] [--rounds 3] [--seconds 4]
        [--users 8] [--rate 1500] [--variants threads,worker,aio,worker-aio]

One embedded Triton serves `Linear`; every variant sends the same pre-serialized
`ModelInferRequest` (one FP32[1, 2] row) through a raw `unary_unary` multi-callable without
serializers, so only the way calls are made and waited for differs:

- ``threads``: one OS thread per sender, each with its own channel, blocking calls (the floor of
  the synchronous Python gRPC stack; what a plain tritonclient thread loop does on the wire);
- ``worker``: what the ``sync`` user did over gRPC before its loop moved into its thread: one greenlet
  per sender in the gevent hub, its calls run by a ``BlockingWorker`` thread of its own (below), each
  with its own channel;
- ``aio``: one ``grpc.aio`` channel on one asyncio loop, one coroutine per sender;
- ``worker-aio``: greenlets handing each call to one ``grpc.aio`` channel on one asyncio loop thread
  and waiting on a libev async watcher (the "one aio channel per process" idea);
- ``thread-loop`` (``--mode cpu`` only): each sender's thread sends back to back by itself and one hub
  greenlet collects the finished calls every 5 ms: the shape of the ``sync`` gRPC user now
  (``loadtest/engine/users/_thread_loop.py``), without its admission and recording.

``--mode cpu``: closed loop, ``--users`` senders back to back; prints requests/s, CPU µs per
request (user+system of this process, all threads, over the measured span: the server is another
process) and context switches per request. ``--mode open``: constant arrivals at ``--rate``/s
shared by 4 senders; prints p50/p90/p99 of the latency timed around the call itself (in the thread
that makes it) and of the send delay after the intended time; ``worker`` also prints ``worker hop``:
the latency the waiting greenlet sees (the call plus the hand-over to the thread and back).

Variants run one after the other in every round, their order the same, rounds alternating the
machine's drift over all of them. On a busy machine CPU per request and latency swing with the load
(say so next to any figure); compare variants within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import queue
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

import gevent  # noqa: E402
import grpc  # noqa: E402
from tritonclient.grpc import service_pb2  # noqa: E402

from loadtest.embedded import EmbeddedTriton  # noqa: E402
from loadtest.engine._bridge import AsyncioLoopThread, ThreadWaker  # noqa: E402
from pytriton_client._grpc import FAST_CHANNEL_OPTIONS, MODEL_INFER  # noqa: E402

OPEN_SENDERS = 4
COLLECT_EVERY_S = 0.005
CLOSED_ONLY = {"thread-loop"}
WARMUP_CALLS = 20


def request_bytes() -> bytes:
    """One Linear request, serialized."""
    message = service_pb2.ModelInferRequest(model_name="Linear")
    tensor = message.inputs.add()
    tensor.name, tensor.datatype = "INPUT_1", "FP32"
    tensor.shape.extend([1, 2])
    message.raw_input_contents.append(np.array([[1.0, 2.0]], dtype=np.float32).tobytes())
    data: bytes = message.SerializeToString()
    return data


def sync_call(target: str) -> Callable[..., Any]:
    """A blocking multi-callable on a channel of its own (the fast path's channel options)."""
    return grpc.insecure_channel(target, options=list(FAST_CHANNEL_OPTIONS)).unary_unary(MODEL_INFER)


def usage() -> tuple[float, int]:
    """CPU seconds (user+system, all threads) and context switches of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


class BlockingWorker:
    """One OS thread that runs one greenlet's blocking calls, one at a time (the former ``sync`` gRPC user's
    hop): :meth:`call` queues a call and the greenlet waits on a libev async watcher for its outcome."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._waker = ThreadWaker()
        self._outcome: tuple[bool, Any] | None = None
        threading.Thread(target=self._main, daemon=True).start()

    def _main(self) -> None:
        while (function := self._queue.get()) is not None:
            try:
                self._outcome = (True, function())
            except Exception as exc:
                self._outcome = (False, exc)
            self._waker.notify()

    def call(self, function: Callable[[], Any]) -> Any:
        self._outcome = None
        self._queue.put(function)
        while (outcome := self._outcome) is None:
            self._waker.event.wait()
            self._waker.event.clear()
        succeeded, value = outcome
        if not succeeded:
            raise value
        return value

    def close(self) -> None:
        self._queue.put(None)
        self._waker.close()


# -- senders: ``plan(sender)`` yields the intended send times (ns) of one sender, or None (closed loop) -------
class Plan:
    """When each sender sends: back to back until ``end_ns`` (closed), or at its share of constant arrivals."""

    def __init__(self, senders: int, seconds: float, rate: float | None) -> None:
        self.start_ns = time.perf_counter_ns() + 300_000_000  # after every sender's warm-up
        self.end_ns = self.start_ns + int(seconds * 1e9)
        self.senders, self.rate = senders, rate

    def slots(self, sender: int) -> list[int] | None:
        if self.rate is None:
            return None
        step_ns = 1e9 / self.rate
        count = int((self.end_ns - self.start_ns) / step_ns)
        return [self.start_ns + int(i * step_ns) for i in range(sender, count, self.senders)]


class Tally:
    """What the senders measured: latencies, send delays, hop latencies (ns), and the request count."""

    def __init__(self) -> None:
        self.latency: list[int] = []
        self.delay: list[int] = []
        self.hop: list[int] = []
        self.count = 0


def _wait_until(when_ns: int, sleep: Callable[[float], Any]) -> int:
    delay_ns = when_ns - time.perf_counter_ns()
    if delay_ns > 0:
        sleep(delay_ns / 1e9)
    return when_ns


def run_threads(target: str, plan: Plan, tally: Tally) -> None:
    message = request_bytes()

    def sender(index: int) -> None:
        call = sync_call(target)
        for _ in range(WARMUP_CALLS):
            call(message, timeout=10)
        slots = plan.slots(index)
        _wait_until(plan.start_ns, time.sleep)
        for intended in slots if slots is not None else iter(int, 1):
            if slots is not None:
                _wait_until(intended, time.sleep)
            start = time.perf_counter_ns()
            if slots is None and start >= plan.end_ns:
                break
            call(message, timeout=10)
            tally.latency.append(time.perf_counter_ns() - start)
            tally.delay.append(start - intended if slots is not None else 0)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(plan.senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_worker(target: str, plan: Plan, tally: Tally) -> None:
    message = request_bytes()

    def sender(index: int) -> None:
        worker, call = BlockingWorker(), sync_call(target)

        def timed() -> tuple[int, int]:
            start = time.perf_counter_ns()
            call(message, timeout=10)
            return start, time.perf_counter_ns()

        for _ in range(WARMUP_CALLS):
            worker.call(timed)
        slots = plan.slots(index)
        _wait_until(plan.start_ns, gevent.sleep)
        for intended in slots if slots is not None else iter(int, 1):
            if slots is not None:
                _wait_until(intended, gevent.sleep)
            outer = time.perf_counter_ns()
            if slots is None and outer >= plan.end_ns:
                break
            start, end = worker.call(timed)
            tally.hop.append(time.perf_counter_ns() - outer)
            tally.latency.append(end - start)
            tally.delay.append(start - intended if slots is not None else 0)
        worker.close()

    gevent.joinall([gevent.spawn(sender, i) for i in range(plan.senders)])


async def _aio_senders(call: Callable[..., Any], message: bytes, plan: Plan, tally: Tally) -> None:
    async def sender(index: int) -> None:
        slots = plan.slots(index)
        await asyncio.sleep(max(plan.start_ns - time.perf_counter_ns(), 0) / 1e9)
        for intended in slots if slots is not None else iter(int, 1):
            if slots is not None:
                await asyncio.sleep(max(intended - time.perf_counter_ns(), 0) / 1e9)
            start = time.perf_counter_ns()
            if slots is None and start >= plan.end_ns:
                break
            await call(message, timeout=10)
            tally.latency.append(time.perf_counter_ns() - start)
            tally.delay.append(start - intended if slots is not None else 0)

    await asyncio.gather(*(sender(i) for i in range(plan.senders)))


def run_aio(target: str, plan: Plan, tally: Tally) -> None:
    message = request_bytes()

    async def main() -> None:
        channel = grpc.aio.insecure_channel(target, options=list(FAST_CHANNEL_OPTIONS))
        call = channel.unary_unary(MODEL_INFER)
        for _ in range(WARMUP_CALLS):
            await call(message, timeout=10)
        await _aio_senders(call, message, plan, tally)
        await channel.close()

    asyncio.run(main())


def run_worker_aio(target: str, plan: Plan, tally: Tally) -> None:
    message = request_bytes()
    loop_thread = AsyncioLoopThread("bench-aio").start()
    loop = loop_thread.loop
    channel: Any = None

    async def open_channel() -> Any:
        nonlocal channel
        channel = grpc.aio.insecure_channel(target, options=list(FAST_CHANNEL_OPTIONS))
        return channel.unary_unary(MODEL_INFER)

    call = loop_thread.run(open_channel())

    def sender(index: int) -> None:
        waker = ThreadWaker()
        box: list[Any] = []

        def start() -> None:
            def done(future: asyncio.Future[Any]) -> None:
                box.append((future, time.perf_counter_ns()))
                waker.notify()

            box.append(time.perf_counter_ns())
            asyncio.ensure_future(call(message, timeout=10)).add_done_callback(done)

        def exchange() -> tuple[int, int]:
            box.clear()
            loop.call_soon_threadsafe(start)
            while len(box) < 2:
                waker.event.wait()
                waker.event.clear()
            begun, (future, end) = box
            future.result()
            return begun, end

        for _ in range(WARMUP_CALLS):
            exchange()
        slots = plan.slots(index)
        _wait_until(plan.start_ns, gevent.sleep)
        for intended in slots if slots is not None else iter(int, 1):
            if slots is not None:
                _wait_until(intended, gevent.sleep)
            outer = time.perf_counter_ns()
            if slots is None and outer >= plan.end_ns:
                break
            begun, end = exchange()
            tally.hop.append(time.perf_counter_ns() - outer)
            tally.latency.append(end - begun)
            tally.delay.append(begun - intended if slots is not None else 0)
        waker.close()

    gevent.joinall([gevent.spawn(sender, i) for i in range(plan.senders)])
    loop_thread.run(channel.close())
    loop_thread.stop()


def run_thread_loop(target: str, plan: Plan, tally: Tally) -> None:
    """Closed loop only: each sender's thread sends back to back; a hub greenlet collects what finished
    every ``COLLECT_EVERY_S``: no hand-over and no wake-up of the hub per request."""
    message = request_bytes()
    finished: collections.deque[int] = collections.deque()

    def sender() -> None:
        call = sync_call(target)
        for _ in range(WARMUP_CALLS):
            call(message, timeout=10)
        _wait_until(plan.start_ns, time.sleep)
        while (start := time.perf_counter_ns()) < plan.end_ns:
            call(message, timeout=10)
            finished.append(time.perf_counter_ns() - start)

    def collector() -> None:  # the hub side: records what finished
        while len(tally.latency) < 1 or any(thread.is_alive() for thread in threads) or finished:
            gevent.sleep(COLLECT_EVERY_S)
            while finished:
                tally.latency.append(finished.popleft())
                tally.delay.append(0)

    threads = [threading.Thread(target=sender) for _ in range(plan.senders)]
    for thread in threads:
        thread.start()
    gevent.spawn(collector).join()
    for thread in threads:
        thread.join()


VARIANTS: dict[str, Callable[[str, Plan, Tally], None]] = {
    "threads": run_threads,
    "worker": run_worker,
    "aio": run_aio,
    "worker-aio": run_worker_aio,
    "thread-loop": run_thread_loop,
}


def _percentiles(values_ns: list[int]) -> str:
    if not values_ns:
        return "-"
    p50, p90, p99 = np.percentile(np.array(values_ns) / 1000, [50, 90, 99])
    return f"p50 {p50:6.0f}  p90 {p90:6.0f}  p99 {p99:6.0f} µs"


def measure(name: str, target: str, args: argparse.Namespace, rate: float | None) -> str:
    """Run one variant once; its printed line."""
    senders = args.users if rate is None else OPEN_SENDERS
    plan, tally = Plan(senders, args.seconds, rate), Tally()
    cpu_before, switches_before, began = 0.0, 0, 0.0

    def mark() -> None:  # at the plan's start, after the warm-up
        nonlocal cpu_before, switches_before, began
        _wait_until(plan.start_ns, time.sleep)
        cpu_before, switches_before = usage()
        began = time.perf_counter()

    marker = threading.Thread(target=mark)
    marker.start()
    VARIANTS[name](target, plan, tally)
    marker.join()
    cpu_after, switches_after = usage()
    count = len(tally.latency)
    if rate is None:
        elapsed = time.perf_counter() - began
        cpu_us = (cpu_after - cpu_before) / max(count, 1) * 1e6
        switches = (switches_after - switches_before) / max(count, 1)
        return (
            f"{name:11s} {count / elapsed:7.0f} req/s  {cpu_us:5.0f} µs CPU/request  {switches:5.1f} switches/request"
        )
    line = f"{name:11s} n={count:6d}  latency {_percentiles(tally.latency)}  send delay {_percentiles(tally.delay)}"
    if tally.hop:
        line += f"\n{'':11s} worker hop {_percentiles(tally.hop)}"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["cpu", "open", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per variant and round")
    parser.add_argument("--users", type=int, default=8, help="closed-loop senders (cpu mode)")
    parser.add_argument("--rate", type=float, default=1500.0, help="open-loop arrivals per second")
    parser.add_argument(
        "--variants",
        default="threads,worker,aio,worker-aio,thread-loop",
        help="comma-separated, of " + ", ".join(VARIANTS),
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    modes = ["cpu", "open"] if args.mode == "both" else [args.mode]
    with EmbeddedTriton(models=["Linear"]) as server:
        target = f"127.0.0.1:{server.grpc_port}"
        for mode in modes:
            rate = None if mode == "cpu" else args.rate
            what = f"closed loop, {args.users} senders" if rate is None else f"open loop, {rate:g}/s"
            print(f"== {what}", flush=True)
            for rnd in range(1, args.rounds + 1):
                for name in names:
                    if rate is not None and name in CLOSED_ONLY:
                        continue
                    print(f"round {rnd}  {measure(name, target, args, rate)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
