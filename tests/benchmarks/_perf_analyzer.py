"""perf_analyzer for side-by-side benchmarks: install it into a cache, run it, read its CSV.

Owns: getting NVIDIA's `perf_analyzer` binary (the C++ load generator shipped inside the
`tritonclient==2.41.0` wheel) into `~/.cache/tritonload/perf_analyzer/` (or
`$TRITONLOAD_CACHE/perf_analyzer/`), making its shared libraries resolvable, building its command
line, and parsing the CSV it exports (`-f file.csv`). Every step prints what it does and a step that
cannot be done raises `PerfAnalyzerUnavailable` with a message that says what to do.

Never installs anything into the project's Python environment: the wheel is only downloaded
(`pip download --no-deps`) and one file is extracted from it. The only system change is
`apt-get install -y libb64-0d` when `libb64.so.0d` is missing (needs root). `libcudart.so.12` is a
symlink in the cache to the copy in `nvidia_pytriton.libs`, passed through `LD_LIBRARY_PATH` to the
perf_analyzer process only.

Shared by the benchmarks in this folder; not part of the `loadtest` package and not collected by
pytest (the parsing helpers are pure and tested in `tests/engine/test_perf_analyzer_parse.py`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TRITONCLIENT_VERSION = "2.41.0"
WHEEL_MEMBER_SUFFIX = ".data/data/bin/perf_analyzer"
APT_PACKAGE = "libb64-0d"
LIBB64 = "libb64.so.0d"
LIBCUDART = "libcudart.so.12"
# sha256 of tritonclient-2.41.0.data/data/bin/perf_analyzer in PyPI's manylinux1_x86_64 wheel.
BINARY_SHA256 = "f1e1becf820f0b116d8d1745c50569e30d42ddace5a8bccf610914738bdacc8c"


class PerfAnalyzerUnavailable(RuntimeError):
    """perf_analyzer cannot be installed or run here; the message says which step failed and why."""


def default_cache_dir() -> Path:
    """`$TRITONLOAD_CACHE/perf_analyzer`, else `~/.cache/tritonload/perf_analyzer`."""
    base = os.environ.get("TRITONLOAD_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "tritonload"
    return root / "perf_analyzer"


@dataclass(frozen=True)
class PerfAnalyzer:
    """An installed perf_analyzer: the binary and the library directory it needs."""

    binary: Path
    lib_dir: Path

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a perf_analyzer process: `base` (default `os.environ`) plus `lib_dir`
        first on `LD_LIBRARY_PATH`."""
        env = dict(os.environ if base is None else base)
        existing = env.get("LD_LIBRARY_PATH", "")
        env["LD_LIBRARY_PATH"] = f"{self.lib_dir}:{existing}" if existing else str(self.lib_dir)
        return env


# -- installing ---------------------------------------------------------------------------------


def _run(command: Sequence[str], what: str, log: Callable[[str], None], timeout_s: float) -> str:
    log(f"perf_analyzer setup: {what}: {' '.join(command)}")
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PerfAnalyzerUnavailable(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PerfAnalyzerUnavailable(f"{what} failed (exit code {done.returncode}):\n{tail}")
    return done.stdout


def _wheel(cache_dir: Path, log: Callable[[str], None]) -> Path:
    found = sorted(cache_dir.glob(f"tritonclient-{TRITONCLIENT_VERSION}-*.whl"))
    if found:
        return found[0]
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            f"tritonclient=={TRITONCLIENT_VERSION}",
            "-d",
            str(cache_dir),
        ],
        f"download the tritonclient {TRITONCLIENT_VERSION} wheel (not installed, only its binary is used)",
        log,
        timeout_s=600,
    )
    found = sorted(cache_dir.glob(f"tritonclient-{TRITONCLIENT_VERSION}-*.whl"))
    if not found:
        raise PerfAnalyzerUnavailable(f"pip download left no tritonclient-{TRITONCLIENT_VERSION} wheel in {cache_dir}")
    return found[0]


