"""Run a real Triton Inference Server on this machine, with the demo models.

Owns: the server's work directory (server tree, model repository, log), its process group, its
ports and its shared-memory segments, from start to a clean stop. A temporary work directory is
removed on stop, after a failed start, at interpreter exit, and (for a process killed with SIGKILL,
which runs no cleanup) by the next server that starts on this machine. Never imports the
``pytriton`` package or any client code; readiness is checked over plain HTTP.

Usage::

    with EmbeddedTriton() as server:
        print(server.http_url, server.grpc_url, server.models)
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from loadtest.embedded import _dist
from loadtest.embedded._dist import EmbeddedUnavailableError
from loadtest.embedded._workdir import make_work_dir, sweep_stale_work_dirs

LOGGER = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEMO_MODELS: tuple[str, ...] = ("Linear", "ImageNet", "TextGen", "streaming_bot", "Sleep", "Fail", "Capacity")
DEFAULT_STARTUP_TIMEOUT_S = 60.0
STOP_GRACE_S = 15.0
"""How long :meth:`EmbeddedTriton.stop` lets Triton shut down by itself before it kills the process group."""
LOG_TAIL_LINES = 20
_SHM_DIR = Path("/dev/shm")
_PR_SET_PDEATHSIG = 1
_ERROR_LINE = re.compile(r"^E\d{4} ")
_NOISE = "CudaDriverHelper has not been initialized"  # always logged on a machine without a GPU
_PORT_CLASH = re.compile(r"Socket '[^']*:(\d+)' already in use")


class EmbeddedServerError(RuntimeError):
    """The embedded server failed to start or to become ready; the message quotes its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _set_parent_death_signal() -> None:
    # Runs in the child between fork and exec: the server gets SIGTERM when its parent dies.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _tail(path: Path, lines: int = LOG_TAIL_LINES, offset: int = 0) -> str:
    """The server log's error lines, then its last lines, without the wide option tables."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no server log)"
    kept = [line for line in text.splitlines() if line.strip() and not line.startswith(("|", "+"))]
    errors = [line for line in kept if _ERROR_LINE.match(line) and _NOISE not in line][-lines:]
    tail = [line for line in kept[-lines:] if line not in errors]
    return "\n".join(errors + tail)


def _pbtxt_parameters(parameters: Mapping[str, object]) -> str:
    entries = []
    for key, value in parameters.items():
        entries.append(
            f"parameters {{ key: {json.dumps(str(key))} value {{ string_value: {json.dumps(str(value))} }} }}"
        )
    return "\n".join(entries) + "\n"


class EmbeddedTriton:
    """A Triton Inference Server started from the ``nvidia-pytriton`` wheel's binary.

    Serves the demo models (see ``docs/embedded.md``) from a private work directory. Ports set to 0
    are picked free. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        http_port: HTTP port, 0 for a free one.
        grpc_port: gRPC port, 0 for a free one.
        metrics_port: Prometheus metrics port, 0 for a free one.
        models: names of demo models to serve; ``None`` serves all of :data:`DEMO_MODELS`.
        model_parameters: per-model config parameters to set, e.g. ``{"Sleep": {"latency_ms": 20}}``.
        extra_model_dirs: more model directories (each holding a ``config.pbtxt``) to serve.
        host: address to bind and to put in the URLs.
        work_dir: where to assemble the server; a temporary directory (removed on stop) by default.
        log_path: server log file; ``<work_dir>/tritonserver.log`` by default.
        startup_timeout_s: how long :meth:`start` waits for the server and every model to be ready.
        model_control_mode: ``"none"`` (load everything at start) or ``"explicit"`` (load everything at
            start, and allow load/unload through the repository API).
        extra_args: more ``tritonserver`` command-line arguments (e.g. gRPC SSL options).
        grpc_tls: when true, URLs use ``grpcs://`` (pass the SSL options in ``extra_args``).

    Raises:
        EmbeddedUnavailableError: the ``embedded`` extra is missing or the platform cannot run it.
        EmbeddedServerError: the server did not become ready in time.
    """

    def __init__(
        self,
        *,
        http_port: int = 0,
        grpc_port: int = 0,
        metrics_port: int = 0,
        models: Sequence[str] | None = None,
        model_parameters: Mapping[str, Mapping[str, object]] | None = None,
        extra_model_dirs: Iterable[str | os.PathLike[str]] = (),
        host: str = "127.0.0.1",
        work_dir: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
        model_control_mode: str = "none",
        extra_args: Sequence[str] = (),
        grpc_tls: bool = False,
    ) -> None:
        unknown = [name for name in (models or ()) if name not in DEMO_MODELS]
        if unknown:
            raise ValueError(f"unknown demo model(s) {unknown}; known: {', '.join(DEMO_MODELS)}")
        if model_control_mode not in ("none", "explicit"):
            raise ValueError(f"model_control_mode must be 'none' or 'explicit', not {model_control_mode!r}")
        self._requested_ports = (http_port, grpc_port, metrics_port)
        self._models = tuple(models) if models is not None else DEMO_MODELS
        self._model_parameters = {k: dict(v) for k, v in (model_parameters or {}).items()}
        self._extra_model_dirs = [Path(p) for p in extra_model_dirs]
        self.host = host
        self._work_dir_arg = Path(work_dir) if work_dir is not None else None
        self._log_path_arg = Path(log_path) if log_path is not None else None
        self.startup_timeout_s = startup_timeout_s
        self._model_control_mode = model_control_mode
        self._extra_args = list(extra_args)
        self._grpc_tls = grpc_tls
        self._process: subprocess.Popen[bytes] | None = None
        self._work_dir: Path | None = None
        self._owns_work_dir = False
        self._shm_prefix = f"tritonload_{os.getpid()}_{uuid.uuid4().hex[:8]}_"
        self.http_port, self.grpc_port, self.metrics_port = self._requested_ports
        self.log_path: Path | None = None
        self._log_offset = 0
        self.startup_s: float | None = None
        self._finalizer: weakref.finalize[..., EmbeddedTriton] | None = None

    # -- public properties ------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        """``http://host:port`` of the HTTP endpoint."""
        return f"http://{self._url_host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        """``grpc://host:port`` (``grpcs://`` with TLS) of the gRPC endpoint."""
        scheme = "grpcs" if self._grpc_tls else "grpc"
        return f"{scheme}://{self._url_host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        """URL of the Prometheus metrics page."""
        return f"http://{self._url_host}:{self.metrics_port}/metrics"

    @property
    def models(self) -> list[str]:
        """Names of the models this server serves."""
        return [*self._models, *(p.name for p in self._extra_model_dirs)]

    @property
    def pid(self) -> int | None:
        """Process id of ``tritonserver`` while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedTriton:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> EmbeddedTriton:
        """Start the server and wait until it and every model are ready; returns ``self``."""
        if self._process is not None:
            raise RuntimeError("EmbeddedTriton is already started")
        dist = _dist.locate()
        began = time.perf_counter()
        try:
            self._prepare_work_dir(dist)
            attempts = 3 if 0 in self._requested_ports else 1
            for attempt in range(1, attempts + 1):
                self._pick_ports()
                self._spawn(dist)
                try:
                    self._wait_ready(time.perf_counter() + self.startup_timeout_s)
                except EmbeddedServerError:
                    clash = _PORT_CLASH.search(_tail(self._log(), 400, self._log_offset))
                    self._terminate()
                    if clash and int(clash.group(1)) not in self._requested_ports and attempt < attempts:
                        LOGGER.info("port %s was taken meanwhile; retrying with new ports", clash.group(1))
                        continue
                    raise
                break
        except BaseException:  # a failed start (or Ctrl-C during it) leaves no process and no directory
            self._terminate()
            self._cleanup_files()
            raise
        self.startup_s = time.perf_counter() - began
        owned = self._work_dir if self._owns_work_dir else None
        self._finalizer = weakref.finalize(self, EmbeddedTriton._release, self._process, self._shm_prefix, owned)
        atexit.register(self._finalizer)
        LOGGER.info("Triton ready in %.1f s: %s %s", self.startup_s, self.http_url, self.grpc_url)
        return self

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the server, its stub processes and free its shared memory. Safe to call twice.

        Args:
            grace_s: how long Triton may take to shut down by itself after SIGTERM (it unloads every model,
                looking once a second whether they are gone: 3-6 s for the demo models) before its process
                group is killed. 0 kills it at once: nothing in flight is answered and the log ends abruptly,
                which is fine for a server whose numbers were already collected.
        """
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._terminate(grace_s)
        self._cleanup_files()

    # -- internals --------------------------------------------------------------------------
    def _log(self) -> Path:
        assert self.log_path is not None
        return self.log_path

    def _prepare_work_dir(self, dist: _dist.ServerDistribution) -> None:
        if self._work_dir_arg is not None:
            self._work_dir = self._work_dir_arg
            self._work_dir.mkdir(parents=True, exist_ok=True)
        else:
            sweep_stale_work_dirs()
            self._work_dir = make_work_dir()
            self._owns_work_dir = True
        backend = self._work_dir / "backends" / "python"
        if backend.exists():
            shutil.rmtree(backend)
        backend.mkdir(parents=True)
        for item in dist.python_backend_dir.iterdir():
            if item.is_file():
                shutil.copy2(item, backend / item.name)
        shutil.copy2(dist.stub, backend / "triton_python_backend_stub")
        repo = self._work_dir / "models"
        if repo.exists():
            shutil.rmtree(repo)
        repo.mkdir()
        sources = [MODELS_DIR / name for name in self._models] + self._extra_model_dirs
        for source in sources:
            target = repo / source.name
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            params = self._model_parameters.get(source.name)
            if params:
                with (target / "config.pbtxt").open("a", encoding="utf-8") as config:
                    config.write("\n" + _pbtxt_parameters(params))
        unknown = set(self._model_parameters) - {s.name for s in sources}
        if unknown:
            raise ValueError(f"model_parameters names models that are not served: {sorted(unknown)}")
        self.log_path = self._log_path_arg or (self._work_dir / "tritonserver.log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)

    def _pick_ports(self) -> None:
        chosen: list[int] = []
        for requested in self._requested_ports:
            port = requested
            while port == 0 or port in chosen:
                port = free_port(self.host if ":" not in self.host else "127.0.0.1")
            chosen.append(port)
        self.http_port, self.grpc_port, self.metrics_port = chosen

    def _environment(self, dist: _dist.ServerDistribution) -> dict[str, str]:
        env = dict(os.environ)
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        # The backend stub dlopens libpython by name: the running interpreter's LIBDIR must come first.
        ld_parts = [libdir, str(dist.libs_dir), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in ld_parts if p)
        # The stub's interpreter finds its prefix through `python3` on PATH and packages via PYTHONPATH.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        site_dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        env["PYTHONPATH"] = os.pathsep.join([*site_dirs, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env

    def _command(self, dist: _dist.ServerDistribution) -> list[str]:
        assert self._work_dir is not None
        command = [
            str(dist.tritonserver),
            f"--model-repository={self._work_dir / 'models'}",
            f"--backend-directory={self._work_dir / 'backends'}",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
            f"--http-address={self.host}",
            f"--http-port={self.http_port}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--exit-timeout-secs=5",
            "--log-verbose=0",
        ]
        if self._model_control_mode == "explicit":
            command += ["--model-control-mode=explicit", "--load-model=*"]
        return command + self._extra_args

    def _spawn(self, dist: _dist.ServerDistribution) -> None:
        with self._log().open("ab") as log:
            self._log_offset = log.tell()
            self._process = subprocess.Popen(
                self._command(dist),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(dist),
                cwd=self._work_dir,
                start_new_session=True,
                preexec_fn=_set_parent_death_signal,  # noqa: PLW1509 - only calls prctl
            )

    def _fail(self, reason: str) -> EmbeddedServerError:
        # A log inside a temporary work directory goes with it: the message carries its last lines.
        temporary = self._owns_work_dir and self._work_dir is not None and self._work_dir in self._log().parents
        where = "the server log" if temporary else str(self.log_path)
        return EmbeddedServerError(f"{reason}; last lines of {where}:\n{_tail(self._log(), offset=self._log_offset)}")

    def _get_json(self, path: str, *, method: str = "GET", timeout_s: float = 1.0) -> object:
        request = urllib.request.Request(f"http://{self._url_host}:{self.http_port}{path}", method=method)
        if method == "POST":
            request.data = b"{}"
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
        return json.loads(body) if body else None

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        while True:
            code = self._process.poll()
            if code is not None:
                raise self._fail(f"tritonserver exited with code {code} before it was ready")
            try:
                self._get_json("/v2/health/ready", timeout_s=0.5)
                break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.perf_counter() >= deadline:
                raise self._fail(f"tritonserver was not ready within {self.startup_timeout_s:g} s")
            time.sleep(0.05)
        index = self._get_json("/v2/repository/index", method="POST", timeout_s=5.0)
        states = {m.get("name"): m.get("state") for m in index} if isinstance(index, list) else {}
        not_ready = {name: states.get(name) for name in self.models if states.get(name) != "READY"}
        if not_ready:
            raise self._fail(f"models not ready: {not_ready}")

    def _terminate(self, grace_s: float = STOP_GRACE_S) -> None:
        process, self._process = self._process, None
        if process is not None:
            EmbeddedTriton._stop_process(process, self._shm_prefix, grace_s)

    @staticmethod
    def _release(process: subprocess.Popen[bytes] | None, shm_prefix: str, owned_dir: Path | None) -> None:
        """What a server left running at interpreter exit (or garbage collection) needs: stop, clean up."""
        EmbeddedTriton._stop_process(process, shm_prefix)
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)

    @staticmethod
    def _stop_process(process: subprocess.Popen[bytes] | None, shm_prefix: str, grace_s: float = STOP_GRACE_S) -> None:
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM if grace_s > 0 else signal.SIGKILL)
                try:
                    process.wait(timeout=max(grace_s, 0.0))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)
            # Backend stubs share the server's process group; none may outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for segment in _SHM_DIR.glob(f"{shm_prefix}*"):
            with contextlib.suppress(OSError):
                segment.unlink()

    def _cleanup_files(self) -> None:
        if self._owns_work_dir and self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
        self._work_dir = None
        self._owns_work_dir = False


__all__ = [
    "DEMO_MODELS",
    "EmbeddedServerError",
    "EmbeddedTriton",
    "EmbeddedUnavailableError",
    "free_port",
]
