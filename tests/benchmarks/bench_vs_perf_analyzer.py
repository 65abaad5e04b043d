"""Side by side: `tritonload run`, NVIDIA's perf_analyzer (C++) and plain tritonclient threads, one server.

    .venv/bin/python tests/benchmarks/bench_vs_perf_analyzer.py [--rounds 3] [--seconds 9] [--quick]
        [--tools perf_analyzer,raw,tritonload] [--model Linear|Sleep] [--http-rate 2000] [--grpc-rate 1500]
        [--cases http-closed,grpc-closed,http-open,grpc-open] [--json results.json] [--keep DIR]

One embedded Triton serves the model; every tool sends it the same requests (batch 1: one FP32[2]
row for `Linear`) in four cases: closed loop with 8 concurrent synchronous senders over HTTP and over
gRPC, and open loop at a fixed constant rate over HTTP and over gRPC (at most `--max-in-flight`
outstanding requests: perf_analyzer's `--max-threads`, tritonload's `load.max_in_flight`, raw's
sender threads). The tools (`--tools`, default all three; `--tools perf_analyzer,tritonload` is the
old two-tool benchmark):

- `perf_analyzer`: NVIDIA's C++ generator (`--sync`, inputs prepared once);
- `raw`: `_raw_client.py`, the plain Python client a user would write without a harness:
  tritonclient's `InferenceServerClient.infer` in OS threads, each with its own client and inputs
  built once; closed loop back to back, open loop constant arrivals dealt round-robin to the threads,
  each sleeping until its next intended time (perf_analyzer's request-rate mode, in Python);
- `tritonload`: `tritonload run` (this checkout's code) on an equivalent generated scenario.

Each round runs every case with every tool one after the other; the tool that goes first rotates
between rounds so drift on the machine hits each; `--rounds` rounds, then medians.

What is compared, and where each number comes from:
- Throughput, p50, p99: as each tool reports them. perf_analyzer: its `-f` CSV (`Inferences/Second`,
  `p50 latency`, `p99 latency`), over 3 measurement windows of `--seconds`/3 each; its stability rule
  is relaxed (`-s 1000`) so it measures a fixed span like the others instead of extending or aborting
  on a noisy machine (`--pa-stability 10` restores its default). perf_analyzer has no warm-up option;
  tritonload and raw measure `--seconds` after `--warmup`. Latency is client-side in all three, from
  the actual send (never from an intended start), but not over the same code: perf_analyzer times its
  C++ client's `Infer` call with inputs prepared once (send, wait, receive, parse the response); raw
  times the Python `infer` call (build the request from the prepared inputs, send, wait, parse);
  tritonload times its fast path's pre-encoded request on the wire (see docs/results.md).
- Server throughput: the server's count of successful inferences over the steady span (below).
- Client CPU per request: measured from outside, the same way for every tool. While a tool runs,
  this script samples every `--sample-interval` seconds the user+system CPU time of the tool's process
  tree (`/proc/<pid>/stat`) and the server's success count (statistics extension). The steady span
  starts `--trim-start` s after the server count first rises and ends `--trim-end` s before it last
  rises, so start-up (imports, connecting), ramp-up and tear-down (writing reports) stay outside it;
  CPU µs/request = CPU seconds over the span / server-counted requests over the span. The whole-run
  column divides the tool's lifetime CPU (wait4 rusage) by all requests it sent, start-up included.
  tritonload's own figure (`summary.json` `client.cpu_us_per_request`) is shown as a cross-check.
- Late: the share of requests sent after their intended time in open loop. tritonload and raw count
  sends more than 5 ms late; perf_analyzer prints its share of delayed requests only when it warns
  that it could not keep up ("-" otherwise).

Ratios are of the per-round medians: tritonload / perf_analyzer, raw / perf_analyzer (what the
Python client stack itself costs) and tritonload / raw (what the harness adds or saves), each when
both tools ran. The machine's `uptime` load is printed at the start and the end; figures from a busy
machine are not publishable (docs/compare-tools.md).

perf_analyzer is installed on first use into ~/.cache/tritonload/perf_analyzer/ (see
`_perf_analyzer.py`); `tritonload run` is this checkout's code (`python -m loadtest`, PYTHONPATH set to
the repository root); raw uses the tritonclient installed with this interpreter. Exit code 1 when
perf_analyzer cannot be installed or a measurement failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# This checkout's `loadtest` (not an installed copy) and the helper modules next to this script.
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import _perf_analyzer as pa  # noqa: E402
from _sampling import SampledRun, SpanError, run_sampled, steady_span  # noqa: E402
from _vs_table import ROUND_HEADER, TOOLS, Measurement, print_summary, round_line, summary_rows  # noqa: E402

from loadtest.embedded import EmbeddedTriton  # noqa: E402

RAW_CLIENT = Path(__file__).resolve().parent / "_raw_client.py"


@dataclass(frozen=True)
class ModelSpec:
    """One model's input as both tools must send it (batch 1)."""

    input_name: str
    sample_shape: tuple[int, ...]
    pa_shape: str | None  # perf_analyzer's --shape for variable dimensions


