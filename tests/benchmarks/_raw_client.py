"""The plain Python client a user would write: `tritonclient` `InferenceServerClient.infer` in OS threads.

    python tests/benchmarks/_raw_client.py --url 127.0.0.1:8001 --protocol grpc --model Linear \\
        --input INPUT_1 --shape 1,2 (--concurrency 8 | --rate 1500 --max-in-flight 16) \\
        --seconds 9 --warmup 1 --json result.json

The third tool of `bench_vs_perf_analyzer.py`, run as its own process so that the benchmark samples
its CPU from outside exactly as it does perf_analyzer's and `tritonload run`'s. No harness: no event
loop, no recorder, no histograms, only a list of latencies per thread.

- Inputs are built once per thread before the run (`InferInput` + `set_data_from_numpy`, one random
  row of the shape), like perf_analyzer's prepared inputs; every request sends them again.
- Each thread has its own `InferenceServerClient` (tritonclient's HTTP client is bound to the thread
  that made it).
- Closed loop (`--concurrency N`): N threads, each sending back to back.
- Open loop (`--rate R`): constant arrivals at R/s, intended times dealt round-robin to
  `--max-in-flight` threads; each thread sleeps (`time.sleep`) until its next intended time and then
  sends (a thread that is behind sends at once). That is perf_analyzer's request-rate mode with
  `--max-threads` synchronous workers. A slot still unsent when the measured span ends is skipped
  (counted in `unsent_slots`).
- The call is the plain one, `client.infer(model, inputs)`: no outputs requested (the server sends
  every output; tritonclient asks HTTP for them in binary), no timeout (HTTP: the client's default
  60 s network timeout; gRPC: none, the benchmark's process timeout bounds a hung run).
- Latency: `time.perf_counter_ns()` just before and just after the `infer` call, in the thread that
  makes it (so it includes building the request from the prepared inputs and parsing the response).
- Measured: the requests due in the `--seconds` after `--warmup` (closed loop: whose send started
  then; open loop: whose intended time falls then, so late warm-up sends stay out); throughput is their
  count over `--seconds`, p50/p99 nearest-rank over their latencies, late % the share of them sent
  more than 5 ms after their intended time (tritonload's rule, `loadtest.engine.rules.is_late`).

Writes the JSON result to `--json` (or stdout). Exit code 0, or 1 when any request failed (the JSON is
written anyway, with the error count and the first error). Never imports `loadtest`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LATE_THRESHOLD_NS = 5_000_000
LATE_RULE = "a send that starts more than 5 ms after its intended time (open loop only)"
START_DELAY_S = 0.2  # after every thread has its client and inputs
DTYPES = {"FP32": np.float32, "FP16": np.float16, "INT32": np.int32, "INT64": np.int64}


@dataclass
class ThreadTally:
    """What one sender measured: (due_ns, latency_ns, late) per request (due: the intended time in open
    loop, the send's start in closed loop), failures, unsent slots."""

    requests: list[tuple[int, int, bool]] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    unsent: int = 0


def make_sender(args: argparse.Namespace) -> Callable[[], Any]:
    """A client of `args.protocol` and its prepared inputs; returns the call that sends one request."""
    if args.protocol == "http":
        import tritonclient.http as client_module
    else:
        import tritonclient.grpc as client_module
    client = client_module.InferenceServerClient(args.url)
    shape = [int(d) for d in args.shape.split(",")]
    data = np.random.default_rng().uniform(size=shape).astype(DTYPES[args.dtype])
    infer_input = client_module.InferInput(args.input, shape, args.dtype)
    infer_input.set_data_from_numpy(data)
    inputs, model = [infer_input], args.model

    def send() -> Any:
        return client.infer(model, inputs)  # the plain call: no request options, all outputs as the server sends them

    return send


def _sleep_until(when_ns: int) -> None:
    delay_ns = when_ns - time.perf_counter_ns()
    if delay_ns > 0:
        time.sleep(delay_ns / 1e9)


def run_sender(
    send: Callable[[], Any], slots: Sequence[int] | None, begin_ns: int, end_ns: int, tally: ThreadTally
) -> None:
    """Send until `end_ns`: back to back when `slots` is None, else at each intended time in `slots`."""
    _sleep_until(begin_ns)
    position = 0
    while True:
        intended = None
        if slots is not None:
            if position == len(slots):
                return
            intended = slots[position]
            position += 1
            _sleep_until(intended)
        start = time.perf_counter_ns()
        if start >= end_ns:
            tally.unsent += len(slots) - position + 1 if slots is not None else 0
            return
        try:
            send()
        except Exception as exc:  # any failure counts; the first says what went wrong
            tally.errors += 1
            tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"
            continue
        latency = time.perf_counter_ns() - start
        if intended is None:
            tally.requests.append((start, latency, False))
        else:
            tally.requests.append((intended, latency, start - intended > LATE_THRESHOLD_NS))


def open_loop_slots(rate_rps: float, threads: int, begin_ns: int, end_ns: int) -> list[list[int]]:
    """Constant arrivals at `rate_rps` from `begin_ns` to `end_ns`, dealt round-robin to `threads` senders."""
    count = math.ceil((end_ns - begin_ns) * rate_rps / 1e9)
    times = [begin_ns + round(i * 1e9 / rate_rps) for i in range(count)]
    return [times[k::threads] for k in range(threads)]


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile (`q` in 0..100) of a non-empty sorted sequence."""
    rank = max(math.ceil(q / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def summarize(tallies: Sequence[ThreadTally], measured_from_ns: int, args: argparse.Namespace) -> dict[str, Any]:
    """The JSON result over the requests due in the measured span."""
    measured = [r for t in tallies for r in t.requests if r[0] >= measured_from_ns]
    latencies = sorted(r[1] for r in measured)
    late = sum(1 for r in measured if r[2])
    first_errors = [t.first_error for t in tallies if t.first_error]
    return {
        "tool": "tritonclient threads",
        "tritonclient_version": importlib.metadata.version("tritonclient"),
        "protocol": args.protocol,
        "mode": "closed" if args.concurrency else "open",
        "threads": args.concurrency or args.max_in_flight,
        "rate_rps": args.rate,
        "measured_s": args.seconds,
        "warmup_s": args.warmup,
        "requests": len(measured),
        "requests_with_warmup": sum(len(t.requests) for t in tallies),
        "throughput_rps": len(measured) / args.seconds,
        "p50_us": percentile(latencies, 50) / 1000 if latencies else None,
        "p99_us": percentile(latencies, 99) / 1000 if latencies else None,
        "late_sends": late,
        "late_percent": 100.0 * late / len(measured) if args.rate and measured else None,
        "late_rule": LATE_RULE,
        "unsent_slots": sum(t.unsent for t in tallies),
        "errors": sum(t.errors for t in tallies),
        "first_error": first_errors[0] if first_errors else None,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build every thread's client and inputs, run warm-up and measured span, return the result."""
    threads = args.concurrency or args.max_in_flight
    senders = [make_sender(args) for _ in range(threads)]
    begin_ns = time.perf_counter_ns() + int(START_DELAY_S * 1e9)
    measured_from_ns = begin_ns + int(args.warmup * 1e9)
    end_ns = measured_from_ns + int(args.seconds * 1e9)
    slots: Sequence[Sequence[int] | None] = (
        open_loop_slots(args.rate, threads, begin_ns, end_ns) if args.rate else [None] * threads
    )
    tallies = [ThreadTally() for _ in range(threads)]
    workers = [
        threading.Thread(target=run_sender, args=(send, own, begin_ns, end_ns, tally), daemon=True)
        for send, own, tally in zip(senders, slots, tallies, strict=True)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return summarize(tallies, measured_from_ns, args)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="host:port of the server's HTTP or gRPC endpoint")
    parser.add_argument("--protocol", choices=("http", "grpc"), required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="the input's name")
    parser.add_argument("--shape", required=True, help="the input's full shape, batch included, e.g. 1,2")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="FP32")
    loop = parser.add_mutually_exclusive_group(required=True)
    loop.add_argument("--concurrency", type=int, help="closed loop: threads sending back to back")
    loop.add_argument("--rate", type=float, help="open loop: constant arrivals per second")
    parser.add_argument("--max-in-flight", type=int, default=16, help="open loop: sender threads (default 16)")
    parser.add_argument("--seconds", type=float, required=True, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent before the measured span")
    parser.add_argument("--json", type=Path, help="write the result here (default: stdout)")
    args = parser.parse_args(argv)
    problems = []
    if args.concurrency is not None and args.concurrency < 1:
        problems.append("--concurrency must be at least 1")
    if args.rate is not None and args.rate <= 0:
        problems.append("--rate must be positive")
    if args.max_in_flight < 1 or args.seconds <= 0 or args.warmup < 0:
        problems.append("--max-in-flight must be at least 1, --seconds positive, --warmup not negative")
    if problems:
        parser.error("; ".join(problems))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
