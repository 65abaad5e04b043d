"""Scale-out on one machine: `tritonload run --processes 1` vs `--processes 2`, and the generator's cost.

Linear over HTTP, closed loop (sync pattern, 8 users in total), against one embedded server started
once for every run; rounds alternate 1 and 2 processes so drift on the machine hits both. For each run
it prints the throughput and the generator's CPU per request: the sum of the worker processes' CPU
over the measured window divided by their requests (``summary.json["distributed"]``), and the master's
own CPU for reference. A plain one-process run (no master, ``local``) is printed alongside.

    .venv/bin/python tests/benchmarks/bench_processes.py [--seconds 10] [--rounds 2] [--users 8]

On a machine whose cores the server shares (the 2-core CI box), throughput cannot double; what the
numbers must show is that the generator's own CPU per request does not grow with the process count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def scenario_text(http_url: str, users: int, warmup_s: float, seconds: float) -> str:
    return textwrap.dedent(
        f"""
        version: 1
        name: bench-processes
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


def run(scenario: Path, run_dir: Path, processes: int | None) -> dict[str, Any]:
    """One run; ``processes=None`` is a plain one-process run without a master."""
    extra = ["--processes", str(processes)] if processes else []
    command = [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(run_dir), "-q", "--format", "json"]
    subprocess.run([*command, *extra], check=True, capture_output=True, text=True, cwd=ROOT)
    summary = json.loads((run_dir / "summary.json").read_text())
    overall = summary["overall"]
    if processes:
        fleet = summary["distributed"]
        generator_us = fleet["workers_cpu_us_per_request"]
        master_us = summary["client"]["cpu_us_per_request"]
    else:
        generator_us, master_us = summary["client"]["cpu_us_per_request"], None
    rps, requests = overall["throughput_rps"], overall["requests"]
    return {"rps": rps, "requests": requests, "gen_us": generator_us, "master_us": master_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=8)
    args = parser.parse_args()

    from loadtest.embedded import EmbeddedTriton

    results: dict[str, list[dict[str, Any]]] = {"local": [], "1": [], "2": []}
    with EmbeddedTriton(models=["Linear"]) as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scenario = work / "bench.yaml"
        scenario.write_text(scenario_text(server.http_url, args.users, args.warmup, args.seconds))
        header = f"{'round':>5} {'processes':>9} {'req/s':>9} {'requests':>9} {'generator µs/req':>17}"
        print(f"{header} {'master µs/req':>14}")
        for index in range(args.rounds):
            for label, processes in (("local", None), ("1", 1), ("2", 2)):
                result = run(scenario, work / f"run-{index}-{label}", processes)
                results[label].append(result)
                master = "-" if result["master_us"] is None else f"{result['master_us']:.1f}"
                print(
                    f"{index + 1:>5} {label:>9} {result['rps']:>9.1f} {result['requests']:>9} "
                    f"{result['gen_us']:>17.1f} {master:>14}"
                )
    print("medians:")
    for label, rows in results.items():
        rps = statistics.median(r["rps"] for r in rows)
        gen_us = statistics.median(r["gen_us"] for r in rows)
        print(f"  processes {label:>5}: {rps:9.1f} req/s, generator {gen_us:7.1f} µs CPU per request")
    one, two = (statistics.median(r["rps"] for r in results[k]) for k in ("1", "2"))
    cost_one, cost_two = (statistics.median(r["gen_us"] for r in results[k]) for k in ("1", "2"))
    print(f"2 vs 1 processes: throughput x{two / one:.2f}, generator CPU per request x{cost_two / cost_one:.2f}")


if __name__ == "__main__":
    main()
