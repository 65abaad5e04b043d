"""The local worker processes of ``tritonload run --processes N``: start them, watch them, reap them by PID.

Each worker is a fresh ``python -m loadtest worker --master 127.0.0.1:PORT`` process, not a fork of
the master: a fork would inherit the master's gevent hub, gRPC state and threads, which gRPC does not
survive. Each runs in its own session, so a Ctrl-C at the terminal reaches only the master, which
stops the workers itself. Never kills anything it did not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalWorkers:
    """``count`` worker processes for the master at ``address``; their output goes to ``log_dir/worker-<i>.log``."""

    def __init__(self, count: int, address: str, log_dir: Path) -> None:
        self.count = count
        self.address = address
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self) -> LocalWorkers:
        """Start every worker process."""
        for index in range(self.count):
            log = open(self.log_dir / f"worker-{index}.log", "wb")  # noqa: SIM115 - closed in reap()
            self._logs.append(log)
            command = [sys.executable, "-m", "loadtest", "worker", "--master", self.address]
            self.processes.append(
                subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            )
        return self

    @property
    def pids(self) -> list[int]:
        """The workers' process ids."""
        return [process.pid for process in self.processes]

    def exited(self) -> dict[int, int]:
        """``pid -> exit status`` of every worker that has ended (a negative status: killed by that signal)."""
        return {p.pid: code for p in self.processes if (code := p.poll()) is not None}

    def reap(self, timeout_s: float = 10.0) -> None:
        """Wait for every worker to end (they quit when the master tells them); SIGTERM, then SIGKILL,
        the ones still running after ``timeout_s``; close their logs."""
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            _wait(process, deadline - time.monotonic())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for process in self.processes:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, sig)
                    _wait(process, 3.0)
        for log in self._logs:
            log.close()


def _wait(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=max(0.0, timeout_s))


__all__ = ["LocalWorkers", "free_port"]
