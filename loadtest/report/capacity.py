"""Reports of a sweep or capacity run directory: text, Markdown and HTML.

A run directory holding ``capacity.json`` or ``sweep.json`` (written by ``tritonload sweep`` /
``tritonload capacity``) is a capacity run; its reports are rendered from that file alone, so any old
sweep can be re-rendered offline. The HTML page shows the latency-throughput curve (p50 and p99
against achieved rate, the SLO line, the knee, the answer) and a per-step server breakdown.

Usage::

    from loadtest.report.capacity import write_capacity_reports

    paths = write_capacity_reports("reports/20261203-082000-capacity")   # report.md, report.html
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from loadtest.recording.rundir import make_output_dir, write_output_text
from loadtest.report._capacity_html import render_capacity_html
from loadtest.report._capacity_read import RESULT_FILES, load_result, result_file
from loadtest.report._capacity_text import render_capacity_markdown, render_capacity_text
from loadtest.report._capacity_view import CapacityView, build_capacity_view

CAPACITY_FILE_NAMES: dict[str, str] = {"text": "report.txt", "markdown": "report.md", "html": "report.html"}
"""Report format -> file name in the run directory."""
CAPACITY_FORMATS: tuple[str, ...] = tuple(CAPACITY_FILE_NAMES)
DEFAULT_CAPACITY_FORMATS: tuple[str, ...] = ("markdown", "html")
"""What :func:`write_capacity_reports` writes by default."""

_RENDERERS: dict[str, Callable[[CapacityView], str]] = {
    "text": render_capacity_text,
    "markdown": render_capacity_markdown,
    "html": render_capacity_html,
}


def is_capacity_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a ``capacity.json`` or ``sweep.json``."""
    return result_file(run_dir) is not None


def load_capacity_view(run_dir: str | Path) -> CapacityView:
    """The report view of a sweep or capacity run directory.

    Raises:
        loadtest.recording.rundir.RunDirectoryError: no result file, or one that is unreadable or invalid.
    """
    path, result = load_result(run_dir)
    return build_capacity_view(path, result)


def render_capacity(view: CapacityView, fmt: str) -> str:
    """One report format of a capacity run.

    Raises:
        ValueError: a format capacity runs do not render (see :data:`CAPACITY_FORMATS`).
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"a sweep or capacity run renders as {', '.join(CAPACITY_FORMATS)}, not {fmt!r}")
    return renderer(view)


def write_capacity_reports(
    run_dir: str | Path, formats: Sequence[str] = DEFAULT_CAPACITY_FORMATS, *, out_dir: str | Path | None = None
) -> list[Path]:
    """Render ``formats`` of the sweep or capacity run in ``run_dir`` and write them (``report.md``, ``report.html``).

    Call it at the end of a sweep, after ``sweep.json`` / ``capacity.json`` is written.

    Args:
        run_dir: the run directory.
        formats: any of :data:`CAPACITY_FORMATS`; default Markdown and HTML.
        out_dir: where to write (default: the run directory).

    Returns:
        The written files, in the order of ``formats``.

    Raises:
        ValueError: a format capacity runs do not render.
        loadtest.recording.rundir.RunDirectoryError: no valid result file in ``run_dir``.
        OSError: the files cannot be written.
    """
    unknown = [fmt for fmt in formats if fmt not in _RENDERERS]
    if unknown:
        raise ValueError(f"a sweep or capacity run renders as {', '.join(CAPACITY_FORMATS)}, not {unknown[0]!r}")
    view = load_capacity_view(run_dir)
    target = Path(out_dir) if out_dir is not None else Path(run_dir)
    make_output_dir(target)
    written = []
    for fmt in dict.fromkeys(formats):
        path = target / CAPACITY_FILE_NAMES[fmt]
        write_output_text(path, _RENDERERS[fmt](view))
        written.append(path)
    return written


__all__ = [
    "CAPACITY_FILE_NAMES",
    "CAPACITY_FORMATS",
    "DEFAULT_CAPACITY_FORMATS",
    "RESULT_FILES",
    "CapacityView",
    "is_capacity_run",
    "load_capacity_view",
    "render_capacity",
    "write_capacity_reports",
]
