"""Two `tritonload` builds side by side: the same `tritonload run` scenario, alternating, one server.

    .venv/bin/python tests/benchmarks/bench_run_ab.py --build old=/work/main/.venv/bin/tritonload \\
        --build new=.venv/bin/tritonload [--rounds 3] [--seconds 10] [--protocol grpc] [--users 8] [--rate 0]
        [--ordinary]

One embedded Triton serves `Linear`; every round runs the scenario once with each build, the order of the
builds alternating between rounds, so drift on the machine hits both. The scenario: `sync` pattern,
`--users` users in closed loop (or open loop at `--rate`/s with at most `--users` in flight), 2 s of
warm-up and `--seconds` measured. Printed per run and as medians per build: throughput, p50/p99 latency,
client CPU µs per request (`summary.json` `client.cpu_us_per_request`: the generator process's CPU over
the measured span divided by its requests), context switches per request (the process's, over its whole
life, from wait4's rusage), and in open loop the share of late sends. Use it to see what a change to the
engine did to the generator's cost; on a busy machine CPU figures swing with the load, so compare builds
within one run and say "loaded" next to any figure.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from loadtest.embedded import EmbeddedTriton  # noqa: E402


def scenario_text(url: str, args: argparse.Namespace) -> str:
    """The scenario both builds run."""
    if args.rate > 0:
        load = f"{{kind: open, rate: {args.rate:g}, arrival: constant, max_in_flight: {args.users}}}"
    else:
        load = f"{{kind: closed, users: {args.users}, spawn_rate: {args.users}}}"
    return textwrap.dedent(
        f"""
        version: 1
        name: run-ab
        targets:
          server: {{url: "{url}", model: Linear}}
        payloads:
          sample:
            pool_size: 16
            inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: uniform}}}}
        traffic:
          - {{name: bench, pattern: sync, target: server, payload: sample}}
        load: {load}
        warmup_s: 2
        duration_s: {args.seconds:g}
        fast_path: {str(not args.ordinary).lower()}
        """
    )


def run_once(executable: str, scenario: Path, out: Path) -> dict[str, Any]:
    """One `tritonload run`; its figures (or ``error``)."""
    command = [executable, "run", str(scenario), "--out", str(out), "-q", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # each build imports its own code
    log = out.with_suffix(".log")
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        _, status, rusage = os.wait4(process.pid, 0)  # reaped here, with its rusage
    returncode = os.waitstatus_to_exitcode(status)
    process.returncode = returncode
    summary_path = out / "summary.json"
    if returncode != 0 or not summary_path.exists():
        tail = " | ".join(log.read_text().strip().splitlines()[-4:])
        return {"error": f"exit {returncode}: {tail}"}
    summary = json.loads(summary_path.read_text())
    entry = summary["traffic"]["bench"]
    figures: dict[str, Any] = {
        "rps": entry["throughput_rps"],
        "p50_us": entry["metrics"]["latency"]["p50"],
        "p99_us": entry["metrics"]["latency"]["p99"],
        "cpu_us": summary["client"]["cpu_us_per_request"],
        "errors": entry["errors"],
    }
    if entry["requests"]:
        figures["switches"] = (rusage.ru_nvcsw + rusage.ru_nivcsw) / entry["requests"]
    late = entry.get("late_sends")
    if late is not None and entry["requests"]:
        figures["late_pct"] = 100.0 * late / entry["requests"]
    return figures


def _line(name: str, figures: dict[str, Any]) -> str:
    if "error" in figures:
        return f"{name:8s} FAILED {figures['error']}"
    text = (
        f"{name:8s} {figures['rps']:7.0f} req/s  p50 {figures['p50_us']:6.0f}  p99 {figures['p99_us']:7.0f} µs  "
        f"{figures['cpu_us']:5.0f} µs CPU/request"
    )
    if "switches" in figures:
        text += f"  {figures['switches']:4.1f} switches/request"
    if "late_pct" in figures:
        text += f"  late {figures['late_pct']:.1f}%"
    if figures["errors"]:
        text += f"  errors {figures['errors']}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="append", required=True, help="NAME=path to a tritonload executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--protocol", choices=["grpc", "http"], default="grpc")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this rate (0: closed loop)")
    parser.add_argument("--ordinary", action="store_true", help="fast_path: false (the ordinary request path)")
    args = parser.parse_args(argv)
    builds = dict(item.split("=", 1) for item in args.build)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in builds}
    print("load:", Path("/proc/loadavg").read_text().split()[:3], flush=True)
    with EmbeddedTriton(models=["Linear"]) as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scenario = work / "scenario.yaml"
        url = server.grpc_url if args.protocol == "grpc" else server.http_url
        scenario.write_text(scenario_text(url, args))
        names = list(builds)
        for rnd in range(1, args.rounds + 1):
            order = names if rnd % 2 else names[::-1]
            for name in order:
                figures = run_once(builds[name], scenario, work / f"{name}-{rnd}")
                results[name].append(figures)
                print(f"round {rnd}  {_line(name, figures)}", flush=True)
    print("load:", Path("/proc/loadavg").read_text().split()[:3])
    print("medians:")
    for name, runs in results.items():
        good = [run for run in runs if "error" not in run]
        if not good:
            print(f"{name:8s} no successful run")
            continue
        keys = [key for key in good[0] if all(key in run for run in good)]
        print(_line(name, {key: statistics.median(run[key] for run in good) for key in keys}))
    return 0 if all("error" not in run for runs in results.values() for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
