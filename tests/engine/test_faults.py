"""Faults, one test each, against real servers: `tritonload run` ends with the documented exit code, a
clear message and no traceback, leaves a readable run directory, and counts every request it sent
exactly once (recorded + errors == sent), checked against the server's own statistics or, where the
server is gone, against a forwarder that counted the requests on their way.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tritonclient.http as httpclient

from loadtest.embedded import EmbeddedTriton, free_port
from loadtest.exit_codes import ExitCode
from loadtest.recording.hlog import read_totals
from loadtest.recording.rundir import RESERVE_FILE, load_run
from tests.cli import tritonload
from tests.client.tls import Certificates, TlsForwarder, make_certificates
from tests.engine.proxy import CountingForwarder
from tests.servers import own_server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-faults-7c1d"
WRONG_TOKEN = "tok-faults-wrong-0000"
ZEROS = "{inputs: {INPUT: {dtype: float32, shape: [4], generator: zeros}}}"
LINEAR_INPUT = "{inputs: {INPUT_1: {dtype: float32, shape: [2], generator: normal}}}"


def scenario(tmp_path: Path, name: str, target: str, traffic: str, body: str, payload: str = ZEROS) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
version: 1
name: {name}
targets:
  t: {target}
payloads:
  p: {payload}
traffic:
  - {traffic}
warmup_s: 0
{body}
""")
    return path


