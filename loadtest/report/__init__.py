"""Reports of a run directory: text, JSON, CSV, Markdown, HTML and JUnit XML.

Every report is rendered from the run directory alone (``summary.json``, ``latency.hlog``,
``intervals.jsonl``, ``server-stats.jsonl``, ``scenario.yaml``), so any old run can be re-rendered
offline. Each renderer is a pure function of a loaded :class:`~loadtest.recording.rundir.Run` and its SLO
results; :func:`write_reports` writes the files. Never talks to a server.

Usage::

    from loadtest.report import write_reports

    paths = write_reports("reports/20250101-120000-quickstart", ("text", "json", "html"))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtest.recording.rundir import Run, load_run, make_output_dir, write_output_text
from loadtest.report._csv import render_csv as _csv
from loadtest.report._html import render_html as _html
from loadtest.report._json import REPORT_VERSION
from loadtest.report._json import render_json as _json
from loadtest.report._junit import render_junit as _junit
from loadtest.report._markdown import md_escape
from loadtest.report._markdown import render_markdown as _markdown
from loadtest.report._text import render_text as _text
from loadtest.report._text import slo_console_line
from loadtest.report._view import ReportView, build_view

FILE_NAMES: dict[str, str] = {
    "text": "report.txt",
    "json": "report.json",
    "csv": "report.csv",
    "markdown": "report.md",
    "html": "report.html",
    "junit": "junit.xml",
}
"""Report format -> file name in the output directory."""
FORMATS: tuple[str, ...] = tuple(FILE_NAMES)
DEFAULT_RUN_FORMATS: tuple[str, ...] = ("text", "json", "html")
"""What ``tritonload run`` writes at the end of a run."""

_RENDERERS: dict[str, Callable[[ReportView], str]] = {
    "text": _text,
    "json": _json,
    "csv": _csv,
    "markdown": _markdown,
    "html": _html,
    "junit": _junit,
}


def slo_results(run: Run) -> list[dict[str, Any]]:
    """The SLO results stored in the run's ``summary.json`` (``slos``)."""
    return [dict(slo) for slo in run.summary.get("slos") or []]


def render_view(view: ReportView, fmt: str) -> str:
    """Render one report format of an already built :class:`ReportView`.

    Raises:
        ValueError: unknown format.
        loadtest.recording.rundir.RunDirectoryError: the run's ``latency.hlog`` is unreadable (HTML).
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    return renderer(view)


def render(run: Run, fmt: str, slos: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Render one report of ``run`` as text.

    Args:
        run: a run directory read by :func:`~loadtest.recording.rundir.load_run`.
        fmt: one of :data:`FORMATS`.
        slos: evaluated SLO results (see :func:`loadtest.slo.verdicts.evaluate_slos`); default: the
            ones stored in the run's summary.

    Raises:
        ValueError: unknown format.
    """
    return render_view(build_view(run, slo_results(run) if slos is None else slos), fmt)


def write_reports(
    run_dir: str | Path,
    formats: Sequence[str] = DEFAULT_RUN_FORMATS,
    *,
    out_dir: str | Path | None = None,
    slos: Sequence[Mapping[str, Any]] | None = None,
) -> list[Path]:
    """Render ``formats`` of the run in ``run_dir`` and write them (file names: :data:`FILE_NAMES`).

    Args:
        run_dir: the run directory.
        formats: report formats, e.g. ``("text", "json", "html")``.
        out_dir: where to write (default: the run directory itself).
        slos: SLO results to show (default: those stored in ``summary.json``).

    Returns:
        The written files, in the order of ``formats``.

    Raises:
        ValueError: unknown format.
        loadtest.recording.rundir.RunDirectoryError: not a readable run directory.
    """
    unknown = [fmt for fmt in formats if fmt not in _RENDERERS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    run = load_run(run_dir)
    target = Path(out_dir) if out_dir is not None else run.path
    view = build_view(run, slo_results(run) if slos is None else slos, report_dir=target)
    make_output_dir(target)
    written = []
    for fmt in dict.fromkeys(formats):
        path = target / FILE_NAMES[fmt]
        write_output_text(path, _RENDERERS[fmt](view))
        written.append(path)
    return written


__all__ = [
    "DEFAULT_RUN_FORMATS",
    "FILE_NAMES",
    "FORMATS",
    "REPORT_VERSION",
    "ReportView",
    "build_view",
    "md_escape",
    "render",
    "render_view",
    "slo_console_line",
    "slo_results",
    "write_reports",
]
