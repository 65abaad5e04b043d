"""`tritonload run` end to end against a real Triton: examples, accuracy, failures, interruption."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
import yaml
from click.testing import CliRunner

from loadtest.cli import main
from loadtest.embedded import EmbeddedTriton
from loadtest.engine.server_poll import success_count
from loadtest.exit_codes import ExitCode
from loadtest.recording.hdrstats import summary_stats
from loadtest.recording.rundir import load_run
from tests.cli import tritonload

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))


def sleep_scenario(
    tmp_path: Path, server: EmbeddedTriton, body: str, name: str = "sleep", protocol: str = "http"
) -> Path:
    """A scenario aimed at the session server's Sleep model at a fixed 20 ms."""
    url = server.grpc_url if protocol == "grpc" else server.http_url
    text = f"""
version: 1
name: {name}
targets:
  sleep: {{url: "{url}", model: Sleep, timeouts: {{inference_s: 5}}}}
payloads:
  one: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - {{name: sleep, pattern: sync, target: sleep, payload: one, parameters: {{latency_ms: 20}}}}
{body}
"""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def sleep_successes(server: EmbeddedTriton) -> int:
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
    try:
        return success_count(client.get_inference_statistics("Sleep"))
    finally:
        client.close()


@pytest.fixture
def cpus_awake() -> Iterator[bool]:
    """Hold the kernel's PM QoS CPU latency at 0 µs while a latency-accuracy test runs (when allowed).

    On this project's 2-core VM every wake-up from an idle vCPU costs ~0.1-0.3 ms, and a 20 ms
    request crosses several processes that each went idle meanwhile: that adds ~0.3 ms to the p50 a
    raw tritonclient loop and tritonload both measure (21.3 vs 21.0 ms, measured). Latency benchmarks
    on VMs commonly hold this; the setting lasts only while the file stays open. Without permission
    the test runs anyway (True/False says which).
    """
    try:
        handle = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
    except OSError:
        yield False
        return
    try:
        os.write(handle, struct.pack("i", 0))
        yield True
    finally:
        os.close(handle)


