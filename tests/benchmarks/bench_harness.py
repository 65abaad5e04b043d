"""Harness overhead: client CPU per request of `tritonload run` vs a raw tritonclient loop.

Three load generators send the same requests (sync HTTP, 8 concurrent users, the embedded `Linear`
model, one FP32[2] sample per request) to the same embedded server in the same invocation, one after
the other in each round, so drift on the machine hits all of them:

- raw: a plain `tritonclient.http` loop in 8 gevent greenlets (what a user would write: builds each
  request from a numpy array, decodes the output);
- fast: `tritonload run` as it runs by default (the sync pattern's fast path: pre-encoded requests);
- ordinary: `tritonload run` with `fast_path: false` (each request built by `ModelClient.infer_sample`).

CPU is each generator process's own user+system time over its measured window only (warm-up and
start-up excluded): the raw loop reads `time.process_time()` around its window; `tritonload run`
reports it in `summary.json["client"]`.

    .venv/bin/python tests/benchmarks/bench_harness.py [--seconds 10] [--rounds 3] [--users 8]

Prints one line per round and the median ratios fast/raw (bound 1.0, issue 9) and ordinary/raw
(bound 1.10, issue 8).
"""

from __future__ import annotations

import argparse
import json
import os
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


def scenario_text(http_url: str, users: int, warmup_s: float, seconds: float, fast_path: bool = True) -> str:
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
        fast_path: {str(fast_path).lower()}
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


def run_harness(scenario: Path, work: Path, label: str) -> tuple[float, int]:
    run_dir = work / f"run-{label}"
    subprocess.run(
        [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(run_dir), "-q", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    fast_path = summary["traffic"]["linear"].get("fast_path")
    if fast_path is not scenario.name.startswith("fast"):
        raise SystemExit(f"{scenario.name}: the run's fast_path is {fast_path}, not what this side measures")
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
        scenarios = {}
        for side, fast_path in (("fast", True), ("ordinary", False)):
            scenarios[side] = work / f"{side}.yaml"
            scenarios[side].write_text(scenario_text(server.http_url, args.users, args.warmup, args.seconds, fast_path))
        ratios: dict[str, list[float]] = {"fast": [], "ordinary": []}
        print(f"machine: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        print(
            f"{'round':>5} {'raw µs/req':>11} {'raw req':>8} {'fast µs/req':>12} {'fast req':>9} {'ratio':>6}"
            f" {'ordinary µs/req':>16} {'ordinary req':>13} {'ratio':>6}"
        )
        for index in range(args.rounds):
            raw_us, raw_n = run_raw(server.http_port, args.users, args.warmup, args.seconds)
            time.sleep(1)
            fast_us, fast_n = run_harness(scenarios["fast"], work, f"fast-{index}")
            time.sleep(1)
            ordinary_us, ordinary_n = run_harness(scenarios["ordinary"], work, f"ordinary-{index}")
            ratios["fast"].append(fast_us / raw_us)
            ratios["ordinary"].append(ordinary_us / raw_us)
            print(
                f"{index + 1:>5} {raw_us:>11.1f} {raw_n:>8} {fast_us:>12.1f} {fast_n:>9} {fast_us / raw_us:>6.2f}"
                f" {ordinary_us:>16.1f} {ordinary_n:>13} {ordinary_us / raw_us:>6.2f}"
            )
        print(f"median ratio fast/raw:     {statistics.median(ratios['fast']):.2f} (bound 1.00)")
        print(f"median ratio ordinary/raw: {statistics.median(ratios['ordinary']):.2f} (bound 1.10)")
        print(f"machine: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
