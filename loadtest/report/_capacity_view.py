"""What every capacity report shows, read once from a sweep or capacity result: the view its renderers share.

Owns the rows (one per step, in level order, with the step's server-side attribution from
:mod:`loadtest.capacity.attribution`), the answer's sentences (the level, its uncertainty, the knee,
the instances needed, what saturated first) and the latency SLOs drawn on the curve. Pure: takes a
result already read and checked (:func:`loadtest.report._capacity_read.load_result`); never renders a
format and never talks to a server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.capacity.attribution import (
    NONE,
    Saturation,
    StepServer,
    first_saturation,
    main_server,
    ordered_steps,
    step_saturations,
)
from loadtest.report._view import fmt_ms
from loadtest.slo import TIME_METRICS, SloError, parse_slo

PERCENTILE_KEYS: tuple[str, ...] = ("p50", "p90", "p95", "p99", "p999", "max")
"""The latency statistics a step records (``latency_us``)."""


@dataclass(frozen=True)
class StepRow:
    """One step of the sweep or search."""

    index: int
    level: float
    throughput_rps: float | None
    requests: int
    errors: int
    error_rate: float | None
    latency_us: Mapping[str, float | None]
    stable: bool | None
    windows: int
    scouted: bool
    """A capacity search's bracketing step that ended on one window clearly within every SLO."""
    passed: bool | None
    """Every SLO met (None: the step was not judged, e.g. a sweep without SLOs)."""
    failed_slos: tuple[str, ...]
    generator_saturated: bool
    generator_reason: str | None
    server: StepServer | None
    saturation: tuple[str, str] | None
    """(resource, reason) when this step shows a saturated resource."""
    note: str | None
    is_answer: bool
    """The step measured the answer's level."""

    @property
    def generator_text(self) -> str:
        """Why the generator counts as saturated (its own words when it gave a reason)."""
        return self.generator_reason or "the load generator saturated"

    @property
    def verdict(self) -> str:
        """``pass``, ``FAIL`` or ``-`` (not judged); a saturated generator makes the step no measurement."""
        if self.generator_saturated:
            return "invalid"
        return "-" if self.passed is None else "pass" if self.passed else "FAIL"

    @property
    def stable_text(self) -> str:
        """``yes (3)``, ``NO (10)``, ``scout (1)`` (the windows measured) or ``-``."""
        if self.scouted:
            return f"scout ({self.windows})"
        if self.stable is None:
            return "-"
        return f"{'yes' if self.stable else 'NO'} ({self.windows})"

    def phase_ms(self, phase: str) -> str:
        """A server phase's mean time per request, in ms (``-`` without statistics)."""
        return fmt_ms(self.server.phase_us.get(phase) if self.server else None)


@dataclass(frozen=True)
class LatencySlo:
    """A latency SLO drawn as a line on the latency-throughput curve."""

    text: str
    statistic: str
    threshold_us: float