MODELS = {
    "Linear": ModelSpec("INPUT_1", (2,), None),
    "Sleep": ModelSpec("INPUT", (2,), "INPUT:2"),
}


@dataclass(frozen=True)
class Case:
    """One load to compare: protocol and closed loop (concurrency) or open loop (rate)."""

    name: str
    protocol: str
    concurrency: int | None = None
    rate_rps: float | None = None


def uptime() -> str:
    """The 1, 5 and 15 minute load averages and the CPU count, as `uptime` would show them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def server_counter(http_port: int, model: str) -> Callable[[], int]:
    """A function returning the server's count of successful inferences of `model`."""
    url = f"http://127.0.0.1:{http_port}/v2/models/{model}/stats"

    def count() -> int:
        with urllib.request.urlopen(url, timeout=5) as response:
            stats = json.load(response)
        return int(stats["model_stats"][0]["inference_stats"]["success"]["count"])

    return count


def scenario_text(case: Case, url: str, model: str, spec: ModelSpec, args: argparse.Namespace) -> str:
    """The tritonload scenario equivalent to perf_analyzer's run of `case`."""
    if case.concurrency is not None:
        load = f"{{kind: closed, users: {case.concurrency}, spawn_rate: {case.concurrency}}}"
    else:
        load = f"{{kind: open, rate: {case.rate_rps:g}, arrival: constant, max_in_flight: {args.max_in_flight}}}"
    return textwrap.dedent(
        f"""
        version: 1
        name: vs-perf-analyzer-{case.name}
        targets:
          server: {{url: "{url}", model: {model}}}
        payloads:
          sample:
            pool_size: 16
            inputs: {{{spec.input_name}: {{dtype: float32, shape: {list(spec.sample_shape)}, generator: uniform}}}}
        traffic:
          - {{name: bench, pattern: sync, target: server, payload: sample}}
        load: {load}
        warmup_s: {args.warmup:g}
        duration_s: {args.seconds:g}
        """
    )


def _span_figures(measurement: Measurement, run: SampledRun, args: argparse.Namespace) -> None:
    span = steady_span(run.samples, args.trim_start, args.trim_end, min_s=args.min_span)
    measurement.server_rps = span.throughput_rps
    measurement.cpu_us_per_request = span.cpu_us_per_request
    measurement.span_s = span.duration_s
    if run.server_count_delta:
        measurement.whole_run_cpu_us_per_request = run.total_cpu_s * 1e6 / run.server_count_delta


def _failure(run: SampledRun, tool: str) -> str:
    tail = " | ".join((run.stdout + run.stderr).strip().splitlines()[-4:])
    return f"{tool} exited with code {run.returncode}: {tail}"


def run_perf_analyzer(
    installed: pa.PerfAnalyzer,
    case: Case,
    server: EmbeddedTriton,
    spec: ModelSpec,
    work: Path,
    rnd: int,
    args: argparse.Namespace,
) -> Measurement:
    """Measure `case` once with perf_analyzer."""
    result = Measurement(case.name, "perf_analyzer", rnd)
    port = server.http_port if case.protocol == "http" else server.grpc_port
    run_dir = work / f"pa-{case.name}-{rnd}"
    csv_path = run_dir / "pa.csv"
    run_dir.mkdir(parents=True, exist_ok=True)
    command = pa.command(
        installed,
        model=args.model,
        url=f"127.0.0.1:{port}",
        protocol=case.protocol,
        csv_path=csv_path,
        window_ms=max(int(args.seconds * 1000 / 3), 500),
        concurrency=case.concurrency,
        rate_rps=case.rate_rps,
        max_threads=args.max_in_flight if case.rate_rps is not None else None,
        stability_percent=args.pa_stability,
        max_trials=args.pa_max_trials,
    )
    if spec.pa_shape:
        command += ["--shape", spec.pa_shape]
    run = run_sampled(
        command,
        server_counter(server.http_port, args.model),
        interval_s=args.sample_interval,
        timeout_s=args.seconds * args.pa_max_trials / 3 + 60,
        env=installed.env(),
        log_dir=run_dir,
    )
    if run.returncode != 0 or not csv_path.exists():
        result.error = _failure(run, "perf_analyzer")
        return result
    try:
        parsed = pa.parse_result(csv_path.read_text(), run.stdout)
        _span_figures(result, run, args)
    except (ValueError, SpanError) as exc:
        result.error = f"perf_analyzer: {exc}"
        return result
    result.throughput_rps, result.p50_us, result.p99_us = parsed.throughput_rps, parsed.p50_us, parsed.p99_us
    result.late_percent = parsed.delayed_percent
    return result