def summary_of(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


def stats_of(port: int, model: str, headers: dict[str, str] | None = None) -> dict[str, int]:
    """What the server counted for ``model``: requests answered (``success``: Triton counts a Python
    model's error response there too), failures, inferences."""
    client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        stats = client.get_inference_statistics(model, headers=headers)["model_stats"][0]
    finally:
        client.close()
    return {
        "success": int(stats["inference_stats"]["success"]["count"]),
        "fail": int(stats["inference_stats"]["fail"]["count"]),
        "inferences": int(stats["inference_count"]),
    }


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``condition`` until it holds or ``timeout_s`` passes (the caller asserts what it needs)."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


def assert_no_traffic_recorded(run_dir: Path, error_part: str) -> None:
    """A run that failed before any user started: the run directory says why and holds no request."""
    summary = summary_of(run_dir)
    assert summary["status"] == "failed" and summary["complete"] is False
    assert error_part in summary["error"]
    assert summary["overall"]["requests"] == 0 and summary["overall"]["errors"] == 0
    assert (run_dir / "intervals.jsonl").read_text() == ""
    assert read_totals(run_dir / "latency.hlog", summary["highest_trackable_us"]) == {}
    assert not (run_dir / RESERVE_FILE).exists()


def assert_intervals_add_up(run_dir: Path, traffic: str) -> None:
    """The interval files hold exactly the requests the summary counts (the final interval included)."""
    run = load_run(run_dir)
    entry = run.summary["traffic"][traffic]
    assert sum(i["traffic"].get(traffic, {}).get("ok", 0) for i in run.intervals) == entry["ok"]
    errors = sum(sum(i["traffic"].get(traffic, {}).get("errors", {}).values()) for i in run.intervals)
    assert errors == entry["errors"]
    latency = run.histograms().get((traffic, "latency"))
    assert (latency.get_total_count() if latency is not None else 0) == entry["ok"]


# -- nothing listens: say so every second, give up within init_s ---------------------------------------------
@pytest.mark.timeout(60)
def test_a_refused_port_is_said_every_second_and_fails_within_init_s(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    path = scenario(
        tmp_path,
        "refused",
        f'{{url: "{url}", model: Linear, timeouts: {{init_s: 3}}}}',
        "{name: down, pattern: sync, target: t, payload: p}",
        "load: {kind: closed, users: 1}\nduration_s: 5",
        payload=LINEAR_INPUT,
    )
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "loadtest", "run", str(path), "--out", str(run_dir), "--format", "text"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) as process:
        assert process.stderr is not None
        lines = [(time.monotonic(), line.rstrip("\n")) for line in process.stderr]
        process.communicate(timeout=30)
    stderr = "\n".join(line for _, line in lines)
    assert process.returncode == ExitCode.RUNTIME_ERROR, stderr
    assert "Traceback" not in stderr

    waiting = [
        (t, re.fullmatch(rf"waiting for {re.escape(url)} \(connection refused\), (\d+) s left", line))
        for t, line in lines
    ]
    lefts = [int(match.group(1)) for _, match in waiting if match]
    assert len(lefts) >= 2 and lefts[0] <= 3 and lefts == sorted(set(lefts), reverse=True), stderr
    first_wait_s = next(t for t, match in waiting if match)
    error_at_s, error = next((t, line) for t, line in lines if line.startswith("error: "))
    assert error.startswith(f"error: traffic 'down': {url} was not ready within 3 s (connection refused); last error:")
    # The first line comes a quarter second into the wait, the error at init_s (3 s); a second of slack
    # for a busy machine still tells a wait bounded by init_s from one of the 60 s default.
    assert error_at_s - first_wait_s <= 3.0 + 1.0
    assert_no_traffic_recorded(run_dir, f"{url} was not ready within 3 s (connection refused)")


# -- the server dies mid-run ---------------------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_a_killed_server_ends_the_run_with_every_request_counted(tmp_path: Path) -> None:
    with own_server(models=["Sleep"], work_dir=tmp_path / "server") as server:
        forwarder = CountingForwarder(server.http_port, "Sleep").start()
        try:
            path = scenario(
                tmp_path,
                "killed",
                f'{{url: "http://127.0.0.1:{forwarder.port}", model: Sleep, timeouts: {{inference_s: 5}}}}',
                "{name: sleep, pattern: sync, target: t, payload: p, parameters: {latency_ms: 20}}",
                "load: {kind: closed, users: 2}\nduration_s: 60",
            )
            run_dir = tmp_path / "run"
            command = [
                sys.executable,
                "-m",
                "loadtest",
                "run",
                str(path),
                "--out",
                str(run_dir),
                "-q",
                "--format",
                "text",
            ]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            try:
                wait_until(
                    lambda: (
                        (run_dir / "intervals.jsonl").is_file() and (run_dir / "intervals.jsonl").stat().st_size > 0
                    ),
                    60,
                )
                assert server.pid is not None
                os.kill(server.pid, signal.SIGKILL)  # the server dies; the harness must notice
                _, stderr = process.communicate(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            sent = forwarder.requests
        finally:
            forwarder.stop()
    assert process.returncode == ExitCode.RUNTIME_ERROR, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "error: the server has been unreachable for 5 s" in stderr
    summary = summary_of(run_dir)
    entry = summary["traffic"]["sleep"]
    assert summary["status"] == "failed" and summary["complete"] is False
    assert summary["duration_s"] < 30  # ended by the dead server, not by its 60 s
    assert entry["ok"] > 0 and set(entry["errors_by_kind"]) == {"connection"}
    # Every request that left the client is recorded once: as a success or as an error (one more: the probe).
    assert entry["ok"] + entry["errors"] == sent - 1
    assert_intervals_add_up(run_dir, "sleep")


# -- the model is slower than the inference timeout -------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_model_slower_than_the_inference_timeout_counts_every_request_as_a_timeout(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    path = scenario(
        tmp_path,
        "slow",
        f'{{url: "{triton_server.http_url}", model: Sleep, timeouts: {{inference_s: 0.5}}}}',
        '{name: slow, pattern: sync, target: t, payload: p, parameters: {latency_ms: 1500}, slos: ["error_rate < 1%"]}',
        "load: {kind: closed, users: 2}\nduration_s: 3",
    )
    before = stats_of(triton_server.http_port, "Sleep")
    result = tritonload("run", str(path), "--out", str(tmp_path / "run"), "-q", "--format", "text")
    assert result.returncode == ExitCode.SLO_BREACHED, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    entry = summary_of(tmp_path / "run")["traffic"]["slow"]
    assert entry["ok"] == 0 and entry["errors"] > 0
    assert entry["errors_by_kind"] == {"timeout": entry["errors"]}
    # The server still answers each abandoned request when its 1.5 s are up; then it has counted every one
    # (one more: the probe, which timed out too and was let go).
    expected = entry["errors"] + 1
    wait_until(lambda: stats_of(triton_server.http_port, "Sleep")["success"] - before["success"] >= expected, 10)
    assert stats_of(triton_server.http_port, "Sleep")["success"] - before["success"] == expected
    assert_intervals_add_up(tmp_path / "run", "slow")
    assert "SLO FAIL: error_rate < 1% (measured 100.0" in result.stdout


# -- the Fail model at 10 % ---------------------------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_the_fail_model_at_10_percent_fails_exactly_every_tenth_request_counted_quietly(tmp_path: Path) -> None:
    # A server of its own: the model's failure accumulator starts at zero, so the count is exact.
    with own_server(
        models=["Fail"], model_parameters={"Fail": {"failure_rate": "0.1"}}, work_dir=tmp_path / "server"
    ) as server:
        path = scenario(
            tmp_path,
            "fail10",
            f'{{url: "{server.http_url}", model: Fail}}',
            '{name: fail, pattern: futures, in_flight: 2, target: t, payload: p, slos: ["error_rate < 15%"]}',
            "load: {kind: closed, users: 2}\nduration_s: 3",
        )
        result = tritonload("run", str(path), "--out", str(tmp_path / "run"), "-q", "--format", "text")
        answered = stats_of(server.http_port, "Fail")["success"]  # Triton counts error responses here too
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "injected failure" not in result.stderr + result.stdout
    entry = summary_of(tmp_path / "run")["traffic"]["fail"]
    assert entry["ok"] + entry["errors"] == answered - 1  # one more: the probe
    assert entry["errors_by_kind"] == {"server": entry["errors"]}
    assert entry["errors"] == answered // 10  # the probe was the first request: every 10th one failed
    assert entry["errors"] >= 5
    assert_intervals_add_up(tmp_path / "run", "fail")


# -- TLS to a server whose certificate the client does not trust -------------------------------------------------
@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.mark.timeout(60)
def test_tls_to_an_untrusted_certificate_fails_at_once_with_a_clear_error(
    triton_server: EmbeddedTriton, certs: Certificates, tmp_path: Path
) -> None:
    forwarder = TlsForwarder(triton_server.http_port, certs).start()
    url = f"https://127.0.0.1:{forwarder.port}"
    try:
        path = scenario(
            tmp_path,
            "tls",
            f'{{url: "{url}", model: Linear}}',  # no tls.ca_file: the test CA is not trusted
            "{name: linear, pattern: sync, target: t, payload: p}",
            "load: {kind: closed, users: 1}\nduration_s: 5",
            payload=LINEAR_INPUT,
        )
        before = stats_of(triton_server.http_port, "Linear")
        result = tritonload("run", str(path), "--out", str(tmp_path / "run"), "--format", "text")
        after = stats_of(triton_server.http_port, "Linear")
    finally:
        forwarder.stop()
    assert result.returncode == ExitCode.RUNTIME_ERROR, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "waiting for" not in result.stderr  # no wait cures an untrusted certificate
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith(f"error: traffic 'linear': Could not reach {url} during the server liveness check:")
    assert "certificate verify failed" in error.lower()
    assert_no_traffic_recorded(tmp_path / "run", "certificate verify failed")
    assert after == before  # not one request reached the server


# -- a wrong access token ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    """A server that needs TOKEN for health (gRPC), metadata, model config and inference (both protocols)."""
    server = EmbeddedTriton(
        models=["Linear"],
        extra_args=[
            f"--http-restricted-api=metadata,model-config,inference:triton-access-token={TOKEN}",
            f"--grpc-restricted-protocol=health,metadata,model-config,inference:triton-access-token={TOKEN}",
        ],
        work_dir=tmp_path_factory.mktemp("secured"),
    )
    with server:
        yield server


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_wrong_access_token_is_refused_at_once_with_exit_1(
    secured: EmbeddedTriton, tmp_path: Path, protocol: str
) -> None:
    url = secured.http_url if protocol == "http" else secured.grpc_url
    path = scenario(
        tmp_path,
        "token",
        f'{{url: "{url}", model: Linear, access_token_env: TRITONLOAD_FAULTS_TOKEN}}',
        "{name: linear, pattern: sync, target: t, payload: p}",
        "load: {kind: closed, users: 1}\nduration_s: 5",
        payload=LINEAR_INPUT,
    )
    before = stats_of(secured.http_port, "Linear")
    env = {**os.environ, "TRITONLOAD_FAULTS_TOKEN": WRONG_TOKEN}
    result = tritonload("run", str(path), "--out", str(tmp_path / "run"), "--format", "text", env=env)
    assert result.returncode == ExitCode.RUNTIME_ERROR, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "waiting for" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith(f"error: traffic 'linear': The server at {url} refused ")
    assert error.endswith("Pass a valid access_token.")
    assert_no_traffic_recorded(tmp_path / "run", f"The server at {url} refused")
    assert stats_of(secured.http_port, "Linear") == before
    for file in (tmp_path / "run").iterdir():
        assert WRONG_TOKEN.encode() not in file.read_bytes(), file.name
    assert WRONG_TOKEN not in result.stdout + result.stderr


# -- the run directory's disk fills up ----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 KiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI and the dev machines run as root)")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def fill(directory: Path) -> None:
    """Write a file in ``directory`` until its file system is full."""
    with (directory / "filler").open("wb", buffering=0) as stream:
        try:
            while True:
                stream.write(b"\xff" * 4096)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC


@pytest.mark.timeout(120)
def test_a_full_disk_stops_the_run_with_a_clear_error_and_what_was_written_stays_readable(
    triton_server: EmbeddedTriton, small_disk: Path, tmp_path: Path
) -> None:
    path = scenario(
        tmp_path,
        "full",
        f'{{url: "{triton_server.http_url}", model: Linear}}',
        "{name: linear, pattern: sync, target: t, payload: p}",
        "load: {kind: closed, users: 2}\nduration_s: 30",
        payload=LINEAR_INPUT,
    )
    run_dir = small_disk / "run"
    before = stats_of(triton_server.http_port, "Linear")
    # The default reports (text, json, html): the HTML one does not fit in what the final summary left.
    command = [sys.executable, "-m", "loadtest", "run", str(path), "--out", str(run_dir), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        intervals = run_dir / "intervals.jsonl"
        wait_until(lambda: intervals.is_file() and intervals.stat().st_size > 0, 60)
        fill(small_disk)  # the disk fills while the run goes
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    after = stats_of(triton_server.http_port, "Linear")
    assert process.returncode == ExitCode.RUNTIME_ERROR, stderr[-3000:]
    assert "Traceback" not in stderr and "Logging error" not in stderr
    assert stderr.count(f"error: cannot write to {run_dir}: No space left on device") == 1, stderr
    # The CLI's reports do not all fit either; it says so instead of failing.
    assert f"error: cannot write reports to {run_dir}: No space left on device" in stderr

    summary = summary_of(run_dir)  # the final one: the writer's reserve made room for it
    entry = summary["traffic"]["linear"]
    assert summary["status"] == "failed" and summary["complete"] is False
    assert summary["error"] == f"cannot write to {run_dir}: No space left on device"
    assert summary["duration_s"] < 30  # stopped by the full disk, not by the duration
    assert entry["ok"] > 0 and entry["errors"] == 0
    assert entry["ok"] == after["success"] - before["success"] - 1  # one more: the probe
    assert summary["server_counts"][f"Linear@{triton_server.http_url}"]["success_delta"] == entry["ok"]

    # What reached the disk is whole: every line parses, the interval log reads, nothing half-written.
    run = load_run(run_dir)
    written_ok = sum(i["traffic"]["linear"]["ok"] for i in run.intervals)
    assert 0 < written_ok <= entry["ok"]
    assert run.histograms()[("linear", "latency")].get_total_count() == written_ok
    assert not (run_dir / RESERVE_FILE).exists() and not list(run_dir.glob("*.tmp"))
    report = tritonload("report", str(run_dir), "--out", str(tmp_path / "reports"), "-f", "text")
    assert report.returncode == ExitCode.OK, report.stderr
    assert "No space left on device" in (tmp_path / "reports" / "report.txt").read_text()


@pytest.mark.timeout(120)
def test_a_disk_already_full_fails_the_run_at_its_start_with_one_clear_error(
    triton_server: EmbeddedTriton, small_disk: Path, tmp_path: Path
) -> None:
    path = scenario(
        tmp_path,
        "full-at-start",
        f'{{url: "{triton_server.http_url}", model: Linear}}',
        "{name: linear, pattern: sync, target: t, payload: p}",
        "load: {kind: closed, users: 2}\nduration_s: 30",
        payload=LINEAR_INPUT,
    )
    run_dir = small_disk / "run"
    fill(small_disk)
    before = stats_of(triton_server.http_port, "Linear")
    result = tritonload("run", str(path), "--out", str(run_dir), "-q", "--format", "text")
    after = stats_of(triton_server.http_port, "Linear")
    assert result.returncode == ExitCode.RUNTIME_ERROR, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    assert result.stderr.count(f"error: cannot write to {run_dir}: No space left on device") == 1, result.stderr
    assert f"error: cannot write reports to {run_dir}: " in result.stderr
    assert after["success"] - before["success"] == 1  # the probe only: no user started
    assert {p.name for p in run_dir.iterdir()} <= {"run.log"}  # nothing half-written
