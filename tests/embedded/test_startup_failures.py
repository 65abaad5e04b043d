"""The embedded server's start-up paths that a healthy ``tritonserver`` never takes.

A fake ``tritonserver`` (a small Python script) stands in for the wheel's binary: it can report a
port clash, exit before it is ready, never become ready, or serve the two HTTP endpoints that
``EmbeddedTriton`` polls. It is injected by replacing ``_dist.locate`` (where the server finds the
binary); nothing else of the real start-up is changed, so these tests run the real retry, timeout,
error-message and clean-up code in seconds, without a real server.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from loadtest.embedded import EmbeddedServerError, EmbeddedTriton, _dist, free_port

# Each invocation appends {"pid", "http_port"} to calls.jsonl, then acts out the next step of its
# plan (the last step repeats): "clash" on its HTTP port, "clash-grpc" on a port nobody asked for,
# "exit" with an error line, "hang" without listening, "serve" (every model READY) or
# "serve-unready" (the first model UNAVAILABLE).
FAKE_TRITONSERVER = """\
#!{python}
import http.server, json, os, sys, time

STATE = {state!r}
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
with open(os.path.join(STATE, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps({{"pid": os.getpid(), "http_port": int(args["http-port"])}}) + "\\n")
with open(os.path.join(STATE, "calls.jsonl")) as calls:
    count = sum(1 for _ in calls)
with open(os.path.join(STATE, "plan.json")) as plan_file:
    plan = json.load(plan_file)
step = plan[min(count, len(plan)) - 1]
if step == "clash":
    print("E1130 10:00:00.000000 1 main.cc:250] failed to start HTTP service: Unavailable - Socket "
          "'%s:%s' already in use" % (args["http-address"], args["http-port"]), flush=True)
    sys.exit(1)
if step == "exit":
    print("I1130 10:00:00.000000 1 server.cc:100] starting", flush=True)
    print("E1130 10:00:00.000001 1 server.cc:101] failed to load the model repository: fake failure",
          flush=True)
    sys.exit(3)
if step == "hang":
    print("I1130 10:00:00.000000 1 server.cc:100] still starting", flush=True)
    while True:
        time.sleep(3600)
models = sorted(os.listdir(args["model-repository"]))


class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v2/health/ready":
            self._send({{}})
        else:
            self.send_error(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        states = ["READY"] * len(models)
        if step == "serve-unready" and models:
            states[0] = "UNAVAILABLE"
        self._send([{{"name": m, "version": "1", "state": s}} for m, s in zip(models, states)])

    def log_message(self, *args):
        pass


print("I1130 10:00:00.000000 1 http_server.cc:100] Started HTTPService", flush=True)
http.server.ThreadingHTTPServer((args["http-address"], int(args["http-port"])), Handler).serve_forever()
"""


class FakeServer:
    """The fake binary, its plan and what its invocations recorded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.state.mkdir(parents=True)
        backend = root / "backends" / "python"
        backend.mkdir(parents=True)
        (backend / "libtriton_python.so").write_bytes(b"")
        stub = root / "stub" / "triton_python_backend_stub"
        stub.parent.mkdir()
        stub.write_bytes(b"")
        (root / "libs").mkdir()
        binary = root / "bin" / "tritonserver"
        binary.parent.mkdir()
        binary.write_text(FAKE_TRITONSERVER.format(python=sys.executable, state=str(self.state)))
        binary.chmod(0o755)
        self.processes: list[subprocess.Popen[bytes] | None] = []
        self.distribution = _dist.ServerDistribution(
            tritonserver=binary, python_backend_dir=backend, stub=stub, libs_dir=root / "libs", version="0.7.0"
        )

    def plan(self, steps: Sequence[str]) -> None:
        (self.state / "plan.json").write_text(json.dumps(list(steps)))

    def calls(self) -> list[dict[str, int]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer(tmp_path / "fake")
    monkeypatch.setattr(_dist, "locate", lambda: server.distribution)
    spawn = EmbeddedTriton._spawn

    def spawn_and_keep(self: EmbeddedTriton, dist: _dist.ServerDistribution) -> None:
        spawn(self, dist)
        server.processes.append(self._process)

    monkeypatch.setattr(EmbeddedTriton, "_spawn", spawn_and_keep)
    return server


def _reaped(process: subprocess.Popen[bytes] | None) -> bool:
    """The process was stopped and waited for (not left running, not a zombie)."""
    return process is not None and process.returncode is not None


def test_a_port_taken_meanwhile_is_retried_on_new_ports(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    fake.plan(["clash", "serve"])
    caplog.set_level(logging.INFO, logger="loadtest.embedded.server")
    server = EmbeddedTriton(models=["Linear"])
    with server:
        assert server.running
        calls = fake.calls()
        assert len(calls) == 2
        assert calls[1]["pid"] == server.pid and calls[1]["http_port"] == server.http_port
        first, second = fake.processes
        assert _reaped(first) and not _reaped(second)  # the clashing attempt was stopped before the retry
    assert f"port {calls[0]['http_port']} was taken meanwhile; retrying" in caplog.text
    assert _reaped(second)  # stop() ended the server


def test_a_clash_on_every_attempt_gives_up_after_three(fake: FakeServer) -> None:
    fake.plan(["clash"])
    server = EmbeddedTriton(models=["Linear"])
    with pytest.raises(EmbeddedServerError, match="exited with code 1 before it was ready") as caught:
        server.start()
    calls = fake.calls()
    assert len(calls) == 3
    assert f"Socket '127.0.0.1:{calls[-1]['http_port']}' already in use" in str(caught.value)
    assert len(fake.processes) == 3 and all(_reaped(process) for process in fake.processes)
    assert not server.running


def test_a_clash_on_a_port_the_caller_asked_for_is_not_retried(fake: FakeServer) -> None:
    fake.plan(["clash", "serve"])
    port = free_port()
    server = EmbeddedTriton(models=["Linear"], http_port=port)
    with pytest.raises(EmbeddedServerError, match=f"Socket '127.0.0.1:{port}' already in use"):
        server.start()
    assert [call["http_port"] for call in fake.calls()] == [port]


def test_exiting_before_ready_quotes_the_log_and_leaves_nothing_behind(fake: FakeServer) -> None:
    fake.plan(["exit"])
    server = EmbeddedTriton(models=["Linear"])
    with pytest.raises(EmbeddedServerError) as caught:
        server.start()
    message = str(caught.value)
    assert message.startswith("tritonserver exited with code 3 before it was ready; last lines of ")
    assert "failed to load the model repository: fake failure" in message
    assert len(fake.calls()) == 1  # not a port clash: no retry
    # the error quotes the log's last lines, so the private work directory (log included) is removed
    assert server.log_path is not None and not server.log_path.parent.exists()


def test_a_server_that_never_gets_ready_times_out_and_is_stopped(fake: FakeServer, tmp_path: Path) -> None:
    fake.plan(["hang"])
    server = EmbeddedTriton(models=["Linear"], startup_timeout_s=1.0, work_dir=tmp_path / "work")
    with pytest.raises(EmbeddedServerError, match=r"^tritonserver was not ready within 1 s; last lines of "):
        server.start()
    [process] = fake.processes
    assert _reaped(process)
    assert not server.running


def test_a_model_that_does_not_load_fails_the_start(fake: FakeServer, tmp_path: Path) -> None:
    fake.plan(["serve-unready"])
    server = EmbeddedTriton(models=["Linear", "Sleep"], work_dir=tmp_path / "work")
    with pytest.raises(EmbeddedServerError, match=r"models not ready: \{'Linear': 'UNAVAILABLE'\}"):
        server.start()
    [process] = fake.processes
    assert _reaped(process)
