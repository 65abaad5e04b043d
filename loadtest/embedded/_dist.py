"""Locate the Triton Inference Server that the ``nvidia-pytriton`` wheel ships.

Owns: finding the ``tritonserver`` binary, the Python backend, the backend stub for the running
interpreter and the bundled shared libraries, and checking that this platform can run them.
Never imports the ``pytriton`` package itself (that would pull in its server-side Python code);
files are found through the distribution's metadata only.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PYTRITON_DISTRIBUTION = "nvidia-pytriton"
PYTRITON_VERSION = "0.7.0"
INSTALL_HINT = "pip install 'tritonload[embedded]'"
MIN_GLIBC = (2, 35)


class EmbeddedUnavailableError(RuntimeError):
    """The embedded Triton cannot run here: the extra is missing or the platform is unsupported.

    The message is one line that says what to do about it.
    """


@dataclass(frozen=True)
class ServerDistribution:
    """Paths to the pieces of the wheel's Triton server."""

    tritonserver: Path
    python_backend_dir: Path
    stub: Path
    libs_dir: Path
    version: str


def _glibc_version() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] != "glibc":
        return None
    major, _, minor = parts[1].partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError:
        return None


def check_platform() -> None:
    """Raise :class:`EmbeddedUnavailableError` unless this is Linux x86_64 with glibc >= 2.35."""
    system, machine = platform.system(), platform.machine()
    if system != "Linux" or machine not in ("x86_64", "AMD64"):
        raise EmbeddedUnavailableError(
            f"the embedded Triton runs on Linux x86_64 only (this is {system} {machine}); "
            "point the scenario at a Triton server URL instead"
        )
    glibc = _glibc_version()
    if glibc is None or glibc < MIN_GLIBC:
        found = "unknown" if glibc is None else f"{glibc[0]}.{glibc[1]}"
        raise EmbeddedUnavailableError(
            f"the embedded Triton needs glibc >= {MIN_GLIBC[0]}.{MIN_GLIBC[1]} (found {found}); "
            "point the scenario at a Triton server URL instead"
        )


def locate() -> ServerDistribution:
    """Find the server pieces in the installed ``nvidia-pytriton`` wheel.

    Raises:
        EmbeddedUnavailableError: the extra is not installed, has another version, or lacks a file.
    """
    check_platform()
    try:
        dist = metadata.distribution(PYTRITON_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise EmbeddedUnavailableError(
            f"the embedded Triton server is not installed; install it with: {INSTALL_HINT}"
        ) from None
    if dist.version != PYTRITON_VERSION:
        raise EmbeddedUnavailableError(
            f"the embedded Triton needs {PYTRITON_DISTRIBUTION}=={PYTRITON_VERSION} (found {dist.version}); "
            f"reinstall with: {INSTALL_HINT}"
        )
    root = Path(str(dist.locate_file("pytriton"))) / "tritonserver"
    py_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = ServerDistribution(
        tritonserver=root / "bin" / "tritonserver",
        python_backend_dir=root / "backends" / "python",
        stub=root / "python_backend_stubs" / py_version / "triton_python_backend_stub",
        libs_dir=Path(str(dist.locate_file("nvidia_pytriton.libs"))),
        version=dist.version,
    )
    for path in (found.tritonserver, found.python_backend_dir, found.libs_dir):
        if not path.exists():
            raise EmbeddedUnavailableError(
                f"{PYTRITON_DISTRIBUTION} {dist.version} is missing {path}; reinstall with: {INSTALL_HINT}"
            )
    if not found.stub.exists():
        raise EmbeddedUnavailableError(
            f"{PYTRITON_DISTRIBUTION} {dist.version} ships no Python backend stub for Python {py_version}; "
            "use Python 3.8-3.13"
        )
    return found
