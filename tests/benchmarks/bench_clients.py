"""Client CPU per request and latency: pytriton_client next to raw tritonclient, same run, same requests.

Starts its own embedded Triton (``Linear`` and ``streaming_bot``), then for each case runs the raw
``tritonclient`` loop and ours alternately (``--rounds`` times each, best round kept), measuring the
client process's CPU time (``time.process_time``: all threads of this process) per request, and
p50/p99 latency. Prints a table and the ratio ours/raw of CPU µs per request.

Usage::

    .venv/bin/python tests/benchmarks/bench_clients.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadtest.embedded import EmbeddedTriton

IN_FLIGHT = 8
X = np.array([0.5, -1.5], dtype=np.float32)
X_BATCH = X[np.newaxis, :]
PROMPT = np.array([b"AI answers to"], dtype=np.object_)
STREAM_PARAMS = {"tokens": 8}


@dataclass
class Result:
    cpu_us: float
    p50_us: float
    p99_us: float


def _summary(cpu_s: float, latencies_ns: list[int], count: int) -> Result:
    lat = np.array(latencies_ns, dtype=np.float64) / 1000.0
    return Result(cpu_s * 1e6 / count, float(np.percentile(lat, 50)), float(np.percentile(lat, 99)))


def run_sync(call: Callable[[], Any], count: int) -> Result:
    for _ in range(max(count // 10, 20)):
        call()
    latencies = []
    cpu0 = time.process_time()
    for _ in range(count):
        t0 = time.perf_counter_ns()
        call()
        latencies.append(time.perf_counter_ns() - t0)
    return _summary(time.process_time() - cpu0, latencies, count)


def run_async(make: Callable[[], Any], call: Callable[[Any], Any], close: Callable[[Any], Any], count: int) -> Result:
    async def main() -> Result:
        client = make()
        latencies: list[int] = []

        async def worker(n: int, record: bool) -> None:
            for _ in range(n):
                t0 = time.perf_counter_ns()
                await call(client)
                if record:
                    latencies.append(time.perf_counter_ns() - t0)

        await asyncio.gather(*(worker(max(count // 10 // IN_FLIGHT, 5), False) for _ in range(IN_FLIGHT)))
        cpu0 = time.process_time()
        await asyncio.gather(*(worker(count // IN_FLIGHT, True) for _ in range(IN_FLIGHT)))
        cpu = time.process_time() - cpu0
        await close(client)
        return _summary(cpu, latencies, len(latencies))

    return asyncio.run(main())


def run_pool(submit: Callable[[], Any], count: int) -> Result:
    """Keep IN_FLIGHT futures outstanding; latency = submit to result."""

    def batch(n: int, record: list[int] | None) -> None:
        pending: list[tuple[int, Any]] = []
        for _ in range(n):
            if len(pending) >= IN_FLIGHT:
                t0, fut = pending.pop(0)
                fut.result()
                if record is not None:
                    record.append(time.perf_counter_ns() - t0)
            pending.append((time.perf_counter_ns(), submit()))
        for t0, fut in pending:
            fut.result()
            if record is not None:
                record.append(time.perf_counter_ns() - t0)

    batch(max(count // 10, 40), None)
    latencies: list[int] = []
    cpu0 = time.process_time()
    batch(count, latencies)
    return _summary(time.process_time() - cpu0, latencies, count)


# -- raw tritonclient -------------------------------------------------------------------------------
def raw_sync(server: EmbeddedTriton, protocol: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    if protocol == "http":
        import tritonclient.http as lib
    else:
        import tritonclient.grpc as lib  # type: ignore[no-redef]
    port = server.http_port if protocol == "http" else server.grpc_port
    client = lib.InferenceServerClient(f"127.0.0.1:{port}")

    def call() -> Any:
        tensor = lib.InferInput("INPUT_1", [1, 2], "FP32")
        tensor.set_data_from_numpy(X_BATCH)
        return client.infer("Linear", [tensor]).as_numpy("OUTPUT_1")[0]

    return call, client.close


def raw_async(server: EmbeddedTriton, protocol: str) -> tuple[Any, Any, Any]:
    if protocol == "http":
        import tritonclient.http as sync_lib
        import tritonclient.http.aio as lib
    else:
        import tritonclient.grpc as sync_lib  # type: ignore[no-redef]
        import tritonclient.grpc.aio as lib  # type: ignore[no-redef]
    port = server.http_port if protocol == "http" else server.grpc_port

    async def call(client: Any) -> Any:
        tensor = sync_lib.InferInput("INPUT_1", [1, 2], "FP32")
        tensor.set_data_from_numpy(X_BATCH)
        return (await client.infer("Linear", [tensor])).as_numpy("OUTPUT_1")[0]

    async def close(client: Any) -> None:
        await client.close()

    return (lambda: lib.InferenceServerClient(f"127.0.0.1:{port}")), call, close


def raw_pool(server: EmbeddedTriton) -> tuple[Callable[[], Any], Callable[[], None]]:
    import tritonclient.grpc as lib

    client = lib.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    pool = ThreadPoolExecutor(IN_FLIGHT)

    def work() -> Any:
        tensor = lib.InferInput("INPUT_1", [1, 2], "FP32")
        tensor.set_data_from_numpy(X_BATCH)
        return client.infer("Linear", [tensor]).as_numpy("OUTPUT_1")[0]

    def close() -> None:
        pool.shutdown()
        client.close()

    return (lambda: pool.submit(work)), close


def raw_stream(server: EmbeddedTriton) -> tuple[Callable[[], Any], Callable[[], None]]:
    import tritonclient.grpc as lib

    client = lib.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    responses: queue.Queue[Any] = queue.Queue()
    client.start_stream(lambda result, error: responses.put((result, error)))

    def call() -> list[Any]:
        tensor = lib.InferInput("inputs", [1, 1], "BYTES")
        tensor.set_data_from_numpy(PROMPT[np.newaxis, :])
        client.async_stream_infer("streaming_bot", [tensor], enable_empty_final_response=True, parameters=STREAM_PARAMS)
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

    def close() -> None:
        client.stop_stream()
        client.close()

    return call, close


# -- pytriton_client --------------------------------------------------------------------------------
def ours_sync(server: EmbeddedTriton, protocol: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    from pytriton_client import ModelClient

    url = server.http_url if protocol == "http" else server.grpc_url
    client = ModelClient(url, "Linear", lazy_init=False)
    return (lambda: client.infer_sample(X)), client.close


def ours_async(server: EmbeddedTriton, protocol: str) -> tuple[Any, Any, Any]:
    from pytriton_client import AsyncioModelClient

    url = server.http_url if protocol == "http" else server.grpc_url

    async def call(client: Any) -> Any:
        return await client.infer_sample(X)

    async def close(client: Any) -> None:
        await client.close()

    return (lambda: AsyncioModelClient(url, "Linear")), call, close


def ours_pool(server: EmbeddedTriton) -> tuple[Callable[[], Any], Callable[[], None]]:
    from pytriton_client import FuturesModelClient

    client = FuturesModelClient(server.grpc_url, "Linear", max_workers=IN_FLIGHT)
    client.model_config().result()
    return (lambda: client.infer_sample(X)), client.close


def ours_stream(server: EmbeddedTriton) -> tuple[Callable[[], Any], Callable[[], None]]:
    from pytriton_client import DecoupledModelClient

    client = DecoupledModelClient(server.grpc_url, "streaming_bot", lazy_init=False)
    return (lambda: list(client.infer_sample(PROMPT, parameters=STREAM_PARAMS))), client.close


def measure(name: str, raw: Callable[[], Result], ours: Callable[[], Result], rounds: int) -> tuple[Result, Result]:
    raws, ourss = [], []
    for _ in range(rounds):
        raws.append(raw())
        ourss.append(ours())
    best_raw = min(raws, key=lambda r: r.cpu_us)
    best_ours = min(ourss, key=lambda r: r.cpu_us)
    print(
        f"{name:<28} raw {best_raw.cpu_us:7.1f} µs cpu  p50 {best_raw.p50_us:7.0f}  p99 {best_raw.p99_us:7.0f} | "
        f"ours {best_ours.cpu_us:7.1f} µs cpu  p50 {best_ours.p50_us:7.0f}  p99 {best_ours.p99_us:7.0f} | "
        f"ratio {best_ours.cpu_us / best_raw.cpu_us:5.3f}",
        flush=True,
    )
    return best_raw, best_ours


def _sync_case(factory: Callable[[], tuple[Callable[[], Any], Callable[[], None]]], count: int) -> Result:
    call, close = factory()
    try:
        return run_sync(call, count)
    finally:
        close()


def _pool_case(factory: Callable[[], tuple[Callable[[], Any], Callable[[], None]]], count: int) -> Result:
    submit, close = factory()
    try:
        return run_pool(submit, count)
    finally:
        close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per case and round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating raw/ours rounds per case (best kept)")
    args = parser.parse_args()
    n = args.requests
    with EmbeddedTriton(models=["Linear", "streaming_bot"]) as server:
        print(f"server {server.http_url} {server.grpc_url}; {n} requests per case, best of {args.rounds} rounds")
        print("cpu = client-process CPU µs per request; p50/p99 latency in µs")
        ratios = {}
        for protocol in ("http", "grpc"):
            raw, ours = measure(
                f"ModelClient {protocol}",
                lambda p=protocol: _sync_case(lambda: raw_sync(server, p), n),
                lambda p=protocol: _sync_case(lambda: ours_sync(server, p), n),
                args.rounds,
            )
            ratios[f"ModelClient {protocol}"] = ours.cpu_us / raw.cpu_us
        for protocol in ("http", "grpc"):
            raw, ours = measure(
                f"AsyncioModelClient {protocol} x{IN_FLIGHT}",
                lambda p=protocol: run_async(*raw_async(server, p), n),
                lambda p=protocol: run_async(*ours_async(server, p), n),
                args.rounds,
            )
            ratios[f"AsyncioModelClient {protocol}"] = ours.cpu_us / raw.cpu_us
        raw, ours = measure(
            f"FuturesModelClient grpc x{IN_FLIGHT}",
            lambda: _pool_case(lambda: raw_pool(server), n),
            lambda: _pool_case(lambda: ours_pool(server), n),
            args.rounds,
        )
        ratios["FuturesModelClient grpc"] = ours.cpu_us / raw.cpu_us
        stream_n = max(n // 4, 50)
        raw, ours = measure(
            "DecoupledModelClient grpc",
            lambda: _sync_case(lambda: raw_stream(server), stream_n),
            lambda: _sync_case(lambda: ours_stream(server), stream_n),
            args.rounds,
        )
        ratios["DecoupledModelClient grpc"] = ours.cpu_us / raw.cpu_us
    print("\nratios of client CPU µs/request, ours / raw tritonclient (target ≤ 1.10 for ModelClient and asyncio):")
    for name, ratio in ratios.items():
        print(f"  {name:<28} {ratio:5.3f}")


if __name__ == "__main__":
    main()
