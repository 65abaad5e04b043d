"""What every report shows, read once from a run's summary: the view the renderers share.

Owns the choice of rows (one per traffic entry, then the totals: ``overall``, or unary entries and
streams apart when a run has both, since a stream's latency runs to its final response and a
percentile over both kinds describes neither), of columns (the run's own percentiles, the metrics an
entry recorded), the mapping of a traffic entry to its model's server-side statistics, what is known
of a scenario whose run failed early, and number formatting. Pure: takes a loaded
:class:`~loadtest.recording.rundir.Run` and SLO results; reads only through it (the histogram log,
for the kind totals of a run written before ``overall_by_kind`` existed) and never renders a format.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loadtest._yaml_limits import YamlLimitError, load_plain_yaml
from loadtest.recording.recorder import GAP, LATENCY, RESPONSE_TIME, RESPONSES, TTFR
from loadtest.recording.rundir import (
    DEFAULT_PERCENTILES,
    KINDS,
    STREAM,
    UNARY,
    Run,
    RunDirectoryError,
    entry_kind,
    kind_summaries,
    percentile_key,
)
from loadtest.report._server import ServerTimes, distinct, server_for, server_times

OVERALL_NAME = "overall"
"""Row name of all traffic entries merged (where global SLOs are evaluated)."""
KIND_ROW_NAMES: dict[str, str] = {UNARY: "all unary", STREAM: "all streams"}
"""Row names of the per-kind totals (a traffic entry's name cannot hold a space, so they never clash)."""
METRIC_ORDER: tuple[str, ...] = (LATENCY, RESPONSE_TIME, TTFR, GAP, RESPONSES)
METRIC_LABELS: dict[str, str] = {
    LATENCY: "latency",
    RESPONSE_TIME: "response time",
    TTFR: "time to first response",
    GAP: "gap between responses",
    RESPONSES: "responses per request",
}


@dataclass(frozen=True)
class EntryView:
    """One row of the report: a traffic entry, or ``overall``."""

    name: str
    pattern: str
    info: Mapping[str, Any]
    requests: int
    ok: int
    errors: int
    errors_by_kind: Mapping[str, int]
    error_rate: float
    throughput_rps: float
    late_sends: int
    clamped_values: int
    metrics: Mapping[str, Mapping[str, Any]]
    server: ServerTimes | None = None
    request_rate: float | None = None
    """Open loop: the entry's intended arrival rate (requests/s), when the run recorded it."""
    members: tuple[str, ...] = ()
    """For a total row: the traffic entries it adds up."""

    @property
    def kind(self) -> str:
        """``"stream"`` (decoupled) or ``"unary"``."""
        return entry_kind({"pattern": self.pattern, "metrics": self.metrics})

    @property
    def open_loop(self) -> bool:
        """True for an open-loop entry (it has a share of the arrival rate, or recorded response time)."""
        return "rate_share" in self.info or RESPONSE_TIME in self.metrics

    @property
    def streaming(self) -> bool:
        """True when the entry recorded stream metrics (time to first response, gaps)."""
        return TTFR in self.metrics

    @property
    def concurrency(self) -> int | None:
        """Closed loop: the requests this entry kept outstanding (users x in-flight per user)."""
        if self.open_loop:
            return None
        if "concurrency" in self.info:
            return int(self.info["concurrency"])
        if "users" in self.info:
            return int(self.info["users"]) * int(self.info.get("in_flight", 1))
        return None

    @property
    def batch_size(self) -> int:
        """Inferences per request (``infer_batch`` sends several rows in one request)."""
        return int(self.info.get("batch_size", 1))

    def stat(self, metric: str, key: str) -> Any:
        """One statistic of one metric (``None`` when the metric or the value is absent)."""
        return self.metrics.get(metric, {}).get(key)


def health_notes(summary: Mapping[str, Any]) -> list[str]:
    """One line each for a saturated load generator, the server's stalls and requests left unfinished."""
    notes = []
    generator = summary.get("generator")
    if isinstance(generator, Mapping) and generator.get("saturated"):
        notes.append(f"generator: {generator.get('reason') or 'saturated'}")
    stalls = [s for s in summary.get("stalls") or [] if isinstance(s, Mapping)]
    if stalls:
        longest = max(float(s.get("duration_s") or 0) for s in stalls)
        starts = ", ".join(f"{float(s.get('start_s') or 0):.1f} s" for s in stalls[:5])
        more = f" and {len(stalls) - 5} more" if len(stalls) > 5 else ""
        notes.append(
            f"stalls: {len(stalls)} (no response with requests in flight; longest {longest:.1f} s; at {starts}{more})"
        )
    unfinished = summary.get("unfinished")
    if isinstance(unfinished, Mapping) and unfinished:
        parts = [
            f"{name} {entry.get('count')} (oldest {entry.get('max_age_ms')} ms)"
            for name, entry in unfinished.items()
            if isinstance(entry, Mapping)
        ]
        notes.append("unfinished after the grace: " + ", ".join(parts))
    return notes


@dataclass(frozen=True)
class ReportView:
    """Everything the renderers show, in display order."""

    run: Run
    run_id: str
    status: str
    complete: bool
    error: str | None
    started_at: str
    ended_at: str
    duration_s: float
    warmup_requests: int
    scenario: Mapping[str, Any]
    load: Mapping[str, Any]
    provenance: Mapping[str, Any]
    percentiles: tuple[float, ...]
    entries: list[EntryView]
    overall: EntryView
    slos: list[dict[str, Any]] = field(default_factory=list)
    servers: list[ServerTimes] = field(default_factory=list)
    kinds: dict[str, EntryView] = field(default_factory=dict)
    """Totals of unary entries and of streams (``"unary"``, ``"stream"``), for the kinds present."""
    files_href: str = ""
    """URL path from where the report is written to the run directory ("" when it is written there)."""

    @property
    def health_notes(self) -> list[str]:
        """What limits how far the numbers can be trusted: a saturated generator, stalls, unfinished requests."""
        return health_notes(self.run.summary)

    @property
    def percentile_keys(self) -> list[str]:
        """``["p50", "p90", ...]`` in the run's order."""
        return [percentile_key(p) for p in self.percentiles]

    @property
    def mixed_kinds(self) -> bool:
        """True when the run has unary entries and streams (their latencies are never merged)."""
        return len({entry.kind for entry in self.entries}) > 1

    @property
    def total_rows(self) -> list[EntryView]:
        """Rows that add up several entries' latencies: each kind apart when the kinds are mixed
        (a kind with one entry would repeat it), else ``overall`` when there is more than one entry."""
        if self.mixed_kinds:
            return [self.kinds[kind] for kind in KINDS if kind in self.kinds and len(self.kinds[kind].members) > 1]
        return [self.overall] if len(self.entries) > 1 else []

    @property
    def rows(self) -> list[EntryView]:
        """Rows of the counts table: every entry, the totals, and ``overall`` (all requests) after them."""
        totals = self.total_rows
        if self.mixed_kinds:
            return [*self.entries, *totals, self.overall]
        return [*self.entries, *totals]

    def metric_rows(self, metric: str) -> list[EntryView]:
        """Rows of one metric's table: the entries that recorded it, then the totals that did."""
        return [row for row in (*self.entries, *self.total_rows) if metric in row.metrics]

    @property
    def no_traffic_note(self) -> str | None:
        """Why the run has no traffic to show (it stopped before any started), or None."""
        if self.entries:
            return None
        return f"No traffic was measured: the run {self.status} before any started."

    @property
    def headline(self) -> list[tuple[str, EntryView]]:
        """The rows the page headline quotes latency from, with a label: one per kind when mixed."""
        if self.mixed_kinds:
            labels = {UNARY: "unary", STREAM: "streams"}
            return [(labels[kind], self.kinds[kind]) for kind in KINDS if kind in self.kinds]
        return [("", self.overall)]

    @property
    def metrics(self) -> list[str]:
        """Metrics recorded by at least one entry, in :data:`METRIC_ORDER`."""
        present = {metric for entry in self.entries for metric in entry.metrics}
        return [metric for metric in METRIC_ORDER if metric in present]

    @property
    def slos_breached(self) -> int:
        """How many SLOs failed."""
        return sum(1 for slo in self.slos if slo.get("passed") is False)

    @property
    def slos_unmeasured(self) -> int:
        """How many SLOs could not be evaluated (no data)."""
        return sum(1 for slo in self.slos if slo.get("passed") is None)

    @property
    def verdict(self) -> str:
        """``"passed"``, ``"breached"``, ``"incomplete"`` or ``"no slos"``."""
        if self.slos_breached:
            return "breached"
        if not self.complete:
            return "incomplete"
        return "passed" if self.slos else "no slos"


def build_view(
    run: Run, slos: Sequence[Mapping[str, Any]] = (), *, report_dir: str | os.PathLike[str] | None = None
) -> ReportView:
    """Read the summary of ``run`` into a :class:`ReportView` (``slos``: evaluated SLO dicts).

    ``report_dir`` is where the reports will be written (default: the run directory), so links to
    the run's files resolve from there.
    """
    summary = run.summary
    servers = server_times(run.server_stats)
    models = summary.get("provenance", {}).get("models", {})
    load = summary.get("load") or {}
    entries = [
        _entry(name, block, server_for(block, servers, models), load)
        for name, block in summary.get("traffic", {}).items()
    ]
    overall = _entry(OVERALL_NAME, summary.get("overall", {}), None, load)
    kinds = {
        kind: _entry(KIND_ROW_NAMES[kind], block, None, load, members=tuple(block.get("entries") or ()))
        for kind, block in _kind_blocks(run).items()
        if kind in KIND_ROW_NAMES
    }
    return ReportView(
        run=run,
        run_id=str(summary.get("run_id", run.path.name)),
        status=str(summary.get("status", "unknown")),
        complete=bool(summary.get("complete", False)),
        error=summary.get("error"),
        started_at=str(summary.get("started_at", "")),
        ended_at=str(summary.get("ended_at", "")),
        duration_s=float(summary.get("duration_s", 0.0)),
        warmup_requests=int(summary.get("warmup_requests", 0)),
        scenario=summary.get("scenario") or scenario_meta(run.scenario_yaml),
        load=load,
        provenance=summary.get("provenance", {}),
        percentiles=tuple(summary.get("percentiles", DEFAULT_PERCENTILES)),
        entries=entries,
        overall=overall,
        slos=[dict(slo) for slo in slos],
        servers=distinct(servers),
        kinds=kinds,
        files_href=_files_href(run, report_dir),
    )


def _files_href(run: Run, report_dir: str | os.PathLike[str] | None) -> str:
    if report_dir is None:
        return ""
    relative = os.path.relpath(os.path.abspath(run.path), os.path.abspath(report_dir))
    return "" if relative == "." else urllib.parse.quote(Path(relative).as_posix()) + "/"


def _kind_blocks(run: Run) -> dict[str, dict[str, Any]]:
    """``overall_by_kind`` of the summary; for a run written before it existed, computed from the
    histogram log (counts only, when the log cannot be read)."""
    summary = run.summary
    stored = summary.get("overall_by_kind")
    if isinstance(stored, dict):
        return stored
    traffic = summary.get("traffic") or {}
    try:
        histograms = run.histograms() if len({entry_kind(b) for b in traffic.values()}) > 1 else {}
    except RunDirectoryError:
        histograms = {}
    return kind_summaries(
        traffic,
        histograms,
        highest_us=run.highest_us,
        duration_s=float(summary.get("duration_s", 0.0)),
        percentiles=tuple(summary.get("percentiles", DEFAULT_PERCENTILES)),
    )


def scenario_meta(scenario_yaml: str) -> dict[str, Any]:
    """Name, hash and seed of a run's resolved ``scenario.yaml``, for a run that failed before it
    recorded them in its summary (the hash is computed as ``Scenario.scenario_hash`` computes it)."""
    try:
        data = load_plain_yaml(scenario_yaml) if scenario_yaml.strip() else None
    except (yaml.YAMLError, YamlLimitError):
        return {}
    if not isinstance(data, dict):
        return {}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    meta = {"hash": hashlib.sha256(canonical.encode("utf-8")).hexdigest()}
    meta.update({key: data[key] for key in ("name", "seed") if key in data})
    return meta


def _request_rate(block: Mapping[str, Any], load: Mapping[str, Any]) -> float | None:
    share, rate = block.get("rate_share"), load.get("rate")
    if isinstance(share, (int, float)) and isinstance(rate, (int, float)):
        return round(float(share) * float(rate), 3)
    return None


def _entry(
    name: str,
    block: Mapping[str, Any],
    server: ServerTimes | None,
    load: Mapping[str, Any],
    members: tuple[str, ...] = (),
) -> EntryView:
    known = {
        "entries",
        "requests",
        "ok",
        "errors",
        "errors_by_kind",
        "error_rate",
        "throughput_rps",
        "late_sends",
        "clamped_values",
        "metrics",
    }
    metrics = block.get("metrics", {})
    return EntryView(
        name=name,
        pattern=str(block.get("pattern", "")),
        info={k: v for k, v in block.items() if k not in known},
        requests=int(block.get("requests", 0)),
        ok=int(block.get("ok", 0)),
        errors=int(block.get("errors", 0)),
        errors_by_kind=dict(block.get("errors_by_kind", {})),
        error_rate=float(block.get("error_rate", 0.0)),
        throughput_rps=float(block.get("throughput_rps", 0.0)),
        late_sends=int(block.get("late_sends", 0)),
        clamped_values=int(block.get("clamped_values", 0)),
        metrics={m: metrics[m] for m in METRIC_ORDER if m in metrics},
        server=server,
        request_rate=_request_rate(block, load),
        members=members,
    )


def fmt_ms(value_us: float | None, digits: int = 3) -> str:
    """Microseconds as milliseconds with ``digits`` significant figures, at most µs resolution."""
    if value_us is None:
        return "-"
    ms = value_us / 1000.0
    if ms == 0:
        return "0"
    decimals = min(max(digits - 1 - math.floor(math.log10(abs(ms))), 0), 3)
    return f"{ms:.{decimals}f}"


def fmt_rate(rate: float) -> str:
    """Requests per second with one decimal."""
    return f"{rate:.1f}"


def fmt_percent(fraction: float | None, decimals: int = 2) -> str:
    """A fraction as a percentage (``-`` when absent)."""
    return "-" if fraction is None else f"{fraction * 100:.{decimals}f}%"


def fmt_measured(unit: str, value: float | None) -> str:
    """An SLO's measured value or threshold in its canonical unit, for people."""
    if value is None:
        return "not measured"
    if unit == "us":
        return f"{fmt_ms(value)} ms"
    if unit == "fraction":
        return fmt_percent(value, 3)
    if unit == "flag":
        return "true" if value else "false"
    return f"{value:.1f}/s"


def slo_scope(slo: Mapping[str, Any]) -> str:
    """Where an SLO applies: its traffic entry, or ``overall`` for a global SLO."""
    traffic = slo.get("traffic")
    return str(traffic) if traffic else OVERALL_NAME


def slo_status(slo: Mapping[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``N/A`` (not measured)."""
    passed = slo.get("passed")
    return "N/A" if passed is None else "PASS" if passed else "FAIL"