@dataclass(frozen=True)
class CapacityView:
    """One sweep or capacity run as its reports show it."""

    path: Path
    kind: str
    """``sweep`` or ``capacity``."""
    run_id: str
    scenario: str
    variable: str
    """``concurrency`` or ``rate``."""
    unit: str
    stability: Mapping[str, Any]
    slos: tuple[str, ...]
    steps: tuple[StepRow, ...]
    """In level order (then run order: a confirming run after the first)."""
    answer: Mapping[str, Any]
    saturation: Saturation
    latency_slos: tuple[LatencySlo, ...]
    status: str = "completed"
    """``completed``, or how the run ended early (``interrupted``, ``failed``)."""
    notes: tuple[str, ...] = ()
    """The run's own notes (``notes`` of the result file)."""

    @property
    def open_loop(self) -> bool:
        """A rate sweep: each level is an offered arrival rate."""
        return self.variable == "rate"

    @property
    def answer_level(self) -> float | None:
        """The highest level that met every SLO (capacity runs)."""
        return _float(self.answer.get("level"))

    @property
    def no_level_passes(self) -> bool:
        """A capacity search whose lowest level already breaks an SLO."""
        if self.kind != "capacity" or self.answer_level is not None:
            return False
        return self.answer.get("lowest_failed") is True or any(s.passed is False for s in self.steps)

    @property
    def server_labels(self) -> list[str]:
        """The ``model@url`` labels whose statistics fill the server columns (the busiest model of each step)."""
        return list(dict.fromkeys(step.server.label for step in self.steps if step.server is not None))

    @property
    def has_gpu(self) -> bool:
        """Any step recorded GPU metrics."""
        return any(step.server is not None and step.server.gpu is not None for step in self.steps)

    @property
    def has_pending(self) -> bool:
        """Any step recorded the pending-request gauge."""
        return any(step.server is not None and step.server.pending_requests is not None for step in self.steps)

    def level_text(self, level: float | None) -> str:
        """A level with its unit (``8 users``, ``181.2 req/s``)."""
        return "-" if level is None else f"{level:g} {self.unit}".strip()

    def answer_lines(self) -> list[str]:
        """The answer in sentences: level, uncertainty, confirmation, knee, instances, what saturated first."""
        lines = []
        if self.status not in ("completed", ""):
            lines.append(f"Run status: {self.status}; the steps below are what it measured so far.")
        if self.kind == "capacity":
            lines.append(self._answer_sentence())
        elif _float(self.answer.get("highest_passing_level")) is not None:
            level = _float(self.answer.get("highest_passing_level"))
            lines.append(f"Highest level meeting every SLO: {self.level_text(level)}.")
        knee = self.knee()
        if knee is not None:
            level, throughput, p99 = knee
            lines.append(
                f"Knee of the latency-throughput curve: {self.level_text(level)}"
                + (f" ({throughput:.1f} req/s, p99 {fmt_ms(p99)} ms)" if throughput is not None else "")
                + "."
            )
        if self.instances_line():
            lines.append(self.instances_line())
        lines.append(self.saturation_line())
        return lines + [f"Note: {note}" for note in self.notes]

    def _answer_sentence(self) -> str:
        level, last_pass = self.answer_level, _float(self.answer.get("last_pass"))
        first_fail = _float(self.answer.get("first_fail"))
        if level is None:
            if self.no_level_passes:
                return f"No answer: even the lowest level measured ({self.level_text(self._lowest())}) breaks an SLO."
            return "No answer: the search ended before any level was judged."
        confirmed = self.answer.get("confirmed")
        text = f"Capacity: {self.level_text(level)} meets every SLO"
        if first_fail is not None:
            text += (
                f"; the capacity lies between {self.level_text(last_pass if last_pass is not None else level)} "
                f"(last passing) and {self.level_text(first_fail)} (first failing)"
            )
        else:
            text += "; no level measured failed, so the capacity is at least this (raise the highest level)"
        if confirmed is True:
            text += "; confirmed by a second run at the answer"
        elif confirmed is False:
            text += "; the confirming run at the answer did NOT pass"
        return text + "."

    def _lowest(self) -> float | None:
        return self.steps[0].level if self.steps else None

    def instances_line(self) -> str:
        """``For R req/s at this SLO with N % headroom: K instances (M now).`` or empty."""
        target, needed = _float(self.answer.get("target_rate")), _float(self.answer.get("instances_needed"))
        if target is None or needed is None:
            return ""
        headroom = _float(self.answer.get("headroom_pct"))
        now = _float(self.answer.get("instances_now"))
        each = _float(self.answer.get("capacity_per_instance_rps"))
        return (
            f"For {target:g} req/s at this SLO"
            + (f" with {headroom:g} % headroom" if headroom is not None else "")
            + f": {needed:g} instance{'s' if needed != 1 else ''}"
            + (
                f" ({now:g} now" + (f", {each:.1f} req/s each" if each is not None else "") + ")"
                if now is not None
                else ""
            )
            + ", if capacity scales with instances."
        )

    def saturation_line(self) -> str:
        """What saturated first, at which level and why."""
        if self.saturation.resource == NONE:
            return f"Saturated first: nothing ({self.saturation.reason})."
        return (
            f"Saturated first: {self.saturation.resource} at {self.level_text(self.saturation.level)}: "
            f"{self.saturation.reason}."
        )

    def knee(self) -> tuple[float | None, float | None, float | None] | None:
        """(level, achieved req/s, p99 µs) of the knee, completed from its step; None without a knee."""
        knee = self.answer.get("knee")
        if not isinstance(knee, Mapping) or not knee:
            return None
        level = _float(knee.get("level"))
        step = next((s for s in self.steps if s.level == level), None)
        throughput = _float(knee.get("throughput_rps"))
        p99 = _float(knee.get("p99_us"))
        if step is not None:
            throughput = step.throughput_rps if throughput is None else throughput
            p99 = step.latency_us.get("p99") if p99 is None else p99
        return level, throughput, p99

    def throughput_at(self, level: float | None) -> float | None:
        """The achieved throughput measured at ``level``, for the curve: of its last passing step there, else of
        its last step that measured the server (a step where the generator saturated never counts); for a rate
        with no such step, the level itself."""
        if level is None:
            return None
        measured = [
            s for s in self.steps if s.level == level and s.throughput_rps is not None and not s.generator_saturated
        ]
        passing = [s for s in measured if s.passed]
        rows = passing or measured
        if rows:
            return rows[-1].throughput_rps
        return level if self.open_loop else None

    def answer_throughput(self) -> float | None:
        """The achieved throughput at the answer's level, for the curve."""
        return self.throughput_at(self.answer_level)


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _latency_slos(texts: Sequence[str]) -> tuple[LatencySlo, ...]:
    found = []
    for text in texts:
        try:
            slo = parse_slo(text)
        except SloError:
            continue
        if slo.metric in TIME_METRICS and slo.statistic and slo.metric in ("latency", "response_time"):
            found.append(LatencySlo(text, slo.statistic, slo.threshold))
    return tuple(found)


