"""Run a resolved load test: Locust users on our clients, HDR recording, a run directory.

Owns the orchestration of one run in this process: the embedded server (when asked for), the
preflight check of every target, Locust's environment and local runner, the asyncio loop thread,
the interval clock (progress line, ``latency.hlog``, ``intervals.jsonl``, server statistics,
``summary.json``), the stop conditions (duration, request budget, Ctrl-C, a dead or unreachable
server) and the graceful stop that lets in-flight requests finish. Takes a :class:`RunConfig` (see
``loadtest.engine.config`` for how a scenario becomes one); never parses YAML and never renders reports.

Locust runs without gevent's monkey-patching (see ``loadtest/__init__.py``).
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from loadtest import __version__
from loadtest.engine import _bridge
from loadtest.engine.server_poll import RawServer, config_hash, fetch_metrics, success_count
from loadtest.exit_codes import ExitCode
from loadtest.recording import hlog
from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.recorder import (
    GAP,
    LATENCY,
    RESPONSE_TIME,
    RESPONSES,
    TTFR,
    Interval,
    Recorder,
)
from loadtest.recording.rundir import (
    HLOG_FILE,
    LOG_FILE,
    RunWriter,
    build_summary,
    console_totals,
    merge_traffic,
    percentile_key,
)

LOGGER = logging.getLogger("loadtest.run")
T = TypeVar("T")
UNREACHABLE_ABORT_S = 5.0
"""End the run when no request succeeded for this long while connection errors occur."""


@dataclass
class TrafficRun:
    """One traffic entry as the runner needs it."""

    spec: Any  # loadtest.engine.users.TrafficSpec
    users: int = 0
    """Closed loop: fixed user count. Open loop: worker count (the in-flight cap's share)."""
    weight: float = 1.0
    arrivals: Callable[[int], float | None] | None = None
    """Open loop: intended start (s after the run start) of request n, or None when done."""
    info: dict[str, Any] = field(default_factory=dict)
    """Shown in summary.json next to the numbers (pattern, model, protocol, ...)."""


@dataclass
class EmbeddedOptions:
    """The embedded server a run starts and stops."""

    models: Sequence[str] | None = None
    model_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    startup_timeout_s: float = 60.0


@dataclass
class RunConfig:
    """Everything :func:`execute` needs; built from a scenario by ``loadtest.engine.config``."""

    name: str
    scenario_yaml: str
    scenario_hash: str
    seed: int
    traffic: list[TrafficRun]
    load_kind: str  # closed | open | stages
    spawn_rate: float
    warmup_s: float
    duration_s: float
    max_requests: int | None = None
    interval_s: float = 1.0
    percentiles: Sequence[float] = (50.0, 90.0, 95.0, 99.0, 99.9)
    stage_users: Callable[[float], tuple[int, float] | None] | None = None
    """Stages (closed loop): elapsed s -> (users, spawn rate), None when done."""
    embedded: EmbeddedOptions | None = None
    bind_embedded: Callable[[Any], None] | None = None
    """Called with the started embedded server so targets can take its URLs."""
    slos: Sequence[Any] = ()
    """Parsed SLOs (``loadtest.slo.Slo``), evaluated on the final summary."""
    load_info: dict[str, Any] = field(default_factory=dict)
    metrics_urls: Sequence[str] = ()
    """Prometheus metrics pages to snapshot every interval (the embedded server's is added)."""


@dataclass
class RunResult:
    """What a run left behind."""

    exit_code: int
    run_dir: Path
    summary: dict[str, Any]


class RunAborted(Exception):
    """The run cannot go on (dead server, failed preflight); the message says why."""

    def __init__(self, message: str, exit_code: int = ExitCode.RUNTIME_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _metrics_for(pattern: str, open_loop: bool) -> list[str]:
    metrics = [LATENCY]
    if open_loop:
        metrics.append(RESPONSE_TIME)
    if pattern == "decoupled":
        metrics += [TTFR, GAP, RESPONSES]
    return metrics


def _host_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
    }


def _redacted_command(argv: Sequence[str]) -> list[str]:
    """The command line, with the value of any ``--set`` whose path names a secret replaced."""
    from loadtest.scenario import is_sensitive_header

    command = list(argv)
    for index, arg in enumerate(command):
        previous = command[index - 1] if index else ""
        setting = arg[len("--set=") :] if arg.startswith("--set=") else (arg if previous == "--set" else None)
        if setting is not None and "=" in setting:
            path, _, _ = setting.partition("=")
            if is_sensitive_header(path.rsplit(".", 1)[-1]):
                command[index] = arg[: len(arg) - len(setting)] + f"{path}=<redacted>"
    return command


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"tritonload": __version__}
    for name in ("tritonclient", "locust", "gevent", "grpcio", "numpy", "hdrhistogram", "nvidia-pytriton"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class _Progress:
    """The one-line-per-interval progress output and the final table."""

    def __init__(self, stream: Any, enabled: bool, table_stream: Any) -> None:
        self._stream = stream
        self._enabled = enabled
        self._table_stream = table_stream

    def line(self, text: str) -> None:
        if self._enabled:
            print(text, file=self._stream, flush=True)

    def error(self, text: str) -> None:
        print(f"error: {text}", file=self._stream, flush=True)

    def _print(self, text: str) -> None:
        print(text, file=self._table_stream, flush=True)

    def interval(self, elapsed_s: float, interval: Interval, in_flight: int, users: int, warmup: bool) -> None:
        if not self._enabled:
            return
        length_s = max((interval.end_ns - interval.start_ns) / 1e9, 1e-9)
        ok = sum(c.ok for c in interval.counters.values())
        errors = sum(c.error_count for c in interval.counters.values())
        latency = merge_traffic({k: h for k, h in interval.histograms.items() if k[1] == LATENCY}, 1 << 40).get(LATENCY)
        if latency is not None and latency.get_total_count():
            p50, p99 = (value / 1000 for value in value_at_percentiles(latency, (50, 99)))
            lat = f"p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
        else:
            lat = f"p50 {'-':>8} ms  p99 {'-':>8} ms"
        tag = " warm-up" if warmup else ""
        self.line(
            f"[{elapsed_s:7.1f}s] {ok / length_s:9.1f} req/s  {lat}  errors {errors:5d}  "
            f"in flight {in_flight:4d}  users {users:4d}{tag}"
        )

    def table(self, summary: Mapping[str, Any]) -> None:
        wanted = [p for p in (50.0, 90.0, 99.0, 99.9) if p in summary.get("percentiles", [])]
        header = f"{'traffic':<24} {'requests':>9} {'errors':>7} {'req/s':>9} " + " ".join(
            f"{percentile_key(p) + ' ms':>10}" for p in wanted
        )
        self._print("")
        self._print(header)
        rows = [*summary.get("traffic", {}).items(), *console_totals(summary)]
        for name, entry in rows:
            stats = entry.get("metrics", {}).get(LATENCY, {})
            cells = []
            for p in wanted:
                value = stats.get(percentile_key(p))
                cells.append(f"{value / 1000:10.2f}" if value is not None else f"{'-':>10}")
            self._print(
                f"{name[:24]:<24} {entry.get('requests', 0):>9} {entry.get('errors', 0):>7} "
                f"{entry.get('throughput_rps', 0):>9.1f} " + " ".join(cells)
            )


@contextmanager
def _run_log(run_dir: Path) -> Iterator[None]:
    handler = logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()


class _Interrupt:
    """Turns SIGINT/SIGTERM into flags the interval loop checks, through the gevent hub.

    The first signal asks for a graceful stop; a second one abandons the requests in flight.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.abandon = False
        self._watchers: list[Any] = []

    def __enter__(self) -> _Interrupt:
        import gevent

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._watchers.append(gevent.signal_handler(sig, self._handle, sig))
        return self

    def _handle(self, signum: int) -> None:
        if self.signal is not None:
            self.abandon = True
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for watcher in self._watchers:
            watcher.cancel()


def execute(
    config: RunConfig, run_dir: Path, *, progress: bool = True, web: bool = False, web_port: int = 8089
) -> RunResult:
    """Run ``config`` and leave everything measured in ``run_dir``.

    Returns the exit code (0, 1 for a failed run, 3 for a breached SLO, 130 when interrupted), the
    run directory and the final summary. The summary is written at every interval, so a crash still
    leaves what was measured.
    """
    execution = RunSession(config, run_dir, progress, web)
    execution.web_port = web_port
    return execution.run()


class RunSession:
    """One run's state and phases; :func:`execute` drives it, ``loadtest.locust_plugin`` lets Locust drive it."""

    def __init__(self, config: RunConfig, run_dir: Path, progress: bool, web: bool) -> None:
        self.config = config
        self.run_dir = run_dir
        self.progress = _Progress(sys.stderr, progress, sys.stdout)
        self.web = web
        self.web_host = "127.0.0.1"
        self.end_at_duration = True
        self.stop_requested = False
        self.interrupt: Any = _Interrupt()
        self.web_port = 8089
        self.server: Any = None
        self.meta: dict[str, Any] = {}
        self.started_at_s = time.time()
        self.writer: RunWriter | None = None
        self.recorder: Recorder | None = None
        self.control: Any = None
        self.stats_servers: list[tuple[RawServer, str]] = []
        self.stats_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tritonload-stats")
        self.metrics_urls: list[str] = list(config.metrics_urls)
        self.measure_start_ns: int | None = None
        self.status = "running"
        self.error: str | None = None
        self.counts_start: dict[str, int] | None = None
        self.cpu_start_s: float | None = None
        self.cpu_last_s = 0.0

    # -- the whole run --------------------------------------------------------------------------
    def run(self) -> RunResult:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with _run_log(self.run_dir), self.interrupt:
            exit_code: int = ExitCode.OK
            try:
                self._start_server()
                self._preflight()
                exit_code = self._drive()
            except RunAborted as exc:
                self.status, self.error = "failed", str(exc)
                LOGGER.error("run failed: %s", exc)
                self.progress.error(str(exc))
                exit_code = exc.exit_code
            except KeyboardInterrupt:
                self.status, self.error = "interrupted", "interrupted by Ctrl-C"
                exit_code = ExitCode.INTERRUPTED
            except Exception as exc:
                LOGGER.exception("run failed")
                self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"
                self.progress.error(f"{self.error} (details in {self.run_dir / LOG_FILE})")
                exit_code = ExitCode.RUNTIME_ERROR
            finally:
                summary = self._finish()
                if self.server is not None:
                    self.server.stop()
        if exit_code == ExitCode.OK and any(s.get("passed") is False for s in summary.get("slos", [])):
            exit_code = ExitCode.SLO_BREACHED
        return RunResult(int(exit_code), self.run_dir, summary)

    def _start_server(self) -> None:
        if self.config.embedded is None:
            return
        from loadtest.embedded import EmbeddedServerError, EmbeddedTriton, EmbeddedUnavailableError

        self.progress.line("starting the embedded Triton Inference Server ...")
        server = EmbeddedTriton(
            models=self.config.embedded.models,
            model_parameters=self.config.embedded.model_parameters,
            startup_timeout_s=self.config.embedded.startup_timeout_s,
            log_path=self.run_dir / "tritonserver.log",
        )
        try:
            server.start()
        except (EmbeddedServerError, EmbeddedUnavailableError, ValueError) as exc:
            raise RunAborted(f"the embedded server did not start: {exc}") from exc
        self.server = server
        self.metrics_urls.append(server.metrics_url)
        if self.config.bind_embedded is not None:
            self.config.bind_embedded(server)
        self.progress.line(f"embedded Triton ready in {server.startup_s:.1f} s: {server.http_url} {server.grpc_url}")

    def _preflight(self) -> None:
        """Probe every traffic entry once; read server metadata and model configs for the provenance."""
        servers: dict[str, dict[str, Any]] = {}
        models: dict[str, dict[str, Any]] = {}
        for traffic in self.config.traffic:
            traffic.spec.model_config = self._probe(traffic)
            options = traffic.spec.client
            label = f"{options.model}@{options.url}"
            if label in models:
                continue
            raw = self._on_stats_thread(functools.partial(RawServer, options))
            try:
                if options.url not in servers:
                    servers[options.url] = self._on_stats_thread(raw.metadata)
                config = self._on_stats_thread(functools.partial(raw.model_config, options.model, options.version))
                models[label] = {
                    "model": options.model,
                    "version": options.version or "",
                    "server": options.url,
                    "config_hash": config_hash(config),
                }
                self.stats_servers.append((raw, options.model))
            except Exception as exc:  # provenance is best effort; the run does not need it
                LOGGER.warning("could not read metadata of %s: %s", options.url, exc)
                models[label] = {"model": options.model, "server": options.url, "error": str(exc)}
                self._on_stats_thread(raw.close)
        self.meta = {
            "scenario": {"name": self.config.name, "hash": self.config.scenario_hash, "seed": self.config.seed},
            "load": dict(self.config.load_info),
            "provenance": {
                "packages": _package_versions(),
                "host": _host_info(),
                "servers": servers,
                "models": models,
                "command": _redacted_command(sys.argv),
            },
            "server_counts": {},
        }

    def _on_stats_thread(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the single thread that owns every raw stats client (HTTP clients are
        bound to the thread that made them); the calling greenlet waits cooperatively."""
        return _bridge.wait_future(self.stats_thread.submit(function))

    def _server_success_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for raw, model in self.stats_servers:
            try:
                counts[f"{model}@{raw.options.url}"] = success_count(raw.statistics(model))
            except Exception as exc:
                LOGGER.warning("could not read statistics of %s: %s", model, exc)
        return counts

    def _probe(self, traffic: TrafficRun) -> Any:
        """Wait for the model, fetch its config and send one request, so a scenario that does not fit
        the model fails here with one clear error instead of thousands of failed requests."""
        from pytriton_client import DecoupledModelClient, ModelClient, PyTritonClientError

        spec = traffic.spec
        options = spec.client
        client_class = DecoupledModelClient if spec.pattern == "decoupled" else ModelClient
        name = spec.name
        try:
            with client_class(
                options.url, options.model, options.version, lazy_init=False, **options.kwargs()
            ) as client:
                config = client.model_config
                kwargs = spec.call_kwargs()
                try:
                    result = getattr(client, spec.method)(**kwargs)
                    if spec.pattern == "decoupled":
                        for _ in result:
                            pass
                except PyTritonClientError as exc:
                    if exc.kind in ("invalid_input", "not_supported"):
                        raise RunAborted(
                            f"traffic '{name}' does not fit model '{options.model}': {exc}", ExitCode.USAGE
                        ) from exc
                    LOGGER.warning("traffic '%s': the probe request failed (%s); going on", name, exc)
        except PyTritonClientError as exc:
            raise RunAborted(f"traffic '{name}': {exc}") from exc
        return config

    # -- the measured part -------------------------------------------------------------------------
    def create_users(self, environment: Any, *, fixed_counts: bool) -> list[Any]:
        """The recorder, the shared run control and one Locust user class per traffic entry."""
        from loadtest.engine.users import RunControl, make_user_class

        config = self.config
        open_loop = config.load_kind == "open"
        highest_us = int(max(t.spec.client.inference_timeout_s for t in config.traffic) * 1e6 * 2) + 1_000_000
        recorder = Recorder(highest_us=highest_us)
        for traffic in config.traffic:
            recorder.declare(traffic.spec.name, _metrics_for(traffic.spec.pattern, open_loop))
        self.recorder = recorder
        self.control = RunControl(recorder, environment, max_requests=config.max_requests)
        return [
            make_user_class(t.spec, self.control, fixed_count=t.users if fixed_counts else 0, weight=t.weight)
            for t in config.traffic
        ]

    def open_results(self) -> None:
        """Start the asyncio loop thread if needed, size the thread pool, create the run directory."""
        config = self.config
        if any(t.spec.pattern == "asyncio" for t in config.traffic) and self.control.loop_thread is None:
            self.control.loop_thread = _bridge.AsyncioLoopThread().start()
        blocking_users = sum(t.users for t in config.traffic if t.spec.pattern in ("decoupled", "sync"))
        _bridge.ensure_thread_pool(blocking_users + 4)
        self.writer = RunWriter(
            self.run_dir,
            scenario_yaml=config.scenario_yaml,
            start_epoch_s=time.time(),
            comment=f"tritonload {__version__} run {self.run_dir.name}; values in microseconds",
        )
        self._write_summary(complete=False)

    def start_schedule(self, start_ns: int) -> None:
        """Open loop: hand every entry its tickets, timed from ``start_ns``."""
        from loadtest.engine.users import Tickets

        if self.config.load_kind == "open":
            for traffic in self.config.traffic:
                assert traffic.arrivals is not None
                self.control.tickets[traffic.spec.name] = Tickets(traffic.arrivals, start_ns)
        if self.config.warmup_s <= 0:
            self.counts_start = self._on_stats_thread(self._server_success_counts)

    def close_users(self) -> None:
        """Close every client and the asyncio loop thread."""
        for close in list(self.control.closers):
            try:
                close()
            except Exception as exc:
                LOGGER.debug("closing a client failed: %s", exc)
        if self.control.loop_thread is not None:
            self.control.loop_thread.stop()

    def _drive(self) -> int:
        from locust.env import Environment

        config = self.config
        # A ramp-down lets each stopped user finish (and record) its request in flight.
        environment = Environment(user_classes=[], events=None, stop_timeout=self._in_flight_wait_s())
        environment.user_classes = self.create_users(environment, fixed_counts=config.load_kind != "stages")
        self.open_results()
        if config.load_kind == "stages":
            environment.shape_class = _stage_shape(config)
        runner = environment.create_local_runner()
        saved_argv = sys.argv
        if self.web:
            # Locust's web UI parses sys.argv as Locust options when it renders a page; ours would not parse.
            sys.argv = sys.argv[:1]
            environment.create_web_ui(self.web_host, self.web_port)
            self.progress.line(f"Locust web UI: http://{self.web_host}:{self.web_port}")
        start_ns = time.perf_counter_ns()
        self.start_schedule(start_ns)
        total_users = sum(t.users for t in config.traffic)
        if config.load_kind == "stages":
            runner.start_shape()
        elif config.load_kind == "open":
            runner.start(total_users, spawn_rate=total_users)
        else:
            runner.start(total_users, spawn_rate=max(config.spawn_rate, 1e-3))
        try:
            return self._interval_loop(runner, start_ns)
        finally:
            self._graceful_stop(runner)
            self.close_users()
            if environment.web_ui is not None:
                environment.web_ui.stop()
            sys.argv = saved_argv

    def interval_loop(self, runner: Any, start_ns: int) -> int:
        """Tick every interval: warm-up end, interval files, progress; returns the exit code at the stop."""
        return self._interval_loop(runner, start_ns)

    def _interval_loop(self, runner: Any, start_ns: int) -> int:
        import gevent

        config, recorder = self.config, self.recorder
        assert recorder is not None and self.writer is not None
        warmup_end_ns = start_ns + int(config.warmup_s * 1e9)
        end_ns = warmup_end_ns + int(config.duration_s * 1e9) if self.end_at_duration else 1 << 62
        interval_ns = int(config.interval_s * 1e9)
        if config.warmup_s <= 0:
            self._start_measuring(start_ns)
        next_tick = start_ns + interval_ns
        while True:
            now = time.perf_counter_ns()
            gevent.sleep(max(0.0, (min(next_tick, end_ns) - now) / 1e9))
            now = time.perf_counter_ns()
            if not recorder.measuring and now >= warmup_end_ns:
                self.counts_start = self._on_stats_thread(self._server_success_counts)
                self._interval(now, start_ns, warmup=True)
                self._start_measuring(now)
                next_tick = now + interval_ns
            elif now >= next_tick or now >= end_ns:
                self._interval(now, start_ns, warmup=not recorder.measuring)
                next_tick += interval_ns
                while next_tick <= now:
                    next_tick += interval_ns
            reason = self._stop_reason(now, end_ns, runner)
            if reason is not None:
                return reason

    def _stop_reason(self, now_ns: int, end_ns: int, runner: Any) -> int | None:
        control = self.control
        if self.stop_requested:
            self.status = "completed"
            return ExitCode.OK
        if self.interrupt.signal is not None:
            self.status, self.error = "interrupted", f"interrupted by signal {self.interrupt.signal}"
            self.progress.line("interrupted: stopping, waiting for requests in flight (Ctrl-C again to abandon them)")
            return ExitCode.INTERRUPTED
        if self.server is not None and not self.server.running:
            raise RunAborted("the embedded Triton server exited during the run")
        last_error_ns = control.last_connection_error_ns
        if last_error_ns is not None and last_error_ns > control.last_ok_ns:  # noqa: SIM102 - two conditions
            if now_ns - control.last_ok_ns > UNREACHABLE_ABORT_S * 1e9:
                raise RunAborted(f"the server has been unreachable for {UNREACHABLE_ABORT_S:g} s")
        if now_ns >= end_ns:
            self.status = "completed"
            return ExitCode.OK
        if control.stopping:
            self.status = "completed"
            return ExitCode.OK
        idle = runner.user_count == 0 and control.in_flight == 0
        measured_s = (now_ns - (self.measure_start_ns or now_ns)) / 1e9
        if idle and self.recorder is not None and self.recorder.measuring and measured_s > 1:
            if self.config.load_kind == "closed":
                raise RunAborted(f"every user stopped before the end of the run (see {self.run_dir / LOG_FILE})")
            self.status = "completed"  # the open-loop schedule or the stages are done
            return ExitCode.OK
        return None

    def _start_measuring(self, now_ns: int) -> None:
        assert self.recorder is not None
        self.recorder.start_measuring(now_ns)
        self.measure_start_ns = now_ns
        self.cpu_start_s = self.cpu_last_s = time.process_time()

    def _cpu_since_last_interval_s(self) -> float:
        now = time.process_time()
        used, self.cpu_last_s = now - self.cpu_last_s, now
        return round(used, 6)

    def _interval(self, now_ns: int, start_ns: int, *, warmup: bool) -> None:
        assert self.recorder is not None and self.writer is not None
        interval = self.recorder.roll(now_ns)
        users = getattr(self.control.environment.runner, "user_count", 0) if self.control else 0
        elapsed_s = (now_ns - start_ns) / 1e9
        self.progress.interval(elapsed_s, interval, self.control.in_flight, users, warmup)
        if warmup:
            return
        extra = {"users": users, "in_flight": self.control.in_flight, "cpu_s": self._cpu_since_last_interval_s()}
        self.writer.write_interval(interval, extra)
        self._server_snapshot(now_ns)
        self._write_summary(complete=False, now_ns=now_ns)

    def _server_snapshot(self, now_ns: int) -> None:
        if not (self.stats_servers or self.metrics_urls) or self.writer is None:
            return

        def _collect() -> dict[str, Any]:
            snapshot: dict[str, Any] = {"t_s": round((now_ns - (self.measure_start_ns or now_ns)) / 1e9, 3)}
            models: dict[str, Any] = {}
            for raw, model in self.stats_servers:
                try:
                    models[f"{model}@{raw.options.url}"] = raw.statistics(model)
                except Exception as exc:  # a dead server must not end the interval loop
                    models[f"{model}@{raw.options.url}"] = {"error": str(exc)}
            snapshot["models"] = models
            for url in self.metrics_urls:
                try:
                    snapshot.setdefault("metrics", {})[url] = fetch_metrics(url)
                except Exception as exc:
                    snapshot.setdefault("metrics_errors", {})[url] = str(exc)
            return snapshot

        self.writer.write_server_stats(self._on_stats_thread(_collect))

    def _graceful_stop(self, runner: Any) -> None:
        import gevent

        control = self.control
        control.stopping = True
        deadline = time.monotonic() + self._in_flight_wait_s()
        while control.in_flight > 0 and time.monotonic() < deadline and not self.interrupt.abandon:
            gevent.sleep(0.01)
        if control.in_flight > 0:
            LOGGER.warning("abandoned %d requests in flight", control.in_flight)
        runner.environment.stop_timeout = 0.0  # what was in flight is recorded or abandoned: stop at once
        runner.quit()

    def _in_flight_wait_s(self) -> float:
        """How long a stop waits for requests in flight: the longest inference timeout, plus a second."""
        return max((t.spec.client.inference_timeout_s for t in self.config.traffic), default=10.0) + 1.0

    # -- results ---------------------------------------------------------------------------------------
    def _write_summary(self, *, complete: bool, now_ns: int | None = None, final: bool = False) -> dict[str, Any]:
        if self.recorder is None or self.writer is None:
            return {}
        end_ns = now_ns or time.perf_counter_ns()
        duration_s = (end_ns - self.measure_start_ns) / 1e9 if self.measure_start_ns is not None else 0.0
        summary = build_summary(
            self.recorder,
            run_id=self.run_dir.name,
            status=self.status,
            complete=complete,
            started_at_s=self.started_at_s,
            ended_at_s=time.time(),
            duration_s=duration_s,
            percentiles=self.config.percentiles,
            meta=self.meta,
            traffic_info={t.spec.name: t.info for t in self.config.traffic},
            error=self.error,
        )
        if self.cpu_start_s is not None:
            cpu_s = time.process_time() - self.cpu_start_s
            requests = summary["overall"]["requests"]
            summary["client"] = {
                "cpu_s": round(cpu_s, 3),
                "cpu_us_per_request": round(cpu_s * 1e6 / requests, 1) if requests else None,
                "note": "CPU time of the load-generator process while measuring (all its threads)",
            }
        if final and self.config.slos:
            summary["slos"] = self._evaluate_slos(summary)
        self.writer.write_summary(summary)
        return summary

    def _evaluate_slos(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        from loadtest.slo.verdicts import evaluate_slos

        def histograms() -> Any:  # only for a percentile the summary does not list
            return hlog.read_totals(self.run_dir / HLOG_FILE, int(summary["highest_trackable_us"]))

        return evaluate_slos(self.config.slos, summary, histograms)

    def _finish(self) -> dict[str, Any]:
        self.writer_started = self.writer is not None
        if self.writer is None:
            # Failed before traffic: still leave a run directory that says why.
            self.recorder = self.recorder or Recorder(highest_us=1_000_000)
            self.writer = RunWriter(self.run_dir, scenario_yaml=self.config.scenario_yaml, start_epoch_s=time.time())
        assert self.recorder is not None
        if self.recorder.measuring:
            now = time.perf_counter_ns()
            interval = self.recorder.roll(now)
            users = 0
            self.writer.write_interval(
                interval, {"users": users, "in_flight": 0, "cpu_s": self._cpu_since_last_interval_s()}
            )
        if self.counts_start is not None:
            end = self._on_stats_thread(self._server_success_counts)
            self.meta["server_counts"] = {
                label: {
                    "success_at_start": start,
                    "success_at_end": end.get(label),
                    "success_delta": end[label] - start if label in end else None,
                }
                for label, start in self.counts_start.items()
            }
        self.writer.close()
        summary = self._write_summary(complete=self.status == "completed", final=True)
        for raw, _ in self.stats_servers:
            self._on_stats_thread(raw.close)
        self.stats_thread.shutdown(wait=False)
        if self.writer_started:
            self.progress.table(summary)
        return summary


def _stage_shape(config: RunConfig) -> Any:
    from locust import LoadTestShape

    if config.stage_users is None:
        raise ValueError("a stages run needs RunConfig.stage_users")
    stage_users: Callable[[float], tuple[int, float] | None] = config.stage_users

    class _Shape(LoadTestShape):
        """Follows the stages, then holds the last one: the run session, not Locust, ends the run.

        A shape that returned None would make Locust kill every user at once, racing the session's
        graceful stop and cutting requests in flight.
        """

        last: tuple[int, float] | None = None

        def tick(self) -> tuple[int, float] | None:
            wanted = stage_users(self.get_run_time())
            if wanted is not None:
                self.last = wanted
            return self.last

    return _Shape()
