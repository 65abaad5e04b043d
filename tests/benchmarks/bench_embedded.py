"""The embedded server: start-up time, and `Linear` throughput with raw tritonclient HTTP sync at concurrency 1.

    .venv/bin/python tests/benchmarks/bench_embedded.py [--starts 3] [--seconds 10]

Start-up is from `EmbeddedTriton.start()` to every demo model READY (work directory assembled, server
spawned, readiness polled). Throughput: one thread, one `tritonclient.http` client, one FP32[1, 2]
sample per request, after a 2 s warm-up; latency percentiles from an HDR histogram.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import tritonclient.http as httpclient
from hdrh.histogram import HdrHistogram

from loadtest.embedded import EmbeddedTriton
from loadtest.recording.hdrstats import value_at_percentiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    startups, stops = [], []
    for _ in range(args.starts):
        server = EmbeddedTriton().start()
        startups.append(server.startup_s or 0.0)
        began = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - began)
    print(
        f"start-up to all 6 demo models READY: {', '.join(f'{s:.2f}' for s in startups)} s "
        f"(median {statistics.median(startups):.2f} s); stop: median {statistics.median(stops):.2f} s"
    )

    with EmbeddedTriton(models=["Linear"]) as server:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
        data = np.array([[1.0, 2.0]], dtype=np.float32)

        def once() -> None:
            tensor = httpclient.InferInput("INPUT_1", [1, 2], "FP32")
            tensor.set_data_from_numpy(data)
            client.infer("Linear", [tensor]).as_numpy("OUTPUT_1")

        warm_until = time.perf_counter() + 2
        while time.perf_counter() < warm_until:
            once()
        histogram = HdrHistogram(1, 60_000_000, 3)
        count, began, cpu0 = 0, time.perf_counter(), time.process_time()
        end = began + args.seconds
        while (now := time.perf_counter()) < end:
            once()
            histogram.record_value(max(int((time.perf_counter() - now) * 1e6), 1))
            count += 1
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu0
        client.close()
    p50, p99 = value_at_percentiles(histogram, [50, 99])
    print(
        f"Linear, raw tritonclient HTTP sync, concurrency 1: {count / wall:.0f} infer/s over {wall:.1f} s, "
        f"p50 {p50} us, p99 {p99} us, client CPU {cpu * 1e6 / count:.0f} us/request"
    )


if __name__ == "__main__":
    main()