def summary_of(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


def on_the_session_server(example: Path, server: EmbeddedTriton, tmp_path: Path) -> Path:
    """A copy of ``example`` whose ``embedded: true`` targets point at ``server`` (it serves every demo model).

    The examples' own ``embedded`` settings (which models, their config parameters) are dropped: the traffic,
    payloads and load are what is under test; starting a server for a run is covered by the quickstart
    example, tests/engine/test_api.py and the documented locustfile.
    """
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    data.pop("embedded", None)
    for target in data["targets"].values():
        if target.pop("embedded", False):
            protocol = target.pop("protocol")
            target["url"] = server.http_url if protocol == "http" else server.grpc_url
    path = tmp_path / example.name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_scenario_runs(example: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if example.stem != "quickstart":  # the quickstart starts its own server, as documented
        example = on_the_session_server(example, request.getfixturevalue("triton_server"), tmp_path)
    run_dir = tmp_path / "run"
    # Short: that each example runs and leaves a complete run directory is the point, not its numbers.
    result = tritonload("run", str(example), "--set", "duration_s=1.5", "--set", "warmup_s=0.5", "--out", str(run_dir))
    assert result.returncode in (ExitCode.OK, ExitCode.SLO_BREACHED), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = summary_of(run_dir)
    assert summary["status"] == "completed" and summary["complete"] is True
    for name, entry in summary["traffic"].items():
        assert entry["ok"] > 0, name
        assert entry["errors"] == 0, (name, entry["errors_by_kind"])
    for file in ("scenario.yaml", "latency.hlog", "intervals.jsonl", "run.log", "server-stats.jsonl"):
        assert (run_dir / file).stat().st_size > 0, file
    assert f"run directory: {run_dir}" in result.stdout


def raw_sleep_p50_us(server: EmbeddedTriton, users: int, seconds: float) -> float:
    """p50 latency of a plain tritonclient loop (one thread and client per user) on the 20 ms Sleep model.

    The reference the harness is held to: measured in the same test, on the same server and machine,
    so the VM's wake-up costs and whatever else the box is doing weigh on both alike.
    """
    data = np.zeros((1, 4), dtype=np.float32)
    deadline = time.perf_counter() + seconds
    latencies_s: list[float] = []
    lock = threading.Lock()

    def user() -> None:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
        tensor = httpclient.InferInput("INPUT", [1, 4], "FP32")
        tensor.set_data_from_numpy(data)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                client.infer("Sleep", [tensor], parameters={"latency_ms": 20})
                elapsed = time.perf_counter() - started
                with lock:
                    latencies_s.append(elapsed)
        finally:
            client.close()

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return float(np.percentile(latencies_s, 50)) * 1e6


@pytest.mark.timeout(150)
def test_closed_loop_measures_the_sleep_model_accurately(
    triton_server: EmbeddedTriton, tmp_path: Path, cpus_awake: bool
) -> None:
    # The raw reference runs before and after the harness; the harness's p50 is held to the slower of
    # the two (drift on a shared box moves both) plus 3 %: 0.6 ms on 20 ms. On a quiet 2-core VM the
    # harness measured 21.0-21.3 ms against the raw loop's 21.0 ms; a harness that waits on its own
    # scheduling or timestamps outside the request (a gevent hop, a lock, a sleep) adds more than that.
    raw_before_us = raw_sleep_p50_us(triton_server, users=4, seconds=2)
    scenario = sleep_scenario(tmp_path, triton_server, "load: {kind: closed, users: 4}\nduration_s: 6\n")
    before = sleep_successes(triton_server)
    result = tritonload("run", str(scenario), "--out", str(tmp_path / "run"), "-q")
    after = sleep_successes(triton_server)
    raw_after_us = raw_sleep_p50_us(triton_server, users=4, seconds=2)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = summary_of(tmp_path / "run")
    latency = summary["traffic"]["sleep"]["metrics"]["latency"]
    reference_us = max(raw_before_us, raw_after_us)
    # Never below the model's own 20 ms: a latency that starts late or ends early is wrong too.
    assert 20_000 <= latency["p50"] <= reference_us * 1.03, (latency, raw_before_us, raw_after_us)
    # Every successful inference the server counted is in the histogram (one more: the probe request).
    assert latency["count"] == after - before - 1
    assert summary["server_counts"]["Sleep@" + triton_server.http_url]["success_delta"] == latency["count"]
    # The summary's percentiles are exactly those recomputed from the interval log.
    run = load_run(tmp_path / "run")
    recomputed = summary_stats(run.histograms()[("sleep", "latency")], summary["percentiles"])
    assert {key: latency[key] for key in recomputed} == recomputed


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("pattern", "protocol"), [("sync", "grpc"), ("futures", "http"), ("asyncio", "grpc")])
def test_a_ramp_down_lets_stopped_users_finish_and_record_their_requests(
    triton_server: EmbeddedTriton, tmp_path: Path, pattern: str, protocol: str
) -> None:
    url = triton_server.grpc_url if protocol == "grpc" else triton_server.http_url
    in_flight = "" if pattern == "sync" else "in_flight: 2, "
    scenario = tmp_path / "ramp.yaml"
    scenario.write_text(f"""
version: 1
name: ramp
targets:
  sleep: {{url: "{url}", model: Sleep, timeouts: {{inference_s: 5}}}}
payloads:
  one: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - {{name: sleep, pattern: {pattern}, {in_flight}target: sleep, payload: one, parameters: {{latency_ms: 300}}}}
load:
  kind: stages
  spawn_rate: 100
  stages: [{{duration_s: 2, users: 4}}, {{duration_s: 2, users: 1}}]
warmup_s: 0
""")
    before = sleep_successes(triton_server)
    result = tritonload("run", str(scenario), "--out", str(tmp_path / "run"), "-q")
    after = sleep_successes(triton_server)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    entry = summary_of(tmp_path / "run")["traffic"]["sleep"]
    # The three users stopped at 2 s were mid-request (300 ms each): none is cut, each is recorded.
    assert entry["errors"] == 0, entry["errors_by_kind"]
    assert entry["ok"] == after - before - 1  # minus the preflight probe


def fail_counts(server: EmbeddedTriton) -> tuple[int, int]:
    """(successes, failures) the server counted for the Fail model."""
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
    try:
        stats = client.get_inference_statistics("Fail")["model_stats"][0]["inference_stats"]
        return int(stats["success"]["count"]), int(stats["fail"]["count"])
    finally:
        client.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("pattern", "protocol"), [("sync", "grpc"), ("sync", "http"), ("asyncio", "grpc")])