def _row(step: Mapping[str, Any], saturation: tuple[str, str] | None, answer_level: float | None) -> StepRow:
    generator = step.get("generator") or {}
    latency = step.get("latency_us") or {}
    level = float(step["level"])
    return StepRow(
        index=int(step.get("index", 0) or 0),
        level=level,
        throughput_rps=_float(step.get("throughput_rps")),
        requests=int(step.get("requests", 0) or 0),
        errors=int(step.get("errors", 0) or 0),
        error_rate=_float(step.get("error_rate")),
        latency_us={key: _float(latency.get(key)) for key in PERCENTILE_KEYS},
        stable=step.get("stable"),
        windows=len(step.get("windows") or []),
        scouted=step.get("scouted") is True,
        passed=step.get("passed"),
        failed_slos=tuple(str(s.get("slo", "")) for s in step.get("slo") or [] if s.get("passed") is False),
        generator_saturated=bool(generator.get("saturated")),
        generator_reason=generator.get("reason") if isinstance(generator.get("reason"), str) else None,
        server=main_server(step),
        saturation=saturation,
        note=step.get("note"),
        is_answer=answer_level is not None and level == answer_level,
    )


def build_capacity_view(path: Path, result: Mapping[str, Any]) -> CapacityView:
    """The view of a checked sweep or capacity result read from ``path``."""
    variable = str(result.get("variable", ""))
    open_loop = variable == "rate"
    steps = [dict(step, index=step.get("index", position)) for position, step in enumerate(result["steps"])]
    answer = result.get("answer") or {}
    answer_level = _float(answer.get("level"))
    saturations = step_saturations(steps, open_loop)
    rows = tuple(_row(step, saturations.get(int(step["index"])), answer_level) for step in ordered_steps(steps))
    slos = tuple(str(slo) for slo in result.get("slos") or [])
    return CapacityView(
        path=path,
        kind=str(result["kind"]),
        run_id=str(result["run_id"]),
        scenario=str(result.get("scenario", "")),
        variable=variable,
        unit=str(result.get("unit", "users" if variable == "concurrency" else "req/s")),
        stability=result.get("stability") or {},
        slos=slos,
        steps=rows,
        answer=answer,
        saturation=first_saturation(steps, open_loop),
        latency_slos=_latency_slos(slos),
        status=str(result.get("status") or "completed"),
        notes=tuple(str(note) for note in result.get("notes") or [] if isinstance(note, str)),
    )
