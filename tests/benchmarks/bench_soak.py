"""Soak: a long open-loop run with every traffic pattern, watching the load generator's memory, fds and threads.

Runs `tritonload run` for `--minutes` (default 10) at a fixed open-loop rate (`--rate`, default 100
requests/s in all) with the five patterns at once (sync HTTP, futures HTTP, asyncio gRPC, decoupled
gRPC, asyncio-decoupled gRPC) against the embedded Triton the run starts itself, and samples the
`tritonload run` process from outside (`/proc/<pid>/status` and `/proc/<pid>/fd`) every `--sample-s`
seconds. Prints one row per minute (requests so far; RSS median, min and max of the minute's
samples; open fds; threads) and the verdict: memory must not grow with the request count
(histograms, not lists), so the median RSS may grow less than `--max-rss-growth-mb` (10) from
minute 2 to the last minute, and fds and threads stay flat (no more fds in the last minute than in
minute 2; the last minute's median thread count at most 2 above minute 2's: gRPC's own thread pool
grows and shrinks by a few threads all the time).

    .venv/bin/python tests/benchmarks/bench_soak.py [--minutes 10] [--rate 100] [--sample-s 5]

Exit code 0 when the verdict holds, 1 when it does not (or the run failed). Never kills anything but
the child it started; Linux only (`/proc`).
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WARMUP_S = 5
THREAD_SLACK = 2


def scenario_text(rate: float, duration_s: float) -> str:
    return textwrap.dedent(
        f"""
        version: 1
        name: soak
        embedded:
          models: [Linear, streaming_bot]
        targets:
          linear-http: {{embedded: true, protocol: http, model: Linear}}
          linear-grpc: {{embedded: true, protocol: grpc, model: Linear}}
          bot-grpc: {{embedded: true, protocol: grpc, model: streaming_bot}}
        payloads:
          sample:
            pool_size: 64
            inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: normal}}}}
          prompts:
            inputs: {{inputs: {{dtype: bytes, shape: [1], generator: prompts, prompts: ["soak test", "hello"]}}}}
        traffic:
          - {{name: sync, pattern: sync, target: linear-http, payload: sample}}
          - {{name: futures, pattern: futures, target: linear-http, payload: sample}}
          - {{name: asyncio, pattern: asyncio, target: linear-grpc, payload: sample}}
          - {{name: decoupled, pattern: decoupled, target: bot-grpc, payload: prompts,
              parameters: {{tokens: 4, token_delay_ms: 1}}}}
          - {{name: asyncio-decoupled, pattern: asyncio-decoupled, target: bot-grpc, payload: prompts,
              parameters: {{tokens: 4, token_delay_ms: 1}}}}
        load: {{kind: open, rate: {rate:g}, arrival: constant, max_in_flight: 40}}
        warmup_s: {WARMUP_S}
        duration_s: {duration_s:g}
        """
    )


@dataclass(frozen=True)
class Sample:
    """One look at the generator process."""

    t_s: float
    rss_kb: int
    threads: int
    fds: int


@dataclass(frozen=True)
class Minute:
    """The samples of one measured minute, summarised."""

    minute: int
    requests: int
    rss_median_mb: float
    rss_min_mb: float
    rss_max_mb: float
    fds: tuple[int, ...]
    threads: tuple[int, ...]
    threads_median: float

    @classmethod
    def of(cls, minute: int, samples: list[Sample], requests: int) -> Minute:
        rss_mb = [s.rss_kb / 1024 for s in samples]
        return cls(
            minute,
            requests,
            statistics.median(rss_mb),
            min(rss_mb),
            max(rss_mb),
            tuple(sorted({s.fds for s in samples})),
            tuple(sorted({s.threads for s in samples})),
            statistics.median(s.threads for s in samples),
        )

    def line(self) -> str:
        def span(values: tuple[int, ...]) -> str:
            return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"

        return (
            f"{self.minute:>6} {self.requests:>10} {self.rss_median_mb:>13.1f} {self.rss_min_mb:>7.1f} "
            f"{self.rss_max_mb:>7.1f} {span(self.fds):>5} {span(self.threads):>7} {self.threads_median:>14g}"
        )


def sample(pid: int, t_s: float) -> Sample | None:
    """RSS, threads and open fds of ``pid``, or None when it is gone."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    return Sample(t_s, int(fields["VmRSS"].split()[0]), int(fields["Threads"]), fds)