def run_tritonload(
    case: Case, server: EmbeddedTriton, spec: ModelSpec, work: Path, rnd: int, args: argparse.Namespace
) -> Measurement:
    """Measure `case` once with `tritonload run` (this checkout's code) on a generated scenario."""
    result = Measurement(case.name, "tritonload", rnd)
    url = server.http_url if case.protocol == "http" else server.grpc_url
    run_dir = work / f"tl-{case.name}-{rnd}"
    scenario = work / f"tl-{case.name}-{rnd}.yaml"
    scenario.write_text(scenario_text(case, url, args.model, spec, args))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(run_dir / "run")]
    run = run_sampled(
        [*command, "-q", "--format", "json"],
        server_counter(server.http_port, args.model),
        interval_s=args.sample_interval,
        timeout_s=args.warmup + args.seconds + 120,
        env=env,
        cwd=ROOT,
        log_dir=run_dir,
    )
    summary_path = run_dir / "run" / "summary.json"
    if run.returncode != 0 or not summary_path.exists():
        result.error = _failure(run, "tritonload run")
        return result
    summary = json.loads(summary_path.read_text())
    entry = summary["traffic"]["bench"]
    if entry["errors"]:
        result.error = f"tritonload run: {entry['errors']} failed requests {entry['errors_by_kind']}"
        return result
    try:
        _span_figures(result, run, args)
    except SpanError as exc:
        result.error = f"tritonload: {exc}"
        return result
    result.throughput_rps = entry["throughput_rps"]
    result.p50_us = entry["metrics"]["latency"]["p50"]
    result.p99_us = entry["metrics"]["latency"]["p99"]
    result.own_cpu_us_per_request = summary["client"]["cpu_us_per_request"]
    if case.rate_rps is not None and entry["requests"]:
        result.late_percent = 100.0 * entry["late_sends"] / entry["requests"]
    return result


