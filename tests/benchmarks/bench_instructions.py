"""Instructions per request of a load generator, counted by valgrind: a CPU cost that load does not move.

On a busy machine CPU-time figures swing with whatever else runs; the number of instructions a
process executes per request does not. This script starts one embedded Triton (``Linear``), runs a
load generator under ``valgrind --tool=callgrind`` with counting off, waits until its traffic is
steady, counts instructions for ``--seconds`` (``callgrind_control -i on`` / ``off``) and divides
by the server's count of successful inferences over the same span (statistics extension).

Generators (``--what``, several allowed; each runs once per ``--rounds``):

- ``raw``: the raw tritonclient gevent loop of ``bench_harness.py`` (sync HTTP, builds the request
  from numpy each time, decodes the output);
- ``run``: ``tritonload run`` with the sync pattern over HTTP (its default, the fast path when the
  payload allows it);
- ``run-ordinary``: the same with ``fast_path: false`` (the ordinary ``ModelClient`` path);
- ``run-grpc`` / ``run-grpc-ordinary``: the same over gRPC;
- ``grpc-bare``: the floor under ``run-grpc``: ``--users`` plain threads, each with a channel of its own,
  making blocking ``unary_unary`` calls without serializers on one pre-serialized request (the
  ``threads`` variant of ``bench_grpc_paths.py``); ``run-grpc`` over it is the harness's share, in one run
  (list ``grpc-bare`` first: the medians are printed as ratios to the first generator);
- ``run-grpc-paced``: ``run-grpc`` with every user paced at one request a second: almost idle, so its
  instructions per second are the time-based work (the 5 ms beat, Locust's and the run's own timers) that
  valgrind's pace spreads over ~50x fewer requests than a real run; ``run-grpc`` minus that rate over its
  request rate is the per-request path alone.

    .venv/bin/python tests/benchmarks/bench_instructions.py [--what raw run run-ordinary] [--seconds 20]

valgrind slows the generator ~50×, so the server is idle most of the time and request rates are low;
that is fine, instructions per request is the figure, with one caveat: work done once per interval
(tritonload's summary and server polling) is spread over ~50× fewer requests than at full speed, so
the harness runs with a 60 s recording interval (``--interval-s``) and that work stays out of the
counted span: the figure is the per-request path. Needs ``valgrind`` on PATH (Debian package).
The count covers every thread of the generator (valgrind runs them one at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench_harness import RAW_LOOP  # noqa: E402

from loadtest.embedded import EmbeddedTriton  # noqa: E402

WHATS = ("raw", "run", "run-ordinary", "run-grpc", "run-grpc-ordinary", "run-grpc-paced", "grpc-bare")

BARE_GRPC_LOOP = textwrap.dedent(
    """
    import sys, threading
    from bench_grpc_paths import request_bytes, sync_call

    target, users = sys.argv[1], int(sys.argv[2])
    message = request_bytes()

    def sender():
        call = sync_call(target)
        while True:
            call(message, timeout=10)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(users)]
    for thread in threads:
        thread.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    """
)


def server_counter(http_port: int) -> Callable[[], int]:
    url = f"http://127.0.0.1:{http_port}/v2/models/Linear/stats"

    def count() -> int:
        with urllib.request.urlopen(url, timeout=5) as response:
            stats = json.load(response)
        return int(stats["model_stats"][0]["inference_stats"]["success"]["count"])

    return count


def scenario_text(url: str, users: int, fast_path: bool, interval_s: float, pacing_s: float = 0.0) -> str:
    return textwrap.dedent(
        f"""
        version: 1
        name: bench-instructions
        targets:
          linear: {{url: "{url}", model: Linear}}
        payloads:
          sample:
            pool_size: 64
            inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: normal}}}}
        traffic:
          - {{name: linear, pattern: sync, target: linear, payload: sample}}
        load: {{kind: closed, users: {users}, spawn_rate: {users}, pacing_s: {pacing_s}}}
        fast_path: {str(fast_path).lower()}
        warmup_s: 1
        duration_s: 3600
        recording: {{interval_s: {interval_s}}}
        """
    )


def command(what: str, server: EmbeddedTriton, args: argparse.Namespace, work: Path) -> list[str]:
    users = args.users
    if what == "raw":
        return [sys.executable, "-c", RAW_LOOP, str(server.http_port), str(users), "1", "3600"]
    if what == "grpc-bare":
        return [sys.executable, "-c", BARE_GRPC_LOOP, f"127.0.0.1:{server.grpc_port}", str(users)]
    url = server.grpc_url if what.startswith("run-grpc") else server.http_url
    scenario = work / f"{what}.yaml"
    pacing_s = 1.0 if what.endswith("paced") else 0.0
    scenario.write_text(scenario_text(url, users, not what.endswith("ordinary"), args.interval_s, pacing_s))
    out = work / f"{what}-{time.time_ns()}"
    return [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(out), "-q"]


def total_instructions(out_file: Path) -> int:
    """The ``totals:`` line of a callgrind dump (its ``summary:`` line can read 0 when counting was toggled)."""
    for line in out_file.read_text().splitlines():
        match = re.match(r"^totals:\s+(\d+)", line)
        if match:
            return int(match.group(1))
    raise ValueError(f"no totals in {out_file}")


def measure(what: str, server: EmbeddedTriton, args: argparse.Namespace, work: Path) -> tuple[float, int]:
    """Instructions per request of one generator and the requests counted."""
    count = server_counter(server.http_port)
    out_dir = work / f"cg-{what}-{time.time_ns()}"
    out_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(Path(__file__).resolve().parent)]))
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/cg.out",
        "--dump-instr=no",
        "--compress-strings=no",
    ]
    log = (out_dir / "log.txt").open("w")
    process = subprocess.Popen([*valgrind, *command(what, server, args, work)], stdout=log, stderr=log, env=env)
    try:
        before = count()
        deadline = time.monotonic() + args.startup_timeout
        while count() - before < 20:  # traffic started (valgrind makes start-up take a minute or so)
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what}: no traffic; see {out_dir}/log.txt")
            time.sleep(1)
        time.sleep(args.settle)
        subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True, capture_output=True)
        start = count()
        time.sleep(args.seconds)
        subprocess.run(["callgrind_control", "-i", "off", str(process.pid)], check=True, capture_output=True)
        requests = count() - start
        subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
    dumps = sorted(p for p in out_dir.glob("cg.out*") if p.stat().st_size)
    instructions = sum(total_instructions(p) for p in dumps)
    return instructions / max(requests, 1), requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", nargs="+", choices=WHATS, default=["raw", "run", "run-ordinary"])
    parser.add_argument("--seconds", type=float, default=20.0, help="counting span per generator")
    parser.add_argument("--settle", type=float, default=5.0, help="wait after traffic starts, before counting")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument(
        "--interval-s",
        type=float,
        default=60.0,
        help="tritonload's recording interval: its per-interval work (summary, server polling; a few ms a "
        "second at full speed) would weigh ~50x too much at valgrind's pace, so by default none falls in the "
        "counted span; 1 counts it as a real run does",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the callgrind dumps (and logs) in this directory, for callgrind_annotate; default: a temporary one",
    )
    args = parser.parse_args()

    results: dict[str, list[float]] = {what: [] for what in args.what}
    with EmbeddedTriton(models=["Linear"]) as server, tempfile.TemporaryDirectory() as scratch:
        tmp = scratch
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(args.keep)
        for index in range(args.rounds):
            for what in args.what:
                per_request, requests = measure(what, server, args, Path(tmp))
                results[what].append(per_request)
                line = f"{per_request / 1e3:10.1f} k instructions/request ({requests} requests, "
                line += f"{per_request * requests / args.seconds / 1e6:.2f} M instructions/s)"
                print(f"round {index + 1} {what:>18}: {line}", flush=True)
    base = statistics.median(results[args.what[0]])
    for what, values in results.items():
        median = statistics.median(values)
        print(f"{what:>18}: median {median / 1e3:10.1f} k instructions/request, {median / base:5.2f}× {args.what[0]}")


if __name__ == "__main__":
    main()