def test_server_errors_are_counted_by_kind_quietly(
    triton_server: EmbeddedTriton, tmp_path: Path, pattern: str, protocol: str
) -> None:
    url = triton_server.grpc_url if protocol == "grpc" else triton_server.http_url
    scenario = tmp_path / "fail.yaml"
    scenario.write_text(f"""
version: 1
name: fail
targets:
  fail: {{url: "{url}", model: Fail}}
payloads:
  one: {{inputs: {{INPUT: {{dtype: float32, shape: [4], generator: zeros}}}}}}
traffic:
  - {{name: fail, pattern: {pattern}, target: fail, payload: one, parameters: {{failure_rate: '0.25'}},
      slos: ["error_rate < 30%"]}}
load: {{kind: closed, users: 2}}
duration_s: 2
warmup_s: 0
""")
    ok_before, failed_before = fail_counts(triton_server)
    result = tritonload("run", str(scenario), "--out", str(tmp_path / "run"), "-q")
    ok_after, failed_after = fail_counts(triton_server)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    entry = summary_of(tmp_path / "run")["traffic"]["fail"]
    assert entry["errors_by_kind"] == {"server": entry["errors"]}
    # Every request the server answered is counted once, as ok or as an error (one more: the probe).
    # (Triton counts a Python model's error response as a successful execution, not under "fail".)
    assert entry["ok"] + entry["errors"] == ok_after - ok_before + failed_after - failed_before - 1
    assert entry["errors"] == pytest.approx((entry["ok"] + entry["errors"]) / 4, abs=2)


