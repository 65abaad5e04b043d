"""Harness overhead: client CPU per request of `tritonload run` vs a raw tritonclient loop.

Both send the same requests (sync HTTP, 8 concurrent users, the embedded `Linear` model, one FP32[2]
sample per request) to the same embedded server in the same invocation, alternating rounds so drift
on the machine hits both. CPU is the load-generator process's own user+system time over the measured
window only (warm-up and start-up excluded): the raw loop reads `time.process_time()` around its
window; `tritonload run` reports it in `summary.json["client"]`.

    .venv/bin/python tests/benchmarks/bench_harness.py [--seconds 10] [--rounds 3] [--users 8]

Prints one line per round and the median ratio (harness / raw); the acceptance bound is 1.30.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RAW_LOOP = textwrap.dedent(
    """
    import json, sys, time
    import gevent
    import numpy as np
    import tritonclient.http as httpclient

    port, users, warmup_s, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    payloads = [np.random.default_rng(i).normal(size=(1, 2)).astype(np.float32) for i in range(64)]
    state = {"measuring": False, "count": 0, "stop": False}

    def user(index):
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        outputs = [httpclient.InferRequestedOutput("OUTPUT_1")]
        n = index
        while not state["stop"]:
            data = payloads[n % len(payloads)]
            n += 1
            tensor = httpclient.InferInput("INPUT_1", [1, 2], "FP32")
            tensor.set_data_from_numpy(data)
            result = client.infer("Linear", [tensor], outputs=outputs)
            result.as_numpy("OUTPUT_1")
            if state["measuring"]:
                state["count"] += 1
        client.close()

    greenlets = [gevent.spawn(user, i) for i in range(users)]
    gevent.sleep(warmup_s)
    state["measuring"] = True
    cpu0, t0 = time.process_time(), time.perf_counter()
    gevent.sleep(seconds)
    cpu1, t1 = time.process_time(), time.perf_counter()
    state["measuring"] = False
    count = state["count"]
    state["stop"] = True
    gevent.joinall(greenlets)
    print(json.dumps({"requests": count, "cpu_s": cpu1 - cpu0, "wall_s": t1 - t0}))
    """
)


def scenario_text(http_url: str, users: int, warmup_s: float, seconds: float) -> str:
    return textwrap.dedent(
        f"""
        version: 1
        name: bench-harness
        targets:
          linear: {{url: "{http_url}", model: Linear}}
        payloads:
          sample:
            pool_size: 64
            inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: normal}}}}
        traffic:
          - {{name: linear, pattern: sync, target: linear, payload: sample}}
        load: {{kind: closed, users: {users}, spawn_rate: {users}}}
        warmup_s: {warmup_s}
        duration_s: {seconds}
        """
    )


def run_raw(port: int, users: int, warmup_s: float, seconds: float) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", RAW_LOOP, str(port), str(users), str(warmup_s), str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return data["cpu_s"] * 1e6 / data["requests"], data["requests"]


def run_harness(scenario: Path, work: Path, round_index: int) -> tuple[float, int]:
    run_dir = work / f"run-{round_index}"
    subprocess.run(
        [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(run_dir), "-q", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary["client"]["cpu_us_per_request"], summary["overall"]["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=8)
    args = parser.parse_args()

    from loadtest.embedded import EmbeddedTriton

    with EmbeddedTriton(models=["Linear"]) as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scenario = work / "bench.yaml"
        scenario.write_text(scenario_text(server.http_url, args.users, args.warmup, args.seconds))
        ratios = []
        print(f"{'round':>5} {'raw µs/req':>11} {'raw req':>8} {'harness µs/req':>15} {'harness req':>12} {'ratio':>6}")
        for index in range(args.rounds):
            raw_us, raw_n = run_raw(server.http_port, args.users, args.warmup, args.seconds)
            time.sleep(1)
            harness_us, harness_n = run_harness(scenario, work, index)
            ratio = harness_us / raw_us
            ratios.append(ratio)
            print(f"{index + 1:>5} {raw_us:>11.1f} {raw_n:>8} {harness_us:>15.1f} {harness_n:>12} {ratio:>6.2f}")
        print(f"median ratio harness/raw: {statistics.median(ratios):.2f} (bound 1.30)")


if __name__ == "__main__":
    main()
