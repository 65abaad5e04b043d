"""When a sweep step's measurement is stable: perf_analyzer's rule over consecutive windows.

Owns the pure rule and its settings. A step is measured in consecutive windows of ``window_s``; it is
stable once the last ``windows`` windows each have a throughput and a p99 latency within
``± tolerance_pct`` % of those windows' mean (perf_analyzer's check: every recent measurement close to
the recent average, for both throughput and latency). A step that is not stable after ``max_windows``
windows is marked unstable. Never reads a clock, never touches the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Window:
    """One measurement window of a step: achieved throughput and p99 latency (None without a response)."""

    throughput_rps: float
    p99_us: float | None
    requests: int = 0
    errors: int = 0
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``sweep.json`` steps' ``windows``)."""
        data = asdict(self)
        data["throughput_rps"] = round(self.throughput_rps, 3)
        data["duration_s"] = round(self.duration_s, 3)
        return data


@dataclass(frozen=True)
class StabilityRule:
    """How a step is measured until stable; the defaults are perf_analyzer's (10 %, 3 windows, 10 at most)."""

    tolerance_pct: float = 10.0
    window_s: float = 5.0
    windows: int = 3
    max_windows: int = 10

    def problems(self) -> list[tuple[str, str]]:
        """``(option, message)`` for every setting out of range (empty when all are fine)."""
        found = []
        if not 0 < self.tolerance_pct < 100:
            found.append(("stability_pct", f"must be between 0 and 100 (exclusive), not {self.tolerance_pct:g}"))
        if not self.window_s > 0:
            found.append(("window_s", f"must be positive, not {self.window_s:g}"))
        if self.windows < 1:
            found.append(("windows", f"must be at least 1, not {self.windows}"))
        if self.max_windows < self.windows:
            found.append(("max_windows", f"must be at least windows ({self.windows}), not {self.max_windows}"))
        return found

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``sweep.json["stability"]``)."""
        return asdict(self)


def _within(values: Sequence[float], tolerance_pct: float) -> bool:
    mean = sum(values) / len(values)
    if mean == 0:
        return all(v == 0 for v in values)
    return all(abs(v - mean) <= abs(mean) * tolerance_pct / 100.0 for v in values)


def is_stable(windows: Sequence[Window], rule: StabilityRule) -> bool:
    """Whether the last ``rule.windows`` windows agree within the tolerance on throughput and p99.

    A window without a response (no p99) or without throughput is never stable: a stalled server is
    not a steady state.
    """
    if len(windows) < rule.windows:
        return False
    recent = windows[-rule.windows :]
    if any(w.p99_us is None or w.throughput_rps <= 0 for w in recent):
        return False
    p99s = [float(w.p99_us) for w in recent if w.p99_us is not None]
    return _within([w.throughput_rps for w in recent], rule.tolerance_pct) and _within(p99s, rule.tolerance_pct)


def step_done(windows: Sequence[Window], rule: StabilityRule) -> bool:
    """Whether a step ends now: stable, or out of windows."""
    return is_stable(windows, rule) or len(windows) >= rule.max_windows


__all__ = ["StabilityRule", "Window", "is_stable", "step_done"]
