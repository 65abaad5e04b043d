"""Side by side: `tritonload sweep --concurrency 1,2,4,8` against perf_analyzer's concurrency sweep, on the
`Capacity` demo model, whose throughput is known in advance.

    /work/main/.venv/bin/python tests/benchmarks/bench_capacity_vs_perf_analyzer.py [--levels 1,2,4,8]
        [--protocol http|grpc] [--window-s 5] [--stability-pct 10] [--max-windows 10] [--json out.json]

One embedded Triton serves `Capacity` (4 instances, each holding one request for 20 ms), so with c
requests outstanding the server completes min(c, 4) / 20 ms requests per second: 50, 100, 200, 200
req/s at c = 1, 2, 4, 8. Both tools send the same request (one FP32[4] input, synchronous calls):

- perf_analyzer (C++): one invocation per level, `--concurrency-range c` (its `start:end:step`
  is linear, so "1:8 doubling" is these four runs), time windows of `--window-s`, its own stability
  rule (the last 3 windows within ±`--stability-pct` %, at most `--max-windows` trials). Throughput is
  its CSV's `Inferences/Second` (batch 1: requests/s), latency its `p50/p99 latency`.
- tritonload: one `tritonload sweep SCENARIO --concurrency 1,2,4,8` run (this checkout's code), the same
  window, windows and tolerance; each step's throughput, p50/p99 and `stable` from its `sweep.json`.

Printed per level: each tool's throughput and stability, the expected min(c, 4) / 20 ms, the ratios
tool / expected and tritonload / perf_analyzer, and both tools' p50/p99. The machine's load average
is printed at the start and the end: figures from a busy machine only smoke-test the script.
Exit code 1 when perf_analyzer cannot be installed or a measurement failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import _perf_analyzer as pa  # noqa: E402

from loadtest.embedded import EmbeddedTriton  # noqa: E402

MODEL = "Capacity"
INSTANCES = 4
SERVICE_MS = 20.0


@dataclass
class Level:
    """Both tools' measurement of one concurrency level."""

    concurrency: int
    expected_rps: float
    pa_rps: float | None = None
    pa_p50_us: float | None = None
    pa_p99_us: float | None = None
    pa_error: str | None = None
    tl_rps: float | None = None
    tl_p50_us: float | None = None
    tl_p99_us: float | None = None
    tl_stable: bool | None = None
    tl_windows: int | None = None


def expected_rps(concurrency: int) -> float:
    """The Capacity model's throughput with ``concurrency`` requests outstanding: min(c, 4) / 20 ms."""
    return min(concurrency, INSTANCES) / (SERVICE_MS / 1000.0)


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def scenario_text(url: str) -> str:
    """The tritonload scenario of the sweep (its `load` is replaced by each level)."""
    return textwrap.dedent(
        f"""
        version: 1
        name: capacity-vs-perf-analyzer
        targets:
          server: {{url: "{url}", model: {MODEL}}}
        payloads:
          sample:
            inputs: {{INPUT: {{dtype: float32, shape: [4], generator: uniform}}}}
        traffic:
          - {{name: bench, pattern: sync, target: server, payload: sample}}
        load: {{kind: closed, users: 1}}
        duration_s: 10
        """
    )


def run_perf_analyzer(installed: pa.PerfAnalyzer, level: Level, url: str, work: Path, args: argparse.Namespace) -> None:
    csv_path = work / f"pa-c{level.concurrency}.csv"
    command = pa.command(
        installed,
        model=MODEL,
        url=url,
        protocol=args.protocol,
        csv_path=csv_path,
        window_ms=int(args.window_s * 1000),
        concurrency=level.concurrency,
        stability_percent=args.stability_pct,
        max_trials=args.max_windows,
    )
    command += ["--shape", "INPUT:4"]
    timeout_s = args.window_s * args.max_windows * 1.5 + 60
    try:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, env=installed.env(), timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        level.pa_error = f"perf_analyzer did not finish in {timeout_s:.0f} s"
        return
    if done.returncode != 0 or not csv_path.exists():
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-4:])
        level.pa_error = f"perf_analyzer exited with code {done.returncode}: {tail}"
        return
    try:
        result = pa.parse_result(csv_path.read_text(), done.stdout)
    except ValueError as exc:
        level.pa_error = f"perf_analyzer: {exc}"
        return
    level.pa_rps, level.pa_p50_us, level.pa_p99_us = result.throughput_rps, result.p50_us, result.p99_us


