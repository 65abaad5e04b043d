"""Client CPU per request and latency: pytriton_client next to raw tritonclient, same run, same requests.

Starts its own embedded Triton (``Linear`` and ``streaming_bot``). For each case both sides (raw
``tritonclient`` and ours) are set up side by side, then run in alternating chunks of requests, so
load from other processes falls on both alike. It measures the client process's CPU time
(``time.process_time``: all threads of this process) per request and p50/p99 latency, and prints
the ratio ours/raw of CPU µs per request two ways: of the totals, and the median over chunk pairs
(robust to bursts of load from other processes on a shared machine).

Usage::

    .venv/bin/python tests/benchmarks/bench_clients.py [--requests 4000] [--chunk 80]
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadtest.embedded import EmbeddedTriton

IN_FLIGHT = 8
X = np.array([0.5, -1.5], dtype=np.float32)
X_BATCH = X[np.newaxis, :]
PROMPT = np.array([b"AI answers to"], dtype=np.object_)
STREAM_PARAMS = {"tokens": 8}

Runner = Callable[[int, list[int]], None]
"""Runs n requests, appending each latency in ns to the list."""


@dataclass
class Tally:
    cpu_s: float = 0.0
    count: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    chunk_cpu_us: list[float] = field(default_factory=list)
    """CPU µs per request of each chunk, in order (chunk i of both sides ran back to back)."""

    def cpu_us(self) -> float:
        return self.cpu_s * 1e6 / self.count

    def percentile_us(self, q: float) -> float:
        return float(np.percentile(np.array(self.latencies_ns, dtype=np.float64), q)) / 1000.0


def interleave(raw: Runner, ours: Runner, total: int, chunk: int) -> tuple[Tally, Tally]:
    """Warm both up, then alternate chunks (order flipped each time) until each side ran ``total``."""
    raw(chunk, [])
    ours(chunk, [])
    tallies = (Tally(), Tally())
    sides = (raw, ours)
    for index in range(max(total // chunk, 1)):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for side in order:
            latencies: list[int] = []
            cpu0 = time.process_time()
            sides[side](chunk, latencies)
            cpu_s = time.process_time() - cpu0
            tallies[side].cpu_s += cpu_s
            tallies[side].count += len(latencies)
            tallies[side].latencies_ns.extend(latencies)
            tallies[side].chunk_cpu_us.append(cpu_s * 1e6 / max(len(latencies), 1))
    return tallies


def paired_ratio(raw: Tally, ours: Tally) -> float:
    """Median over chunk pairs of ours/raw CPU per request: robust to bursts of load from other processes."""
    return float(np.median([o / r for o, r in zip(ours.chunk_cpu_us, raw.chunk_cpu_us, strict=True) if r > 0]))


# -- sync: one request at a time --------------------------------------------------------------------
def timed_loop(call: Callable[[], Any]) -> Runner:
    def run(n: int, latencies: list[int]) -> None:
        for _ in range(n):
            t0 = time.perf_counter_ns()
            call()
            latencies.append(time.perf_counter_ns() - t0)

    return run


def _lib(protocol: str) -> Any:
    if protocol == "http":
        import tritonclient.http as lib
    else:
        import tritonclient.grpc as lib  # type: ignore[no-redef]
    return lib


def _port(server: EmbeddedTriton, protocol: str) -> int:
    return server.http_port if protocol == "http" else server.grpc_port


@contextmanager
def sync_case(server: EmbeddedTriton, protocol: str) -> Iterator[tuple[Runner, Runner]]:
    from pytriton_client import ModelClient

    lib = _lib(protocol)
    raw_client = lib.InferenceServerClient(f"127.0.0.1:{_port(server, protocol)}")

    def raw_call() -> Any:
        tensor = lib.InferInput("INPUT_1", [1, 2], "FP32")
        tensor.set_data_from_numpy(X_BATCH)
        return raw_client.infer("Linear", [tensor]).as_numpy("OUTPUT_1")[0]

    url = server.http_url if protocol == "http" else server.grpc_url
    ours = ModelClient(url, "Linear", lazy_init=False)
    try:
        yield timed_loop(raw_call), timed_loop(lambda: ours.infer_sample(X))
    finally:
        raw_client.close()
        ours.close()


# -- asyncio: IN_FLIGHT coroutines on one client ----------------------------------------------------
@contextmanager
def asyncio_case(server: EmbeddedTriton, protocol: str) -> Iterator[tuple[Runner, Runner]]:
    from pytriton_client import AsyncioModelClient

    lib = _lib(protocol)
    if protocol == "http":
        import tritonclient.http.aio as aio
    else:
        import tritonclient.grpc.aio as aio  # type: ignore[no-redef]
    loop = asyncio.new_event_loop()
    url = server.http_url if protocol == "http" else server.grpc_url

    async def create() -> tuple[Any, Any]:
        return aio.InferenceServerClient(f"127.0.0.1:{_port(server, protocol)}"), AsyncioModelClient(url, "Linear")

    raw_client, ours = loop.run_until_complete(create())

    async def raw_call() -> Any:
        tensor = lib.InferInput("INPUT_1", [1, 2], "FP32")
        tensor.set_data_from_numpy(X_BATCH)
        return (await raw_client.infer("Linear", [tensor])).as_numpy("OUTPUT_1")[0]

    async def ours_call() -> Any:
        return await ours.infer_sample(X)

    def runner(call: Callable[[], Any]) -> Runner:
        async def worker(n: int, latencies: list[int]) -> None:
            for _ in range(n):
                t0 = time.perf_counter_ns()
                await call()
                latencies.append(time.perf_counter_ns() - t0)

        async def together(n: int, latencies: list[int]) -> None:
            await asyncio.gather(*(worker(n // IN_FLIGHT, latencies) for _ in range(IN_FLIGHT)))

        def run(n: int, latencies: list[int]) -> None:
            loop.run_until_complete(together(n, latencies))

        return run

    try:
        yield runner(raw_call), runner(ours_call)
    finally:
        loop.run_until_complete(raw_client.close())
        loop.run_until_complete(ours.close())
        loop.close()


# -- futures: IN_FLIGHT requests outstanding on a thread pool ----------------------------------------
def pool_runner(submit: Callable[[], Any]) -> Runner:
    def run(n: int, latencies: list[int]) -> None:
        pending: list[tuple[int, Any]] = []
        for _ in range(n):
            if len(pending) >= IN_FLIGHT:
                t0, future = pending.pop(0)
                future.result()
                latencies.append(time.perf_counter_ns() - t0)
            pending.append((time.perf_counter_ns(), submit()))
        for t0, future in pending:
            future.result()
            latencies.append(time.perf_counter_ns() - t0)

    return run


@contextmanager
def futures_case(server: EmbeddedTriton) -> Iterator[tuple[Runner, Runner]]:
    import tritonclient.grpc as lib

    from pytriton_client import FuturesModelClient

    raw_client = lib.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    pool = ThreadPoolExecutor(IN_FLIGHT)

    def raw_work() -> Any:
        tensor = lib.InferInput("INPUT_1", [1, 2], "FP32")
        tensor.set_data_from_numpy(X_BATCH)
        return raw_client.infer("Linear", [tensor]).as_numpy("OUTPUT_1")[0]

    ours = FuturesModelClient(server.grpc_url, "Linear", max_workers=IN_FLIGHT)
    ours.model_config().result()
    try:
        yield pool_runner(lambda: pool.submit(raw_work)), pool_runner(lambda: ours.infer_sample(X))
    finally:
        pool.shutdown()
        raw_client.close()
        ours.close()


# -- decoupled: one stream per request on streaming_bot ----------------------------------------------
@contextmanager
def decoupled_case(server: EmbeddedTriton) -> Iterator[tuple[Runner, Runner]]:
    import tritonclient.grpc as lib

    from pytriton_client import DecoupledModelClient

    raw_client = lib.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    responses: queue.Queue[Any] = queue.Queue()
    raw_client.start_stream(lambda result, error: responses.put((result, error)))

    def raw_call() -> list[Any]:
        tensor = lib.InferInput("inputs", [1, 1], "BYTES")
        tensor.set_data_from_numpy(PROMPT[np.newaxis, :])
        raw_client.async_stream_infer(
            "streaming_bot", [tensor], enable_empty_final_response=True, parameters=STREAM_PARAMS
        )
        out = []
        while True:
            result, error = responses.get(timeout=10)
            if error is not None:
                raise error
            response = result.get_response()
            if response.outputs:
                out.append(result.as_numpy("response")[0])
            if response.parameters["triton_final_response"].bool_param:
                return out

    ours = DecoupledModelClient(server.grpc_url, "streaming_bot", lazy_init=False)
    try:
        yield timed_loop(raw_call), timed_loop(lambda: list(ours.infer_sample(PROMPT, parameters=STREAM_PARAMS)))
    finally:
        raw_client.stop_stream()
        raw_client.close()
        ours.close()


def report(name: str, raw: Tally, ours: Tally) -> float:
    ratio = paired_ratio(raw, ours)
    print(
        f"{name:<28} raw {raw.cpu_us():7.1f} µs cpu  p50 {raw.percentile_us(50):6.0f}  p99 {raw.percentile_us(99):6.0f}"
        f" | ours {ours.cpu_us():7.1f} µs cpu  p50 {ours.percentile_us(50):6.0f}  p99 {ours.percentile_us(99):6.0f}"
        f" | ratio of totals {ours.cpu_us() / raw.cpu_us():5.3f}  paired median {ratio:5.3f}",
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per side and case")
    parser.add_argument("--chunk", type=int, default=80, help="requests per alternating chunk")
    args = parser.parse_args()
    total, chunk = args.requests, args.chunk
    with EmbeddedTriton(models=["Linear", "streaming_bot"]) as server:
        print(f"server {server.http_url} {server.grpc_url}; {total} requests per side, chunks of {chunk}")
        print("cpu = client-process CPU µs per request; p50/p99 latency in µs")
        ratios = {}
        for protocol in ("http", "grpc"):
            with sync_case(server, protocol) as (raw, ours):
                ratios[f"ModelClient {protocol}"] = report(
                    f"ModelClient {protocol}", *interleave(raw, ours, total, chunk)
                )
        for protocol in ("http", "grpc"):
            name = f"AsyncioModelClient {protocol} x{IN_FLIGHT}"
            with asyncio_case(server, protocol) as (raw, ours):
                ratios[name] = report(name, *interleave(raw, ours, total, chunk))
        name = f"FuturesModelClient grpc x{IN_FLIGHT}"
        with futures_case(server) as (raw, ours):
            ratios[name] = report(name, *interleave(raw, ours, total, chunk))
        with decoupled_case(server) as (raw, ours):
            stream_chunk = max(chunk // 4, 10)
            ratios["DecoupledModelClient grpc"] = report(
                "DecoupledModelClient grpc", *interleave(raw, ours, max(total // 4, stream_chunk), stream_chunk)
            )
    print("\npaired median ratios of client CPU µs/request, ours / raw (target ≤ 1.10 for ModelClient and asyncio):")
    for name, ratio in ratios.items():
        print(f"  {name:<30} {ratio:5.3f}")


if __name__ == "__main__":
    main()
