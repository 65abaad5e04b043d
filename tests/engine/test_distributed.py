"""Distributed runs end to end: Locust's real master and worker runners, real processes, a real Triton."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from loadtest.embedded import EmbeddedTriton
from loadtest.engine._processes import free_port
from loadtest.exit_codes import ExitCode
from loadtest.recording import hlog
from loadtest.recording.hdrstats import summary_stats
from loadtest.recording.rundir import load_run

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "loadtest"]


def tritonload(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], check=False, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )


def summary_of(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def four_patterns(tmp_path: Path, server: EmbeddedTriton, body: str, name: str = "fleet") -> Path:
    """Every pattern (sync, futures, asyncio, decoupled) against the session server."""
    text = f"""
version: 1
name: {name}
targets:
  lin-http: {{url: "{server.http_url}", model: Linear}}
  lin-grpc: {{url: "{server.grpc_url}", model: Linear}}
  bot: {{url: "{server.grpc_url}", model: streaming_bot}}
payloads:
  one: {{inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: normal}}}}}}
  prompts: {{inputs: {{inputs: {{dtype: bytes, shape: [1], generator: prompts, prompts: ["hi there"]}}}}}}
traffic:
  - {{name: sync, pattern: sync, target: lin-http, payload: one}}
  - {{name: futures, pattern: futures, target: lin-http, payload: one, in_flight: 2}}
  - {{name: asyncio, pattern: asyncio, target: lin-grpc, payload: one, in_flight: 2}}
  - {{name: stream, pattern: decoupled, target: bot, payload: prompts, parameters: {{tokens: 4, token_delay_ms: 1}}}}
{body}
"""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def check_merged(run_dir: Path) -> dict[str, Any]:
    """Merged = sum of the workers = the server's successes; summary percentiles = those of latency.hlog."""
    summary = summary_of(run_dir)
    overall_ok = summary["overall"]["ok"]
    assert overall_ok > 0
    assert sum(worker["ok"] for worker in summary["workers"]) == overall_ok
    assert all(worker["ok"] > 0 for worker in summary["workers"]), summary["workers"]
    by_model: Counter[str] = Counter()
    for entry in summary["traffic"].values():
        by_model[f"{entry['model']}@{entry['url']}"] += entry["ok"]
    server = {label: counts["success_delta"] for label, counts in summary["server_counts"].items()}
    # The run's traffic is the only traffic: each model's success delta is its entries' count (http and
    # grpc reach the same model, so the server's counts for either URL hold both).
    for label, delta in server.items():
        model = label.split("@")[0]
        assert delta == sum(n for key, n in by_model.items() if key.startswith(model + "@")), (label, server)
    # workers.hlog: each worker's own intervals, tagged w<index>/<traffic>/<metric>, add up to its count.
    per_worker: Counter[str] = Counter()
    for interval in hlog.read_intervals(run_dir / "workers.hlog", summary["highest_trackable_us"]):
        worker_id, _, _traffic = interval.key[0].partition("/")
        if interval.key[1] == "latency":
            per_worker[worker_id] += interval.histogram.get_total_count()
    assert per_worker == {w["id"]: w["ok"] for w in summary["workers"]}
    run = load_run(run_dir)
    histograms = run.histograms()
    for name, entry in summary["traffic"].items():
        latency = entry["metrics"]["latency"]
        recomputed = summary_stats(histograms[(name, "latency")], summary["percentiles"])
        assert {key: latency[key] for key in recomputed} == recomputed, name
        assert latency["count"] == entry["ok"]
    return summary