def _extract_binary(wheel: Path, target: Path, log: Callable[[str], None]) -> None:
    log(f"perf_analyzer setup: extract the binary from {wheel.name} to {target}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.endswith(WHEEL_MEMBER_SUFFIX)]
            if not members:
                raise PerfAnalyzerUnavailable(f"{wheel} holds no *{WHEEL_MEMBER_SUFFIX}; delete it and retry")
            partial = target.with_suffix(".partial")
            with archive.open(members[0]) as source, partial.open("wb") as sink:
                shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile as exc:
        raise PerfAnalyzerUnavailable(f"{wheel} is not a valid wheel ({exc}); delete it and retry") from exc
    digest = hashlib.sha256(partial.read_bytes()).hexdigest()
    if digest != BINARY_SHA256:
        partial.unlink()
        raise PerfAnalyzerUnavailable(
            f"the perf_analyzer in {wheel.name} has sha256 {digest}, not the known {BINARY_SHA256} "
            "(Linux x86_64 only); delete the wheel and retry"
        )
    partial.chmod(0o755)
    partial.replace(target)


def _link_cudart(lib_dir: Path, log: Callable[[str], None]) -> None:
    from loadtest.embedded import EmbeddedUnavailableError
    from loadtest.embedded._dist import locate

    try:
        libs_dir = locate().libs_dir
    except EmbeddedUnavailableError as exc:
        raise PerfAnalyzerUnavailable(f"libcudart.so.12 comes from nvidia-pytriton's libraries: {exc}") from exc
    copies = sorted(libs_dir.glob("libcudart-*.so.12*"))
    if not copies:
        raise PerfAnalyzerUnavailable(f"no libcudart-*.so.12* in {libs_dir}; cannot provide {LIBCUDART}")
    link = lib_dir / LIBCUDART
    if link.is_symlink() and link.resolve() == copies[0].resolve():
        return
    log(f"perf_analyzer setup: link {link} -> {copies[0]}")
    lib_dir.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(copies[0])


def missing_libraries(ldd_output: str) -> list[str]:
    """The shared libraries that `ldd` reports as `not found`, in its order."""
    missing = []
    for line in ldd_output.splitlines():
        name, arrow, where = line.strip().partition("=>")
        if arrow and where.strip() == "not found":
            missing.append(name.strip())
    return missing


def _missing(installed: PerfAnalyzer) -> list[str]:
    try:
        done = subprocess.run(
            ["ldd", str(installed.binary)], capture_output=True, text=True, env=installed.env(), timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PerfAnalyzerUnavailable(f"cannot check perf_analyzer's libraries with ldd: {exc}") from exc
    return missing_libraries(done.stdout)


def _install_libb64(log: Callable[[str], None]) -> None:
    if os.geteuid() != 0:
        raise PerfAnalyzerUnavailable(f"{LIBB64} is missing; install it as root: apt-get install -y {APT_PACKAGE}")
    if shutil.which("apt-get") is None:
        raise PerfAnalyzerUnavailable(f"{LIBB64} is missing and there is no apt-get; install {APT_PACKAGE} by hand")
    lock_wait = "DPkg::Lock::Timeout=300"
    _run(["apt-get", "-o", lock_wait, "update"], "update the apt package lists", log, timeout_s=600)
    _run(["apt-get", "-o", lock_wait, "install", "-y", APT_PACKAGE], f"install {APT_PACKAGE}", log, timeout_s=600)


def ensure_perf_analyzer(cache_dir: Path | None = None, log: Callable[[str], None] = print) -> PerfAnalyzer:
    """Install perf_analyzer into `cache_dir` when it is not there yet and check that it runs.

    Usage: `pa = ensure_perf_analyzer(); subprocess.run([pa.binary, "--version"], env=pa.env())`.

    Raises:
        PerfAnalyzerUnavailable: a step failed (download, extraction, libraries, the first start).
    """
    cache = cache_dir or default_cache_dir()
    version_dir = cache / TRITONCLIENT_VERSION
    installed = PerfAnalyzer(binary=version_dir / "perf_analyzer", lib_dir=version_dir / "lib")
    try:
        version_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PerfAnalyzerUnavailable(f"cannot create the cache directory {version_dir}: {exc}") from exc
    if not installed.binary.exists():
        _extract_binary(_wheel(cache, log), installed.binary, log)
    _link_cudart(installed.lib_dir, log)
    missing = _missing(installed)
    if LIBB64 in missing:
        _install_libb64(log)
        missing = _missing(installed)
    if missing:
        raise PerfAnalyzerUnavailable(f"perf_analyzer still misses shared libraries: {', '.join(missing)}")
    _check_starts(installed)
    log(f"perf_analyzer ready: {installed.binary} (tritonclient {TRITONCLIENT_VERSION})")
    return installed


def _check_starts(installed: PerfAnalyzer) -> None:
    try:
        done = subprocess.run(
            [str(installed.binary), "--version"],
            capture_output=True,
            text=True,
            env=installed.env(),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PerfAnalyzerUnavailable(f"perf_analyzer does not start: {exc}") from exc
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or f"Version {TRITONCLIENT_VERSION}" not in output:
        tail = "\n".join(output.splitlines()[-10:])
        raise PerfAnalyzerUnavailable(
            f"perf_analyzer --version failed (exit code {done.returncode}) or named another version:\n{tail}"
        )


# -- running ------------------------------------------------------------------------------------


def command(
    installed: PerfAnalyzer,
    *,
    model: str,
    url: str,
    protocol: str,
    csv_path: Path,
    window_ms: int,
    concurrency: int | None = None,
    rate_rps: float | None = None,
    max_threads: int | None = None,
    stability_percent: float = 10.0,
    max_trials: int = 10,
) -> list[str]:
    """The perf_analyzer command line for one measurement: closed loop (`concurrency`) or a constant
    request rate (`rate_rps`), synchronous calls, batch size 1, random input data (its defaults).

    `url` is `host:port` (no scheme); `protocol` is `http` or `grpc`.
    """
    if (concurrency is None) == (rate_rps is None):
        raise ValueError("give exactly one of concurrency and rate_rps")
    args = [
        str(installed.binary),
        "-m",
        model,
        "-u",
        url,
        "-i",
        protocol,
        "--sync",
        "-b",
        "1",
        "--measurement-mode",
        "time_windows",
        "-p",
        str(window_ms),
        "-s",
        f"{stability_percent:g}",
        "-r",
        str(max_trials),
        "-f",
        str(csv_path),
    ]
    if concurrency is not None:
        args += ["--concurrency-range", str(concurrency)]
    else:
        args += ["--request-rate-range", f"{rate_rps:g}", "--request-distribution", "constant"]
    if max_threads is not None:
        args += ["--max-threads", str(max_threads)]
    return args


# -- reading its output -------------------------------------------------------------------------


@dataclass(frozen=True)
class PerfAnalyzerResult:
    """One measurement as perf_analyzer reports it (client-side latency, in microseconds)."""

    throughput_rps: float
    p50_us: float
    p99_us: float
    request_count: int | None
    delayed_percent: float | None


def parse_csv(text: str) -> dict[str, float]:
    """The one data row of perf_analyzer's `-f` CSV (a single concurrency or rate), by column name.

    Raises:
        ValueError: not exactly one data row, or a cell is not a number.
    """
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if len(rows) != 2:
        raise ValueError(f"expected a header and one data row in perf_analyzer's CSV, found {len(rows)} rows")
    header, values = rows
    if len(header) != len(values):
        raise ValueError(f"perf_analyzer's CSV header has {len(header)} columns but its row {len(values)}")
    try:
        return {name.strip(): float(value) for name, value in zip(header, values, strict=True)}
    except ValueError as exc:
        raise ValueError(f"perf_analyzer's CSV holds a value that is not a number: {exc}") from exc


_REQUEST_COUNT = re.compile(r"Request count:\s*(\d+)")
_DELAYED = re.compile(r"([\d.]+)% of the requests were delayed")


def parse_result(csv_text: str, stdout: str) -> PerfAnalyzerResult:
    """Throughput and p50/p99 from the CSV; the request count and the share of requests sent late
    (request-rate mode; perf_analyzer prints it only in its "could not keep up" warning) from the
    text report on stdout, when it prints them.

    Raises:
        ValueError: the CSV lacks a needed column or is malformed (see `parse_csv`).
    """
    row = parse_csv(csv_text)
    missing = [name for name in ("Inferences/Second", "p50 latency", "p99 latency") if name not in row]
    if missing:
        raise ValueError(f"perf_analyzer's CSV lacks the column(s) {', '.join(missing)}")
    count = _REQUEST_COUNT.search(stdout)
    delayed = _DELAYED.search(stdout)
    return PerfAnalyzerResult(
        throughput_rps=row["Inferences/Second"],
        p50_us=row["p50 latency"],
        p99_us=row["p99 latency"],
        request_count=int(count.group(1)) if count else None,
        delayed_percent=float(delayed.group(1)) if delayed else None,
    )
