"""What every report shows, read once from a run's summary: the view the renderers share.

Owns the choice of rows (one per traffic entry, then ``overall``), of columns (the run's own
percentiles, the metrics an entry recorded), the mapping of a traffic entry to its model's
server-side statistics, and number formatting. Pure: takes a loaded :class:`~loadtest.recording.rundir.Run`
and SLO results, never reads files itself and never renders a format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.recording.recorder import GAP, LATENCY, RESPONSE_TIME, RESPONSES, TTFR
from loadtest.recording.rundir import DEFAULT_PERCENTILES, Run, percentile_key

OVERALL_NAME = "overall"
"""Row name of all traffic entries merged (where global SLOs are evaluated)."""
METRIC_ORDER: tuple[str, ...] = (LATENCY, RESPONSE_TIME, TTFR, GAP, RESPONSES)
METRIC_LABELS: dict[str, str] = {
    LATENCY: "latency",
    RESPONSE_TIME: "response time",
    TTFR: "time to first response",
    GAP: "gap between responses",
    RESPONSES: "responses per request",
}
SERVER_PHASES: tuple[str, ...] = ("queue", "compute_input", "compute_infer", "compute_output")
"""Triton statistics phases averaged per request (in µs) for the server-side columns."""


@dataclass(frozen=True)
class ServerTimes:
    """One model's average server-side time per request over the run (µs), from its statistics."""

    label: str
    model: str
    requests: int
    executions: int
    phase_us: dict[str, float | None]
    identity: tuple[Any, ...] = ()
    """Tells two labels of one model on one server apart from two servers (see :func:`server_times`)."""

    @property
    def average_batch(self) -> float | None:
        """Requests per model execution (dynamic batching shows as > 1)."""
        return self.requests / self.executions if self.executions else None


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

    @property
    def percentile_keys(self) -> list[str]:
        """``["p50", "p90", ...]`` in the run's order."""
        return [percentile_key(p) for p in self.percentiles]

    @property
    def rows(self) -> list[EntryView]:
        """Every traffic entry, then ``overall`` when there is more than one entry."""
        return [*self.entries, self.overall] if len(self.entries) > 1 else list(self.entries)

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


def build_view(run: Run, slos: Sequence[Mapping[str, Any]] = ()) -> ReportView:
    """Read the summary of ``run`` into a :class:`ReportView` (``slos``: evaluated SLO dicts)."""
    summary = run.summary
    servers = server_times(run.server_stats)
    models = summary.get("provenance", {}).get("models", {})
    load = summary.get("load") or {}
    entries = [
        _entry(name, block, _server_for(block, servers, models), load)
        for name, block in summary.get("traffic", {}).items()
    ]
    overall = _entry(OVERALL_NAME, summary.get("overall", {}), None, load)
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
        scenario=summary.get("scenario", {}),
        load=load,
        provenance=summary.get("provenance", {}),
        percentiles=tuple(summary.get("percentiles", DEFAULT_PERCENTILES)),
        entries=entries,
        overall=overall,
        slos=[dict(slo) for slo in slos],
        servers=_distinct(servers),
    )


def _request_rate(block: Mapping[str, Any], load: Mapping[str, Any]) -> float | None:
    share, rate = block.get("rate_share"), load.get("rate")
    if isinstance(share, (int, float)) and isinstance(rate, (int, float)):
        return round(float(share) * float(rate), 3)
    return None


def _entry(name: str, block: Mapping[str, Any], server: ServerTimes | None, load: Mapping[str, Any]) -> EntryView:
    known = {
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
    )


def _number(value: Any) -> int:
    """Triton's gRPC statistics carry 64-bit counters as strings; HTTP as numbers."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _model_totals(model: Mapping[str, Any]) -> dict[str, Any] | None:
    stats = (model.get("model_stats") or [None])[0]
    if not isinstance(stats, Mapping):
        return None
    inference = stats.get("inference_stats", {})
    return {
        "name": str(stats.get("name", "")),
        "phases": {
            phase: (_number(inference.get(phase, {}).get("count")), _number(inference.get(phase, {}).get("ns")))
            for phase in SERVER_PHASES
        },
        "inferences": _number(stats.get("inference_count")),
        "executions": _number(stats.get("execution_count")),
        "identity": (
            str(stats.get("name", "")),
            str(stats.get("version", "")),
            _number(stats.get("last_inference")),
            _number(stats.get("inference_count")),
        ),
    }


def server_times(snapshots: Sequence[Mapping[str, Any]]) -> dict[str, ServerTimes]:
    """Per model label: average queue and compute times per request between the first and last snapshot."""
    firsts: dict[str, dict[str, Any]] = {}
    lasts: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        for label, model in (snapshot.get("models") or {}).items():
            totals = _model_totals(model) if isinstance(model, Mapping) else None
            if totals is not None:
                firsts.setdefault(label, totals)
                lasts[label] = totals
    result = {}
    for label, last in lasts.items():
        first = firsts[label]
        phase_us: dict[str, float | None] = {}
        for phase in SERVER_PHASES:
            count = last["phases"][phase][0] - first["phases"][phase][0]
            spent_ns = last["phases"][phase][1] - first["phases"][phase][1]
            phase_us[phase] = spent_ns / count / 1000.0 if count > 0 else None
        result[label] = ServerTimes(
            label=label,
            model=last["name"],
            requests=last["inferences"] - first["inferences"],
            executions=last["executions"] - first["executions"],
            phase_us=phase_us,
            identity=first["identity"],
        )
    return result


def _server_for(
    block: Mapping[str, Any], servers: Mapping[str, ServerTimes], models: Mapping[str, Any]
) -> ServerTimes | None:
    """The statistics of the model an entry sent to, when the run says which one it is."""
    label = block.get("model_label")
    if isinstance(label, str):
        return servers.get(label)
    model = block.get("model")
    url = block.get("server", block.get("url"))
    if isinstance(model, str) and isinstance(url, str):
        return servers.get(f"{model}@{url}")
    if isinstance(model, str):
        matches = [servers[k] for k, m in models.items() if m.get("model") == model and k in servers]
        return matches[0] if matches else None
    return next(iter(servers.values())) if len(servers) == 1 else None


def _distinct(servers: Mapping[str, ServerTimes]) -> list[ServerTimes]:
    """One row per model: a model reached over HTTP and gRPC of one server is listed once.

    Two labels are the same model when their first snapshots agree on name, version, time of the
    last inference and inference count (snapshots of both are taken at the same moment).
    """
    seen: dict[tuple[Any, ...], ServerTimes] = {}
    for times in servers.values():
        seen.setdefault(times.identity, times)
    return list(seen.values())


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
    return f"{value:.1f}/s"


def slo_scope(slo: Mapping[str, Any]) -> str:
    """Where an SLO applies: its traffic entry, or ``overall`` for a global SLO."""
    traffic = slo.get("traffic")
    return str(traffic) if traffic else OVERALL_NAME


def slo_status(slo: Mapping[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``N/A`` (not measured)."""
    passed = slo.get("passed")
    return "N/A" if passed is None else "PASS" if passed else "FAIL"
