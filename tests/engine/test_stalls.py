"""A hung server: the run keeps ticking, records the stall, ends on time and counts what never came back.

The server is really stopped (SIGSTOP on the embedded Triton's process) and resumed (SIGCONT). The pure
rule (``StallTracker``) is unit-tested in tests/engine/test_rules.py.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from loadtest.embedded import EmbeddedTriton
from loadtest.exit_codes import ExitCode
from tests.servers import own_server

ROOT = Path(__file__).resolve().parents[2]
S = 1_000_000_000


def _scenario(tmp_path: Path, server: EmbeddedTriton, duration_s: float, protocol: str = "http") -> Path:
    path = tmp_path / "stall.yaml"
    url = server.grpc_url if protocol == "grpc" else server.http_url
    path.write_text(
        f"""
version: 1
name: stall
targets:
  sleep: {{url: "{url}", model: Sleep, timeouts: {{inference_s: 60}}}}
payloads:
  one: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - {{name: sleep, pattern: sync, target: sleep, payload: one, parameters: {{latency_ms: 20}}}}
load: {{kind: closed, users: 2}}
duration_s: {duration_s}
grace_s: 1
"""
    )
    return path


def _run_with_pause(
    tmp_path: Path, server: EmbeddedTriton, duration_s: float, pause: tuple[float, float | None], protocol: str = "http"
):
    """Run the scenario; SIGSTOP the server ``pause[0]`` s after measuring begins, SIGCONT after ``pause[1]`` s
    (None: at the end). Returns (exit code, stderr, seconds from the first interval to the exit, run directory)."""
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "run",
        str(_scenario(tmp_path, server, duration_s, protocol)),
        "--out",
        str(run_dir),
        "--format",
        "text,json",  # the HTML report (2 s of CPU) is not what these tests look at
    ]
    assert server.pid is not None
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    stopped = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (run_dir / "intervals.jsonl").exists():
            time.sleep(0.05)
        started = time.monotonic()  # about one interval after the measurement began
        time.sleep(pause[0])
        os.kill(server.pid, signal.SIGSTOP)
        stopped.set()
        if pause[1] is not None:
            time.sleep(pause[1])
            os.kill(server.pid, signal.SIGCONT)
        _, stderr = process.communicate(timeout=60)
        elapsed_s = time.monotonic() - started
    finally:
        os.kill(server.pid, signal.SIGCONT)
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stderr, elapsed_s, run_dir


def _progress_times(stderr: str) -> list[float]:
    return [float(m.group(1)) for m in re.finditer(r"^\[\s*([0-9.]+)/", stderr, re.MULTILINE)]


@pytest.mark.serial  # a progress line at least every 2 s
@pytest.mark.timeout(120)
def test_a_server_paused_mid_run_is_a_recorded_stall_and_progress_keeps_coming(tmp_path: Path) -> None:
    with own_server(models=["Sleep"]) as server:
        code, stderr, _, run_dir = _run_with_pause(tmp_path, server, duration_s=9, pause=(2.0, 4.0))
    assert code == ExitCode.OK, stderr[-3000:]
    times = _progress_times(stderr)
    assert len(times) >= 8, stderr  # one line per interval, through the pause
    assert max(b - a for a, b in itertools.pairwise(times)) < 2.0, times
    assert "warning: stall: no response for" in stderr and "stall over after" in stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    (stall,) = summary["stalls"]
    # From the last answer before the pause to the first after it: the 4 s pause, plus up to about 1 s for the
    # resumed server's first answer (5.008 s seen once in a full run).
    assert 3.5 <= stall["duration_s"] <= 5.5, stall
    assert 1.0 <= stall["start_s"] <= 4.0, stall
    assert "unfinished" not in summary
    assert summary["traffic"]["sleep"]["errors"] == 0
    assert "warning: stalls: 1 (no response with requests in flight" in (run_dir / "report.txt").read_text()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("protocol", ["http", "grpc"])  # gRPC: the sync user's calls wait in threads of their own
def test_a_server_that_never_answers_again_ends_the_run_on_time_with_unfinished_requests(
    tmp_path: Path, protocol: str
) -> None:
    with own_server(models=["Sleep"]) as server:
        code, stderr, elapsed_s, run_dir = _run_with_pause(
            tmp_path, server, duration_s=6, pause=(2.0, None), protocol=protocol
        )
    assert code == ExitCode.OK, stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    # the rest of the 6 s + 1 s grace + finishing (at most 2 s for the server's counts, the report, the exit):
    # far below the 60 s inference timeout the requests would otherwise be waited for
    assert elapsed_s < 6 + 1 + 8, (elapsed_s, stderr[-2000:])
    assert 5.9 <= summary["duration_s"] <= 6.0
    assert summary["unfinished"]["sleep"]["count"] == 2  # one request per user was out when the server stopped
    assert summary["unfinished"]["sleep"]["max_age_ms"] >= 3000
    entry = summary["traffic"]["sleep"]
    assert entry["errors_by_kind"] == {"unfinished": 2}
    (stall,) = summary["stalls"]
    assert stall.get("ongoing") is True or stall["duration_s"] >= 3.0
    assert "2 requests still in flight after the 1 s grace: recorded as unfinished" in stderr


def test_reports_name_stalls_unfinished_requests_and_a_saturated_generator(tmp_path: Path) -> None:
    from loadtest.report._view import health_notes

    summary = {
        "generator": {"saturated": True, "reason": "the load generator is saturated (its CPU use is 97% of one core)"},
        "stalls": [{"start_s": 3.0, "duration_s": 4.25}, {"start_s": 9.5, "duration_s": 2.0, "ongoing": True}],
        "unfinished": {"sleep": {"count": 2, "max_age_ms": 3100}},
    }
    assert health_notes(summary) == [
        "generator: the load generator is saturated (its CPU use is 97% of one core)",
        "stalls: 2 (no response with requests in flight; longest 4.2 s; at 3.0 s, 9.5 s)",
        "unfinished after the grace: sleep 2 (oldest 3100 ms)",
    ]
    assert health_notes({"generator": {"saturated": False}, "stalls": []}) == []
