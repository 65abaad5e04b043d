"""Start, stop, crash and Ctrl-C of the embedded server leave no process and no shared memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadtest.cli import main
from loadtest.embedded import EmbeddedServerError, EmbeddedTriton, _dist
from loadtest.embedded._workdir import OWNER_FILE, make_work_dir, sweep_stale_work_dirs
from loadtest.exit_codes import ExitCode


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _shm_prefix(pid: int) -> str:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    for arg in args:
        if b"shm-region-prefix-name=" in arg:
            return arg.rsplit(b"=", 1)[1].decode()
    raise AssertionError("server started without a shared-memory prefix")


def _wait_gone(pgid: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (members := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return members


@pytest.mark.parametrize("grace_s", [None, 0], ids=["graceful", "killed"])
def test_stop_leaves_no_process_and_no_shared_memory(tmp_path: Path, grace_s: float | None) -> None:
    server = EmbeddedTriton(models=["Linear", "Sleep", "streaming_bot"], log_path=tmp_path / "server.log")
    server.start()
    pid = server.pid
    assert pid is not None
    prefix = _shm_prefix(pid)
    assert len(_group_members(pid)) >= 4  # the server and one stub per model
    assert list(Path("/dev/shm").glob(f"{prefix}*"))
    if grace_s is None:
        server.stop()
    else:
        server.stop(grace_s=grace_s)
    assert _group_members(pid) == []
    assert list(Path("/dev/shm").glob(f"{prefix}*")) == []
    log = (tmp_path / "server.log").read_text()
    # Asked to shut down (SIGTERM), Triton unloads its models; killed at once, it never gets to.
    assert ("successfully unloaded 'Linear'" in log) is (grace_s is None), log[-2000:]
    server.stop()  # idempotent


def test_server_dies_with_its_parent_and_the_next_start_removes_its_directory(tmp_path: Path) -> None:
    script = (
        "import sys, tempfile, time\n"
        "from loadtest.embedded import EmbeddedTriton\n"
        f"tempfile.tempdir = {str(tmp_path)!r}\n"
        "s = EmbeddedTriton(models=['Linear']).start()\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        prefix = _shm_prefix(pid)
        parent.kill()  # SIGKILL: no cleanup code runs in the parent
        parent.wait(timeout=10)
        assert _wait_gone(pid, timeout_s=30) == []
        assert list(Path("/dev/shm").glob(f"{prefix}*")) == []
        left = list(tmp_path.glob("tritonload-server-*"))
        assert len(left) == 1  # nothing could remove it: the parent was killed
        assert sweep_stale_work_dirs(tmp_path) == left
        assert not left[0].exists()
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_serve_command_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "loadtest",
        "serve",
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--metrics-port",
        "0",
        "--log-file",
        str(tmp_path / "serve.log"),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    ready_s = time.monotonic() - started
    output = "".join(lines)
    assert "ready" in output, output
    assert ready_s < 60
    pid = int(output.split("(pid ")[1].split(")")[0])
    for name in ("Linear", "ImageNet", "TextGen", "streaming_bot", "Sleep", "Fail", "Capacity"):
        assert name in output
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()
    assert _wait_gone(pid, timeout_s=5) == []


def test_serve_without_the_embedded_extra_prints_one_line_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise _dist.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_dist.metadata, "distribution", missing)
    result = CliRunner().invoke(main, ["serve", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"])
    assert result.exit_code == ExitCode.USAGE
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "pip install 'tritonload[embedded]'" in lines[0]


def test_a_model_that_fails_to_load_gives_an_error_quoting_the_log(tmp_path: Path) -> None:
    broken = tmp_path / "Broken"
    (broken / "1").mkdir(parents=True)
    (broken / "config.pbtxt").write_text(
        'name: "Broken"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        'output [ { name: "Y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
    )
    (broken / "1" / "model.py").write_text("raise ImportError('deliberately broken demo model')\n")
    server = EmbeddedTriton(models=["Linear"], extra_model_dirs=[broken], startup_timeout_s=60)
    with pytest.raises(EmbeddedServerError, match="deliberately broken demo model") as caught:
        server.start()
    assert server.pid is None
    assert "last lines of the server log:" in str(caught.value)  # its directory is gone, the lines are here


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary work directories go to ``tmp_path`` (not the shared /tmp, where others' servers live)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_temporary_work_directory_is_removed_on_stop(private_tmp: Path) -> None:
    with EmbeddedTriton(models=["Linear"]) as server:
        (work_dir,) = private_tmp.glob("tritonload-server-*")
        assert (work_dir / "owner.pid").read_text() == str(os.getpid())
        assert server.log_path is not None and work_dir in server.log_path.parents
    assert list(private_tmp.iterdir()) == []


def test_a_failed_start_removes_its_temporary_work_directory(private_tmp: Path) -> None:
    broken = private_tmp / "models" / "Broken"
    (broken / "1").mkdir(parents=True)
    (broken / "config.pbtxt").write_text('name: "Broken"\nbackend: "python"\n')
    (broken / "1" / "model.py").write_text("raise ImportError('deliberately broken')\n")
    with pytest.raises(EmbeddedServerError, match="deliberately broken"):
        EmbeddedTriton(models=["Linear"], extra_model_dirs=[broken]).start()
    assert list(private_tmp.glob("tritonload-server-*")) == []
    with pytest.raises(ValueError, match="not served"):  # fails while the directory is being assembled
        EmbeddedTriton(models=["Linear"], model_parameters={"Sleep": {"latency_ms": 1}}).start()
    assert list(private_tmp.glob("tritonload-server-*")) == []


def test_sweeping_removes_only_directories_whose_owner_is_gone(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    dead_pid = int(finished.stdout)
    stale = make_work_dir(tmp_path)
    (stale / OWNER_FILE).write_text(str(dead_pid))
    mine = make_work_dir(tmp_path)
    unowned = tmp_path / "tritonload-server-unowned"
    unowned.mkdir()
    other = tmp_path / "something-else"
    other.mkdir()
    assert sweep_stale_work_dirs(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, unowned.name, other.name])


def test_unknown_demo_model_is_rejected_before_starting() -> None:
    with pytest.raises(ValueError, match="known: Linear"):
        EmbeddedTriton(models=["Linaer"])


def test_model_parameters_reach_the_model_config(tmp_path: Path) -> None:
    import tritonclient.http as httpclient

    with EmbeddedTriton(models=["Sleep"], model_parameters={"Sleep": {"latency_ms": 42}}) as server:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
        config = client.get_model_config("Sleep")
        client.close()
    assert config["parameters"]["latency_ms"]["string_value"] == "42"


def test_library_path_puts_the_interpreter_libdir_first() -> None:
    import sysconfig

    env = EmbeddedTriton()._environment(_dist.locate())
    assert env["LD_LIBRARY_PATH"].split(os.pathsep)[0] == sysconfig.get_config_var("LIBDIR")