def run_raw(
    case: Case, server: EmbeddedTriton, spec: ModelSpec, work: Path, rnd: int, args: argparse.Namespace
) -> Measurement:
    """Measure `case` once with plain tritonclient threads (`_raw_client.py`, its own process)."""
    result = Measurement(case.name, "raw", rnd)
    port = server.http_port if case.protocol == "http" else server.grpc_port
    run_dir = work / f"raw-{case.name}-{rnd}"
    result_path = run_dir / "raw.json"
    command = [sys.executable, str(RAW_CLIENT), "--url", f"127.0.0.1:{port}", "--protocol", case.protocol]
    command += ["--model", args.model, "--input", spec.input_name]
    command += ["--shape", ",".join(str(d) for d in (1, *spec.sample_shape))]
    if case.concurrency is not None:
        command += ["--concurrency", str(case.concurrency)]
    else:
        command += ["--rate", f"{case.rate_rps:g}", "--max-in-flight", str(args.max_in_flight)]
    command += ["--seconds", f"{args.seconds:g}", "--warmup", f"{args.warmup:g}", "--json", str(result_path)]
    run = run_sampled(
        command,
        server_counter(server.http_port, args.model),
        interval_s=args.sample_interval,
        timeout_s=args.warmup + args.seconds + 60,
        log_dir=run_dir,
    )
    if not result_path.exists():
        result.error = _failure(run, "raw tritonclient")
        return result
    raw = json.loads(result_path.read_text())
    if run.returncode != 0 or raw["errors"]:
        result.error = f"raw tritonclient: {raw['errors']} failed requests, first: {raw['first_error']}"
        return result
    try:
        _span_figures(result, run, args)
    except SpanError as exc:
        result.error = f"raw: {exc}"
        return result
    result.throughput_rps, result.p50_us, result.p99_us = raw["throughput_rps"], raw["p50_us"], raw["p99_us"]
    result.late_percent = raw["late_percent"]
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every case with every tool (default 3)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated (default {','.join(TOOLS)})")
    parser.add_argument("--seconds", type=float, default=9.0, help="measured seconds per run (default 9)")
    parser.add_argument("--warmup", type=float, default=1.0, help="tritonload's and raw's warm-up seconds (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s (about a minute)")
    parser.add_argument("--model", choices=sorted(MODELS), default="Linear")
    parser.add_argument("--sleep-ms", type=float, default=1.0, help="Sleep's latency_ms when --model Sleep")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop senders (default 8)")
    parser.add_argument("--http-rate", type=float, default=2000.0, help="open-loop rate over HTTP, req/s")
    parser.add_argument("--grpc-rate", type=float, default=1500.0, help="open-loop rate over gRPC, req/s")
    parser.add_argument("--max-in-flight", type=int, default=16, help="open-loop cap on outstanding requests")
    parser.add_argument("--cases", default="http-closed,grpc-closed,http-open,grpc-open", help="comma-separated")
    parser.add_argument("--pa-stability", type=float, default=1000.0, help="perf_analyzer -s (default 1000: off)")
    parser.add_argument("--pa-max-trials", type=int, default=5, help="perf_analyzer -r (default 5)")
    parser.add_argument("--sample-interval", type=float, default=0.2, help="CPU/count sampling period, s")
    parser.add_argument("--trim-start", type=float, default=1.0, help="seconds cut after traffic starts")
    parser.add_argument("--trim-end", type=float, default=0.5, help="seconds cut before traffic ends")
    parser.add_argument("--min-span", type=float, default=1.0, help="shortest usable steady span, s")
    parser.add_argument("--json", type=Path, help="also write every measurement and the summary here")
    parser.add_argument("--keep", type=Path, help="keep every run's files (scenarios, CSVs, logs) in this directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.warmup = 1, 3.0, 0.5
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")
    args.tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    unknown = [tool for tool in args.tools if tool not in TOOLS]
    if unknown or not args.tools or len(set(args.tools)) != len(args.tools):
        parser.error(f"--tools: unknown or repeated {unknown or args.tools}; choose from {', '.join(TOOLS)}")
    return args


def build_cases(args: argparse.Namespace) -> list[Case]:
    known = {
        "http-closed": Case("http-closed", "http", concurrency=args.concurrency),
        "grpc-closed": Case("grpc-closed", "grpc", concurrency=args.concurrency),
        "http-open": Case("http-open", "http", rate_rps=args.http_rate),
        "grpc-open": Case("grpc-open", "grpc", rate_rps=args.grpc_rate),
    }
    names = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise SystemExit(f"unknown --cases {unknown}; choose from {', '.join(known)}")
    return [known[name] for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cases = build_cases(args)
    tools: list[str] = args.tools
    installed = None
    if "perf_analyzer" in tools:
        try:
            installed = pa.ensure_perf_analyzer()
        except pa.PerfAnalyzerUnavailable as exc:
            print(f"error: perf_analyzer is not available: {exc}", file=sys.stderr)
            return 1

    spec = MODELS[args.model]
    parameters = {"Sleep": {"latency_ms": args.sleep_ms}} if args.model == "Sleep" else None
    print(f"start: {uptime()}")
    print(
        f"model {args.model}, {args.rounds} round(s) x {len(cases)} case(s) x {len(tools)} tools "
        f"({', '.join(tools)}), {args.seconds:g} s each (tritonload and raw warm-up {args.warmup:g} s); "
        f"concurrency {args.concurrency}; open loop: HTTP {args.http_rate:g}/s, gRPC {args.grpc_rate:g}/s, "
        f"max in flight {args.max_in_flight}"
    )
    measurements: list[Measurement] = []
    with (
        EmbeddedTriton(models=[args.model], model_parameters=parameters) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for rnd in range(1, args.rounds + 1):
            print(f"\nround {rnd}/{args.rounds} ({uptime()})\n{ROUND_HEADER}")
            shift = (rnd - 1) % len(tools)  # each tool goes first in turn, so drift hits every tool
            order = tools[shift:] + tools[:shift]
            for case in cases:
                for tool in order:
                    if tool == "perf_analyzer":
                        assert installed is not None
                        measured = run_perf_analyzer(installed, case, server, spec, work, rnd, args)
                    elif tool == "raw":
                        measured = run_raw(case, server, spec, work, rnd, args)
                    else:
                        measured = run_tritonload(case, server, spec, work, rnd, args)
                    measurements.append(measured)
                    print(round_line(measured), flush=True)
    rows = summary_rows(measurements, [(case.name, case.rate_rps is not None) for case in cases], tools)
    print_summary(rows, tools)
    print(f"\nend: {uptime()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                    "measurements": [asdict(m) for m in measurements],
                    "summary": [asdict(row) for row in rows],
                },
                indent=1,
            )
        )
    failed = [m for m in measurements if m.error]
    if failed:
        print(f"{len(failed)} measurement(s) failed; see the FAILED lines above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