def run_tritonload_sweep(levels: list[Level], url: str, work: Path, args: argparse.Namespace) -> str | None:
    """Run the sweep; fill each level from its sweep.json. Returns an error text, or None."""
    scenario = work / "capacity-bench.yaml"
    scenario.write_text(scenario_text(url))
    run_dir = work / "tritonload-sweep"
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "sweep",
        str(scenario),
        "--concurrency",
        ",".join(str(level.concurrency) for level in levels),
        "--window-s",
        f"{args.window_s:g}",
        "--windows",
        "3",
        "--stability-pct",
        f"{args.stability_pct:g}",
        "--max-windows",
        str(args.max_windows),
        "--no-early-stop",
        "--out",
        str(run_dir),
        "-q",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    timeout_s = len(levels) * (args.window_s * args.max_windows * 1.5 + 30) + 120
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout_s)
    result_path = run_dir / "sweep.json"
    if not result_path.exists():
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-6:])
        return f"tritonload sweep exited with code {done.returncode} and wrote no sweep.json: {tail}"
    steps = json.loads(result_path.read_text())["steps"]
    by_level = {int(step["level"]): step for step in steps}
    for level in levels:
        step = by_level.get(level.concurrency)
        if step is None:
            continue
        latency = step.get("latency_us") or {}
        level.tl_rps, level.tl_stable = step.get("throughput_rps"), step.get("stable")
        level.tl_p50_us, level.tl_p99_us = latency.get("p50"), latency.get("p99")
        level.tl_windows = len(step.get("windows") or [])
    print(f"tritonload sweep: exit code {done.returncode}, run directory {run_dir}")
    return None if done.returncode == 0 else f"tritonload sweep exited with code {done.returncode}"


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ms(value_us: float | None) -> str:
    return "-" if value_us is None else f"{value_us / 1000:.1f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "-" if numerator is None or not denominator else f"{numerator / denominator:.3f}"


def print_table(levels: Sequence[Level]) -> None:
    header = (
        f"{'c':>3} {'expected':>9} {'PA req/s':>9} {'TL req/s':>9} {'PA/exp':>7} {'TL/exp':>7} {'TL/PA':>7} "
        f"{'TL stable':>10} {'PA p50':>7} {'TL p50':>7} {'PA p99':>7} {'TL p99':>7}"
    )
    print(header)
    for level in levels:
        stable = "-" if level.tl_stable is None else f"{'yes' if level.tl_stable else 'NO'} ({level.tl_windows})"
        print(
            f"{level.concurrency:>3} {level.expected_rps:>9.1f} {_cell(level.pa_rps):>9} {_cell(level.tl_rps):>9} "
            f"{_ratio(level.pa_rps, level.expected_rps):>7} {_ratio(level.tl_rps, level.expected_rps):>7} "
            f"{_ratio(level.tl_rps, level.pa_rps):>7} {stable:>10} "
            f"{_ms(level.pa_p50_us):>7} {_ms(level.tl_p50_us):>7} {_ms(level.pa_p99_us):>7} {_ms(level.tl_p99_us):>7}"
        )
    print("(req/s: successful requests per second; p50/p99 in ms, client side; PA perf_analyzer, TL tritonload)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,2,4,8", help="Concurrency levels (default 1,2,4,8).")
    parser.add_argument("--protocol", choices=("http", "grpc"), default="http")
    parser.add_argument("--window-s", type=float, default=5.0, help="Measurement window of both tools (s).")
    parser.add_argument("--stability-pct", type=float, default=10.0, help="Stability tolerance of both tools (±%%).")
    parser.add_argument(
        "--max-windows", type=int, default=10, help="Windows (perf_analyzer: trials) at most per level."
    )
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--keep", type=Path, help="Keep the work files (CSV, scenario, sweep run) here.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    levels = [Level(int(text), expected_rps(int(text))) for text in args.levels.split(",")]
    try:
        installed = pa.ensure_perf_analyzer()
    except pa.PerfAnalyzerUnavailable as exc:
        print(f"error: perf_analyzer is not available: {exc}", file=sys.stderr)
        return 1
    print(f"start: {uptime()}")
    errors: list[str] = []
    with EmbeddedTriton(models=[MODEL]) as server, tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        port = server.http_port if args.protocol == "http" else server.grpc_port
        for level in levels:
            run_perf_analyzer(installed, level, f"127.0.0.1:{port}", work, args)
            print(
                f"perf_analyzer c={level.concurrency}: {_cell(level.pa_rps)} req/s {level.pa_error or ''}", flush=True
            )
            if level.pa_error:
                errors.append(level.pa_error)
        url = server.http_url if args.protocol == "http" else f"grpc://127.0.0.1:{server.grpc_port}"
        error = run_tritonload_sweep(levels, url, work, args)
        if error:
            errors.append(error)
    print()
    print_table(levels)
    print(f"\nend: {uptime()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "arguments": vars(args) | {"json": str(args.json), "keep": str(args.keep)},
                    "levels": [asdict(level) for level in levels],
                },
                indent=1,
            )
        )
    for error in errors:
        print(f"FAILED: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