def requests_so_far(run_dir: Path) -> int:
    """Requests (ok + errors) in the run's interval file so far."""
    path = run_dir / "intervals.jsonl"
    if not path.exists():
        return 0
    total = 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        for counters in record["traffic"].values():
            total += counters["ok"] + sum(counters["errors"].values())
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="measured minutes (default 10)")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests/s, all patterns together")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between two samples")
    parser.add_argument("--max-rss-growth-mb", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, help="keep the run directory here (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tritonload-soak-") as work:
        return soak(args, Path(work))


def soak(args: argparse.Namespace, work: Path) -> int:
    """Run, sample, print the table and the verdict; returns the exit code."""
    scenario = work / "soak.yaml"
    scenario.write_text(scenario_text(args.rate, args.minutes * 60))
    run_dir = args.keep or work / "run"
    command = [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(run_dir), "-q", "--format", "json"]
    print(f"soak: {args.minutes:g} min at {args.rate:g} requests/s (open loop, five patterns); run dir {run_dir}")
    print(
        f"{'minute':>6} {'requests':>10} {'RSS MB median':>13} {'min':>7} {'max':>7} {'fds':>5} {'threads':>7} "
        f"{'threads median':>14}"
    )
    rows: list[Minute] = []
    with (
        (work / "stderr.txt").open("w") as err,
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err) as process,
    ):
        began = time.monotonic()
        measure_start: float | None = None
        window: list[Sample] = []
        while process.poll() is None:
            now = time.monotonic() - began
            seen = sample(process.pid, now)
            if seen is not None and measure_start is None and (run_dir / "intervals.jsonl").exists():
                measure_start = now  # the warm-up is over: the first interval is written
            if seen is not None and measure_start is not None:
                window.append(seen)
                if now - measure_start >= 60 * (len(rows) + 1):
                    rows.append(Minute.of(len(rows) + 1, window, requests_so_far(run_dir)))
                    window = []
                    print(rows[-1].line(), flush=True)
            time.sleep(args.sample_s)
    stderr = (work / "stderr.txt").read_text()
    if process.returncode != 0:
        print(f"the run failed (exit code {process.returncode}):\n{stderr[-3000:]}")
        return 1
    summary = json.loads((run_dir / "summary.json").read_text())
    overall = summary["overall"]
    print(
        f"run: {overall['requests']} requests, {overall['errors']} errors, "
        f"{summary['client']['cpu_us_per_request']} us CPU/request, late sends {overall['late_sends']}"
    )
    if len(rows) < 3:
        print("too short for a verdict (needs at least 3 minutes)")
        return 1
    growth_mb = rows[-1].rss_median_mb - rows[1].rss_median_mb
    # Flat: no more open fds at the end than in minute 2; threads: the median of the last minute at
    # most THREAD_SLACK above minute 2's (gRPC's event-engine pool grows and shrinks by a few threads
    # all the time; a leak would add one per request or per stream and show as a steady climb).
    fds_flat = max(rows[-1].fds) <= max(rows[1].fds)
    threads_flat = rows[-1].threads_median - rows[1].threads_median <= THREAD_SLACK
    ok = growth_mb < args.max_rss_growth_mb and fds_flat and threads_flat
    print(
        f"minute 2 -> {rows[-1].minute}: RSS (median of each minute's samples) {growth_mb:+.1f} MB "
        f"(limit {args.max_rss_growth_mb:g} MB); fds {max(rows[1].fds)} -> {max(rows[-1].fds)} "
        f"({'flat' if fds_flat else 'GROWING'}); threads (median) {rows[1].threads_median:g} -> "
        f"{rows[-1].threads_median:g} ({'flat' if threads_flat else 'GROWING'}): {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