@pytest.mark.timeout(150)
def test_quickstart_on_two_processes_merges_exactly(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = tritonload(
        "run", "scenarios/quickstart.yaml", "--processes", "2", "--out", str(run_dir),
        "--set", "duration_s=3", "--set", "warmup_s=0", "--format", "json",
        # Its latency SLOs are for a quiet machine; this test is about the merge, on a shared one.
        "--set", "slos=[]", "--set", "traffic[0].slos=[]", "--set", "traffic[3].slos=[]",
    )  # fmt: skip
    assert result.returncode == ExitCode.OK, result.stderr[-3000:] + result.stdout[-2000:]
    assert "Traceback" not in result.stderr
    summary = check_merged(run_dir)
    assert summary["status"] == "completed"
    assert [w["id"] for w in summary["workers"]] == ["w0", "w1"]
    assert {w["state"] for w in summary["workers"]} == {"done"}
    assert summary["distributed"]["mode"] == "processes"
    for worker in summary["workers"]:
        assert worker["cpu_s"] > 0 and 0 < worker["cpu_util"] < 1.5 and abs(worker["clock_offset_s"]) < 1.0
        assert not alive(worker["pid"])


@pytest.mark.timeout(150)
def test_a_master_and_two_workers_on_loopback_run_every_pattern(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = four_patterns(tmp_path, triton_server, "load: {kind: closed, users: 8}\nduration_s: 3\n")
    port = free_port()
    run_dir = tmp_path / "run"
    master = start(
        "run", str(scenario), "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--out", str(run_dir), "--format", "json",
    )  # fmt: skip
    # A third worker is one too many: the master sends it away before dispatching users.
    workers = [start("worker", "--master", f"127.0.0.1:{port}") for _ in range(3)]
    _out, err = master.communicate(timeout=120)
    worker_outputs = [w.communicate(timeout=30) for w in workers]
    assert master.returncode == ExitCode.OK, err[-3000:]
    assert [w.returncode for w in workers] == [0, 0, 0], [o[1][-2000:] for o in worker_outputs]
    assert "is not needed (2 expected)" in err
    assert sum("without giving this worker a run" in o[1] for o in worker_outputs) == 1
    summary = check_merged(run_dir)
    assert len(summary["workers"]) == 2
    for name in ("sync", "futures", "asyncio", "stream"):
        assert summary["traffic"][name]["ok"] > 0 and summary["traffic"][name]["errors"] == 0, name
    assert summary["traffic"]["stream"]["metrics"]["ttfr"]["count"] == summary["traffic"]["stream"]["ok"]
    assert summary["distributed"]["mode"] == "master"
    assert {w["pid"] for w in summary["workers"]} < {w.pid for w in workers}


@pytest.mark.timeout(60)
def test_a_worker_without_the_access_token_refuses_the_run(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = tmp_path / "token.yaml"
    scenario.write_text(f"""
version: 1
targets: {{lin: {{url: "{triton_server.http_url}", model: Linear, access_token_env: FLEET_TEST_TOKEN}}}}
payloads: {{one: {{inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: zeros}}}}}}}}
traffic: [{{name: lin, pattern: sync, target: lin, payload: one}}]
load: {{kind: closed, users: 1}}
duration_s: 2
""")
    port = free_port()
    run_dir = tmp_path / "run"
    args = ["run", str(scenario), "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    env = {**os.environ, "FLEET_TEST_TOKEN": "s3cret-value"}
    master = subprocess.Popen(
        [*COMMAND, *args, "--out", str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    worker_env = {k: v for k, v in os.environ.items() if k != "FLEET_TEST_TOKEN"}
    worker = subprocess.run(
        [*COMMAND, "worker", "--master", f"127.0.0.1:{port}"],
        check=False,
        capture_output=True,
        text=True,
        env=worker_env,
        timeout=60,
    )
    _out, err = master.communicate(timeout=60)
    assert worker.returncode == ExitCode.RUNTIME_ERROR and "FLEET_TEST_TOKEN is not set" in worker.stderr
    assert master.returncode == ExitCode.RUNTIME_ERROR
    assert "a worker refused the run" in err and "FLEET_TEST_TOKEN is not set" in err
    assert "s3cret-value" not in err + worker.stderr + (run_dir / "run.log").read_text()
    assert summary_of(run_dir)["status"] == "failed"


@pytest.mark.serial  # each process within 2 requests of half the schedule: [800, 792] seen under parallel load
@pytest.mark.timeout(120)
def test_an_open_loop_rate_is_the_total_over_every_process(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    scenario = tmp_path / "open.yaml"
    scenario.write_text(f"""
version: 1
targets: {{lin: {{url: "{triton_server.http_url}", model: Linear}}}}
payloads: {{one: {{inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: zeros}}}}}}}}
traffic: [{{name: lin, pattern: sync, target: lin, payload: one}}]
load: {{kind: open, rate: 400, max_in_flight: 8}}
duration_s: 4
processes: 2
""")
    run_dir = tmp_path / "run"
    result = tritonload("run", str(scenario), "--out", str(run_dir), "--format", "json")  # processes: from the file
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    summary = check_merged(run_dir)
    sent = summary["overall"]["requests"]
    assert sent == pytest.approx(400 * summary["duration_s"], rel=0.01), summary["overall"]
    # Each process sent about half of the one schedule (its users are half the in-flight cap).
    assert [w["requests"] for w in summary["workers"]] == pytest.approx([sent / 2, sent / 2], abs=2)


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("sig", "min_workers", "exit_code", "status", "reason"),
    [
        (signal.SIGKILL, 1, ExitCode.OK, "completed", "its process exited with status -9"),
        (signal.SIGKILL, 2, ExitCode.RUNTIME_ERROR, "failed", "its process exited with status -9"),
        (signal.SIGTERM, 1, ExitCode.OK, "completed", "it left the run after sending its last interval"),
    ],
    ids=["killed", "killed-below-minimum", "terminated"],
)
def test_a_lost_worker_is_reported_and_its_data_kept(
    triton_server: EmbeddedTriton, tmp_path: Path, sig: int, min_workers: int, exit_code: int, status: str, reason: str
) -> None:
    scenario = tmp_path / "closed.yaml"
    scenario.write_text(f"""
version: 1
targets: {{lin: {{url: "{triton_server.http_url}", model: Linear}}}}
payloads: {{one: {{inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: zeros}}}}}}}}
traffic: [{{name: lin, pattern: sync, target: lin, payload: one}}]
load: {{kind: closed, users: 4}}
duration_s: 5
""")
    run_dir = tmp_path / "run"
    master = start(
        "run", str(scenario), "--processes", "2", "--min-workers", str(min_workers), "--out", str(run_dir),
        "--format", "json",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # two measured intervals with both workers in
        summary = summary_of(run_dir) if (run_dir / "summary.json").exists() else {}
        workers = summary.get("workers", [])
        if len(workers) == 2 and all(w["ok"] > 0 for w in workers) and summary.get("duration_s", 0) >= 2:
            break
        time.sleep(0.1)
    else:
        os.killpg(master.pid, signal.SIGKILL)  # its own session: the master and its workers
        _out, err = master.communicate(timeout=30)
        pytest.fail(f"no summary with two measuring workers within 60 s: {summary}\n{err[-3000:]}")
    victim = workers[1]
    os.kill(victim["pid"], sig)
    _out, err = master.communicate(timeout=90)
    assert master.returncode == exit_code, err[-3000:]
    assert f"worker {victim['id']}" in err and "lost" in err
    summary = summary_of(run_dir)
    assert summary["status"] == status
    states = {w["id"]: w for w in summary["workers"]}
    assert states[victim["id"]]["state"] == "lost" and states[victim["id"]]["ok"] >= victim["ok"] > 0
    assert states[victim["id"]]["reason"] == reason
    assert summary["distributed"]["workers_lost"] == 1
    # Both workers' counts until the kill are in the merged results.
    assert sum(w["ok"] for w in summary["workers"]) == summary["overall"]["ok"]
    assert load_run(run_dir).histograms()[("lin", "latency")].get_total_count() == summary["overall"]["ok"]


@pytest.mark.timeout(60)
def test_a_worker_that_never_comes_fails_the_start(tmp_path: Path, triton_server: EmbeddedTriton) -> None:
    scenario = four_patterns(tmp_path, triton_server, "load: {kind: closed, users: 4}\nduration_s: 2\n")
    run_dir = tmp_path / "run"
    result = tritonload(
        "run", str(scenario), "--master", "--expect-workers", "1", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(free_port()), "--workers-timeout-s", "1.5", "--out", str(run_dir),
    )  # fmt: skip
    assert result.returncode == ExitCode.RUNTIME_ERROR, result.stderr[-3000:]
    assert "only 0 of 1 workers were ready after 1.5 s" in result.stderr
    assert "Traceback" not in result.stderr
    summary = summary_of(run_dir)
    assert summary["status"] == "failed" and "only 0 of 1 workers" in summary["error"]


@pytest.mark.timeout(120)
def test_ctrl_c_on_the_master_stops_every_worker_and_keeps_the_run(
    triton_server: EmbeddedTriton, tmp_path: Path
) -> None:
    scenario = four_patterns(tmp_path, triton_server, "load: {kind: closed, users: 4}\nduration_s: 60\n")
    run_dir = tmp_path / "run"
    master = start("run", str(scenario), "--processes", "2", "--out", str(run_dir), "--format", "json")
    deadline = time.monotonic() + 60
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline and summary.get("overall", {}).get("ok", 0) == 0:
        time.sleep(0.2)
        summary = summary_of(run_dir) if (run_dir / "summary.json").exists() else {}
    master.send_signal(signal.SIGINT)
    _out, err = master.communicate(timeout=60)
    assert master.returncode == ExitCode.INTERRUPTED, err[-3000:]
    summary = summary_of(run_dir)
    assert summary["status"] == "interrupted" and summary["overall"]["ok"] > 0
    assert {w["state"] for w in summary["workers"]} == {"done"}
    assert sum(w["ok"] for w in summary["workers"]) == summary["overall"]["ok"]
    assert not any(alive(w["pid"]) for w in summary["workers"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--processes", "0"], "--processes"),
        (["--processes", "two"], "--processes"),
        (["--processes", "2", "--master"], "exclude each other"),
        (["--master", "--expect-workers", "2", "--min-workers", "3"], "--min-workers"),
    ],
)
def test_bad_distributed_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from loadtest.cli import main

    result = CliRunner().invoke(main, ["run", str(ROOT / "scenarios/quickstart.yaml"), *args])
    assert result.exit_code == ExitCode.USAGE and message in result.output


def test_a_bad_processes_value_in_a_scenario_is_a_problem_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = (ROOT / "scenarios/quickstart.yaml").read_text() + "\nprocesses: 0\n"
    path.write_text(text)
    result = tritonload("validate", str(path))
    assert result.returncode == ExitCode.USAGE
    assert "processes: expected a positive whole number or 'auto', got 0" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_worker_without_a_master_address_is_a_usage_error() -> None:
    result = tritonload("worker", "--master", "host:http")
    assert result.returncode == ExitCode.USAGE and "--master" in result.stderr


def _setup_message(scenario: Any, *, index: int, count: int) -> dict[str, Any]:
    """The master's SETUP for ``scenario`` (targets on a port where nothing listens)."""
    from loadtest import __version__

    return {
        "version": __version__,
        "scenario_yaml": scenario.to_yaml(),
        "scenario_hash": scenario.scenario_hash,
        "urls": {name: "http://127.0.0.1:1" for name in scenario.targets},
        "index": index,
        "count": count,
        "max_requests": None,
    }


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("change", "message"),
    [({"version": "0.0.1"}, "tritonload version mismatch"), ({"scenario_hash": "0" * 64}, "scenario hash mismatch")],
    ids=["version", "scenario-hash"],
)
def test_a_worker_refuses_another_version_or_scenario(change: dict[str, str], message: str) -> None:
    """A real worker process against a Locust master in this process that sends a mismatching setup."""
    import gevent
    from locust.env import Environment

    from loadtest.engine import _wire
    from loadtest.scenario import load_scenario

    scenario = load_scenario(str(ROOT / "scenarios/quickstart.yaml"))
    port = free_port()
    runner = Environment(user_classes=[], events=None).create_master_runner("127.0.0.1", port)
    refusals: list[dict[str, Any]] = []
    runner.register_message(_wire.REFUSED, lambda environment, msg: refusals.append(msg.data))
    worker = start("worker", "--master", f"127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while not runner.clients and time.monotonic() < deadline:
            gevent.sleep(0.1)
        gevent.sleep(0.3)
        setup = {**_setup_message(scenario, index=0, count=1), **change}
        runner.send_message(_wire.SETUP, setup, client_id=next(iter(runner.clients)))
        while not refusals and time.monotonic() < deadline:
            gevent.sleep(0.1)
    finally:
        runner.quit()
        context = runner.server.socket.context
        runner.server.close(linger=0)
        context.term()  # Locust never ends its ZeroMQ context; pytest would report it as unclosed
    _out, err = worker.communicate(timeout=30)
    assert len(refusals) == 1 and message in refusals[0]["reason"], refusals
    assert worker.returncode == ExitCode.RUNTIME_ERROR and f"error: refused the run: {message}" in err


@pytest.mark.timeout(120)
def test_locust_web_ui_shows_the_workers_of_a_distributed_run(triton_server: EmbeddedTriton, tmp_path: Path) -> None:
    import urllib.request

    scenario = four_patterns(tmp_path, triton_server, "load: {kind: closed, users: 4}\nduration_s: 60\n")
    web_port = free_port()
    master = start(
        "run", str(scenario), "--processes", "2", "--web", "--web-port", str(web_port), "--out", str(tmp_path / "run")
    )
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and master.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/stats/requests", timeout=2) as response:
                seen = json.loads(response.read())
        except OSError:
            pass  # not serving yet (or any more)
        names = {entry["name"] for entry in seen.get("stats", [])}
        if seen.get("state") == "running" and len(seen.get("workers", [])) == 2 and "sync" in names:
            break  # Locust's own statistics reach the master with the workers' reports, every 3 s
        time.sleep(0.3)
    master.send_signal(signal.SIGINT)  # seen enough: end the run
    _out, err = master.communicate(timeout=60)
    assert master.returncode == ExitCode.INTERRUPTED, err[-3000:]
    assert len(seen["workers"]) == 2 and {w["state"] for w in seen["workers"]} <= {"running", "spawning"}
    assert any(entry["name"] == "sync" for entry in seen["stats"]), (seen["stats"], err[-2000:])


@pytest.mark.timeout(150)
@pytest.mark.parametrize("protocol", ["http", "grpc"])  # gRPC: each user's request thread takes from the budget
@pytest.mark.parametrize(
    "load", ["{kind: closed, users: 3}", "{kind: open, rate: 300, max_in_flight: 3}"], ids=["closed", "open"]
)
def test_max_requests_stays_a_total(triton_server: EmbeddedTriton, tmp_path: Path, load: str, protocol: str) -> None:
    # Three users over two processes: one gets two, the other one; the budget still ends at 301 in total.
    url = triton_server.http_url if protocol == "http" else triton_server.grpc_url
    scenario = tmp_path / "budget.yaml"
    scenario.write_text(f"""
version: 1
targets: {{lin: {{url: "{url}", model: Linear}}}}
payloads: {{one: {{inputs: {{INPUT_1: {{dtype: float32, shape: [2], generator: zeros}}}}}}}}
traffic: [{{name: lin, pattern: sync, target: lin, payload: one}}]
load: {load}
duration_s: 60
max_requests: 301
""")
    run_dir = tmp_path / "run"
    result = tritonload("run", str(scenario), "--processes", "2", "--out", str(run_dir), "--format", "json")
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    summary = check_merged(run_dir)
    assert summary["overall"]["requests"] == 301 and summary["duration_s"] < 30


def test_a_repeated_setup_is_prepared_once_and_answered_ready_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The master offers the scenario again until a worker answers (the first offer may arrive before the
    worker listens for it): a worker prepares once, answers each repeat with READY, and ignores a repeat
    that comes while it is still preparing."""
    from types import SimpleNamespace

    from loadtest.engine import _wire
    from loadtest.engine.worker import WorkerAgent
    from loadtest.scenario import load_scenario

    scenario = load_scenario(str(ROOT / "scenarios/quickstart.yaml"))
    setup = _setup_message(scenario, index=1, count=2)
    agent = WorkerAgent("127.0.0.1", 1, say=lambda line: None)
    sent: list[tuple[str, Any]] = []
    agent.runner = SimpleNamespace(send_message=lambda kind, data=None, **_: sent.append((kind, data)))
    prepared: list[dict[str, Any]] = []
    during: list[int] = []

    def prepare(parsed: Any, data: dict[str, Any]) -> None:
        agent._on_setup(agent.environment, SimpleNamespace(data=data))  # a repeat while preparing: ignored
        during.append(len(sent))
        prepared.append(data)
        agent.config = SimpleNamespace(name=parsed.name)  # type: ignore[assignment]

    monkeypatch.setattr(agent, "_prepare", prepare)
    agent._on_setup(agent.environment, SimpleNamespace(data=setup))
    agent._on_setup(agent.environment, SimpleNamespace(data=setup))
    assert len(prepared) == 1 and during == [0]
    assert [kind for kind, _ in sent] == [_wire.READY, _wire.READY]
    assert all(data["index"] == 1 for _, data in sent)