@pytest.mark.timeout(120)
def test_open_loop_keeps_its_rate_and_records_response_time(
    triton_server: EmbeddedTriton, tmp_path: Path, cpus_awake: bool
) -> None:
    body = "load: {kind: open, rate: 100, arrival: constant, max_in_flight: 16}\nduration_s: 10\n"
    scenario = sleep_scenario(tmp_path, triton_server, body, name="open")
    result = tritonload("run", str(scenario), "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    entry = summary_of(tmp_path / "run")["traffic"]["sleep"]
    assert abs(entry["throughput_rps"] - 100) <= 1.0, entry["throughput_rps"]
    assert abs(entry["ok"] - 1000) <= 10
    metrics = entry["metrics"]
    assert metrics["response_time"]["count"] == metrics["latency"]["count"] == entry["ok"]
    assert metrics["response_time"]["p50"] >= metrics["latency"]["p50"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_ctrl_c_keeps_what_was_measured_and_exits_130(
    triton_server: EmbeddedTriton, tmp_path: Path, protocol: str
) -> None:
    slos = "slos: ['p99 latency < 10s', 'throughput >= 1000000/s']\n"
    body = "load: {kind: closed, users: 2}\nduration_s: 60\n" + slos
    scenario = sleep_scenario(tmp_path, triton_server, body, protocol=protocol)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "loadtest", "run", str(scenario), "--out", str(run_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    # Interrupt once two measured intervals are on disk (a condition, not a guessed delay).
    intervals = run_dir / "intervals.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (intervals.exists() and len(intervals.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, stderr[-3000:]
    summary = summary_of(run_dir)
    assert summary["status"] == "interrupted" and summary["complete"] is False
    assert summary["traffic"]["sleep"]["ok"] > 50
    assert summary["traffic"]["sleep"]["errors"] == 0
    assert "Traceback" not in stderr
    # SLOs speak of a whole run: neither passed nor failed (one of them would fail on any run).
    verdicts = summary["slos"]
    assert [v["passed"] for v in verdicts] == [None, None], verdicts
    assert all(v["reason"] == "not judged: the run is interrupted" for v in verdicts), verdicts
    console = stdout + stderr
    assert "SLO FAIL" not in console and "SLO pass" not in console, console[-3000:]
    assert console.count("SLO not judged") == 2, console[-3000:]
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith("run interrupted:") and "SLOs not judged" in last_line, stderr[-3000:]


@pytest.mark.timeout(60)
def test_a_payload_that_does_not_fit_the_model_fails_fast_with_exit_2(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(f"""
version: 1
targets:
  linear: {{url: "{triton_server.http_url}", model: Linear}}
payloads:
  bad: {{inputs: {{INPUT_9: {{dtype: float32, shape: [2], generator: zeros}}}}}}
traffic:
  - {{name: linear, pattern: sync, target: linear, payload: bad}}
load: {{kind: closed, users: 1}}
duration_s: 30
""")
    started = time.monotonic()
    result = tritonload("run", str(scenario), "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == ExitCode.USAGE
    assert time.monotonic() - started < 20
    assert "INPUT_9" in result.stderr and "Traceback" not in result.stderr
    assert summary_of(tmp_path / "run")["status"] == "failed"


def test_an_invalid_scenario_exits_2_without_running(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("version: 1\ntargets: {}\npayloads: {}\ntraffic: []\nload: {kind: closed, userz: 2}\n")
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(tmp_path / "run")])
    assert result.exit_code == ExitCode.USAGE
    assert "userz" in result.output
    assert not (tmp_path / "run").exists()


def test_an_unreachable_server_fails_with_a_clear_error(tmp_path: Path) -> None:
    scenario = tmp_path / "down.yaml"
    scenario.write_text("""
version: 1
targets:
  down: {url: "http://127.0.0.1:9", model: Linear, timeouts: {init_s: 2}}
payloads:
  p: {inputs: {INPUT_1: {dtype: float32, shape: [2], generator: zeros}}}
traffic:
  - {name: down, pattern: sync, target: down, payload: p}
load: {kind: closed, users: 1}
duration_s: 5
""")
    result = tritonload("run", str(scenario), "--out", str(tmp_path / "run"), "-q", timeout_s=60)
    assert result.returncode == ExitCode.RUNTIME_ERROR
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr
    assert summary_of(tmp_path / "run")["status"] == "failed"


@pytest.mark.timeout(120)
def test_the_documented_locustfile_runs_a_scenario_under_plain_locust(tmp_path: Path) -> None:
    locust = Path(sys.executable).parent / "locust"
    env = {
        **os.environ,
        "LOCUST_SKIP_MONKEY_PATCH": "1",
        "TRITONLOAD_SCENARIO": str(ROOT / "scenarios" / "quickstart.yaml"),
    }
    result = subprocess.run(
        [
            str(locust),
            "-f",
            str(ROOT / "docs" / "examples" / "locustfile.py"),
            "--headless",
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "5s",
            "--only-summary",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=env,
    )
    # The quickstart's latency SLOs are for a quiet machine: with the parallel phase's four workers on two
    # cores one breached once (exit 3). This test is about the locustfile running the scenario.
    assert result.returncode in (ExitCode.OK, ExitCode.SLO_BREACHED), result.stderr[-3000:]
    (run_dir,) = (tmp_path / "reports").iterdir()
    summary = summary_of(run_dir)
    assert summary["complete"] is True
    breached = any(slo["passed"] is False for slo in summary["slos"])
    assert breached is (result.returncode == ExitCode.SLO_BREACHED), summary["slos"]
    assert {name for name, entry in summary["traffic"].items() if entry["ok"] > 0} == {
        "linear-sync",
        "textgen-futures",
        "linear-asyncio",
        "bot-stream",
        "bot-async-streams",
    }
    assert "bot-stream" in result.stderr  # Locust's own statistics table saw our requests


@pytest.mark.timeout(120)
def test_run_with_web_serves_locust_ui_with_the_scenario_traffic(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    import urllib.request

    from loadtest.embedded import free_port

    port = free_port()
    scenario = sleep_scenario(tmp_path, triton_server, "load: {kind: closed, users: 2}\nduration_s: 8\n", name="web")
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "run",
        str(scenario),
        "--out",
        str(tmp_path / "run"),
        "-q",
        "--web",
        "--web-port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        stats: dict[str, Any] = {}
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=2) as response:
                    stats = json.loads(response.read())
                if any(row.get("name") == "sleep" and row.get("num_requests", 0) > 0 for row in stats["stats"]):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            page = response.read().decode()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    assert "locust" in page.lower()
    assert any(row.get("name") == "sleep" and row.get("num_requests", 0) > 0 for row in stats["stats"])


@pytest.mark.timeout(120)
def test_an_access_token_never_reaches_the_run_directory_or_the_output(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    token = "tok-3f9a1c-do-not-leak"
    scenario = tmp_path / "token.yaml"
    scenario.write_text(f"""
version: 1
targets:
  linear: {{url: "{triton_server.grpc_url}", model: Linear, access_token_env: TRITONLOAD_TEST_TOKEN}}
payloads:
  p: {{inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: zeros}}}}}}
traffic:
  - {{name: linear, pattern: sync, target: linear, payload: p, headers: {{x-api-key: placeholder}}}}
load: {{kind: closed, users: 1}}
duration_s: 2
""")
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "run",
        str(scenario),
        "--out",
        str(run_dir),
        "--set",
        f"traffic[0].headers.x-api-key={token}",
        "--format",
        "text,json,html,csv,markdown,junit",
    ]
    env = {**os.environ, "TRITONLOAD_TEST_TOKEN": token}
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=90, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert summary_of(run_dir)["traffic"]["linear"]["ok"] > 0
    assert token not in result.stdout + result.stderr
    files = [path for path in run_dir.rglob("*") if path.is_file()]
    assert len(files) >= 10
    for path in files:
        assert token.encode() not in path.read_bytes(), path.name
    assert "TRITONLOAD_TEST_TOKEN" in (run_dir / "scenario.yaml").read_text()
