"""Writing the run directory's files so that a full disk never leaves one half-written.

Owns three small tools for ``rundir``: :class:`AppendFile` (a log written in whole records: a record
that does not fit is cut off again, so the file always ends with a complete line), :func:`write_atomic`
(a file replaced in one step, its temporary file removed when the write fails) and :class:`SpaceReserve`
(a few blocks held back from the start of a run and given up only to write the final summary when the
disk is full). Raises ``OSError`` as the system gives it; never decides what a failure means for a run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_write = os.write
"""Every byte these tools write goes through here (a seam: unit tests make it fail like a full disk)."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[_write(fd, view) :]


def _create(path: Path, data: bytes) -> None:
    """A new file holding ``data``; on failure no file is left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)


class AppendFile:
    """A file opened for appending whole records, unbuffered: each :meth:`write` lands entirely or not at all.

    Implements the ``write``/``flush`` pair a text writer needs (``hlog.IntervalLogWriter`` writes through it).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._size = 0

    def write(self, text: str) -> int:
        """Append ``text`` (UTF-8) as one record; on failure the file is cut back to its previous end.

        Raises:
            OSError: the write failed (``ENOSPC`` for a full disk); the file is as before the call.
        """
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        data = text.encode("utf-8")
        try:
            _write_all(self._fd, data)
        except OSError:
            self.cut_back(self._size)
            raise
        self._size += len(data)
        return len(text)

    @property
    def size(self) -> int:
        """Bytes written so far (whole records only)."""
        return self._size

    def cut_back(self, size: int) -> None:
        """Forget everything after the first ``size`` bytes (a record that must go with another's failure)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # cutting a file back needs no space
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
            self._size = size

    def flush(self) -> None:
        """Nothing to do: every write went straight to the file."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._fd is None

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one, never a part.

    Raises:
        OSError: the write failed; ``path`` is unchanged and no temporary file is left.
    """
    tmp = path.with_name(path.name + ".tmp")
    _create(tmp, text.encode("utf-8"))
    try:
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class SpaceReserve:
    """``size_bytes`` of real blocks held in a file, freed by :meth:`release` (or :meth:`close`)."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        _create(path, b"\0" * size_bytes)  # written, not just sized: a sparse file would hold no blocks
        self.held = True

    def release(self) -> None:
        """Give the space back; safe to call twice."""
        if self.held:
            self.held = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    close = release


__all__ = ["AppendFile", "SpaceReserve", "write_atomic"]
