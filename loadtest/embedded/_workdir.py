"""Temporary work directories of embedded servers, and the removal of those a killed process left.

Owns the directory naming (``tritonload-server-*`` in the temporary directory) and the owner file
inside each. A process killed with SIGKILL runs no cleanup, so its directory stays; the next server
started on the machine removes every such directory whose owner process is gone. Never touches a
directory whose owner is alive (another test session, another user) or that has no owner file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

WORK_DIR_PREFIX = "tritonload-server-"
OWNER_FILE = "owner.pid"
"""In a temporary work directory: the pid of the process that made it (stale once that process is gone)."""


def make_work_dir(temp_dir: str | os.PathLike[str] | None = None) -> Path:
    """A new temporary work directory owned by this process."""
    folder = Path(tempfile.mkdtemp(prefix=WORK_DIR_PREFIX, dir=temp_dir))
    (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
    return folder


def sweep_stale_work_dirs(temp_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove temporary work directories whose owner process is gone (it was killed with SIGKILL).

    Only directories with an :data:`OWNER_FILE` naming a process that no longer exists are removed;
    another live process's server (another test session, another user) is left alone.

    Returns:
        The directories removed.
    """
    removed = []
    for folder in Path(temp_dir or tempfile.gettempdir()).glob(f"{WORK_DIR_PREFIX}*"):
        try:
            owner = int((folder / OWNER_FILE).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        if not _process_exists(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
