"""One sweep step measured from the run's intervals: warm-up, windows, stability, SLOs, verdict.

Owns turning the engine's interval snapshots (``recording.recorder.Interval``) into a step of
``sweep.json``: the warm-up intervals are skipped, the rest are grouped into windows of ``window_s``
until the stability rule holds (or ``max_windows`` pass, or the SLO is clearly breached), and the
step's numbers come from its last ``windows`` windows (the stable stretch). The SLOs are judged on
those numbers with ``loadtest.slo.verdicts``. Pure: times come from the intervals; never talks to the
engine, a server or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest.capacity.stability import StabilityRule, Window, is_stable
from loadtest.engine.generator import sends_of
from loadtest.engine.rules import LateSends, generator_verdict, server_kept_up
from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.recorder import LATENCY, TTFR, Interval, TagKey, TrafficCounters, merge_into
from loadtest.recording.rundir import merge_traffic, traffic_summary
from loadtest.slo import Slo
from loadtest.slo.verdicts import evaluate_slos

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
CLEAR_BREACH_FACTOR = 2.0
"""A latency SLO is clearly breached when the measured value is this many times its bound."""


@dataclass
class StepSettings:
    """What every step of one sweep shares."""

    rule: StabilityRule
    warmup_s: float
    slos: Sequence[Slo] = ()
    open_loop: bool = False
    early_stop: bool = True
    min_achieved_pct: float = 90.0
    """Open loop: a step that achieves less than this % of the offered rate is server-saturated (fails)."""
    highest_us: int = 3_600_000_000
    max_in_flight: int | None = None
    """Open loop: the cap on requests in flight (the workers)."""
    drain_limit_s: float = 30.0
    """Longest a warm-up waits for the backlog of the step before to drain."""
    scout: bool = False
    """A capacity search's bracketing step: it ends after its first window when that window meets every SLO
    (the offered rate achieved, the generator not saturated), because it only has to say "higher"; it is
    then not measured to stability. Otherwise it is measured as any step. A level passed this way is never
    the answer unmeasured: the answer is confirmed by a step measured to stability."""


@dataclass
class StepMeter:
    """Collects one step's intervals; :attr:`done` says when the step is over."""

    index: int
    level: float
    settings: StepSettings
    start_ns: int
    windows: list[Window] = field(default_factory=list)
    window_intervals: list[list[tuple[Interval, Mapping[str, Any]]]] = field(default_factory=list)
    _pending: list[tuple[Interval, Mapping[str, Any]]] = field(default_factory=list)
    measure_start_ns: int | None = None
    end_ns: int | None = None
    done: bool = False
    breached_early: bool = False
    scouted: bool = False
    """A scout step that ended on its first window, which met every SLO."""
    _last_in_flight: int | None = None

    @property
    def tag(self) -> str:
        """The step's name in files: ``step-<index>``."""
        return f"step-{self.index}"

    def add(self, interval: Interval, extra: Mapping[str, Any]) -> str:
        """Take the next interval; returns its phase in this step (``warmup`` or ``measure``)."""
        if self.measure_start_ns is None and (self.in_warmup(interval) or self._draining(interval, extra)):
            self._last_in_flight = int(extra.get("in_flight") or 0)
            return "warmup"
        if self.measure_start_ns is None:
            self.measure_start_ns = interval.start_ns
        self._pending.append((interval, extra))
        length_ns = self._pending[-1][0].end_ns - self._pending[0][0].start_ns
        interval_ns = interval.end_ns - interval.start_ns
        if length_ns >= round(self.settings.rule.window_s * 1e9) - interval_ns // 2:
            self._close_window()
        return "measure"

    def in_warmup(self, interval: Interval) -> bool:
        """Whether ``interval`` belongs to the warm-up (most of it lies before the warm-up's end)."""
        warmup_end_ns = self.start_ns + round(self.settings.warmup_s * 1e9)
        return (interval.start_ns + interval.end_ns) // 2 < warmup_end_ns

    def _draining(self, interval: Interval, extra: Mapping[str, Any]) -> bool:
        """Open loop: the backlog of an overloaded step before is still draining (requests in flight above a
        quarter of the cap and falling); the warm-up waits for it, up to ``drain_limit_s``."""
        cap = self.settings.max_in_flight
        if not cap or interval.end_ns - self.start_ns > self.settings.drain_limit_s * 1e9:
            return False
        in_flight = int(extra.get("in_flight") or 0)
        return in_flight > cap / 4 and (self._last_in_flight is None or in_flight < self._last_in_flight)

    def _close_window(self) -> None:
        parts, self._pending = self._pending, []
        self.window_intervals.append(parts)
        self.windows.append(window_of([interval for interval, _ in parts]))
        rule = self.settings.rule
        self.end_ns = parts[-1][0].end_ns
        if is_stable(self.windows, rule) or len(self.windows) >= rule.max_windows:
            self.done = True
        elif self.settings.scout and len(self.windows) == 1 and self._scout_passes(parts):
            self.done = self.scouted = True
        elif self.settings.early_stop and self._clearly_breached_lately():
            self.done = self.breached_early = True

    def _scout_passes(self, parts: Sequence[tuple[Interval, Mapping[str, Any]]]) -> bool:
        """A scout's first window meets every SLO, with the offered rate achieved and the generator not
        saturated: the step may stop there."""
        if not self.settings.slos:
            return False
        summary, histograms = block_summary([interval for interval, _ in parts], self.settings.highest_us)
        overall = summary["overall"]
        achieved = float(overall["throughput_rps"])
        if self.settings.open_loop and not server_kept_up(achieved, self.level, self.settings.min_achieved_pct):
            return False
        if self._generator(parts, overall)["saturated"]:
            return False
        return all(result["passed"] is True for result in evaluate_slos(self.settings.slos, summary, histograms))

    def _clearly_breached_lately(self) -> bool:
        """The last two windows each breach an SLO clearly: the step cannot pass, stop measuring it."""
        if len(self.windows) < 2 or not self.settings.slos:
            return False
        return all(clear_breach(self._slo_results(parts)) is not None for parts in self.window_intervals[-2:])

    # -- the step's numbers ------------------------------------------------------------------------
    def measured(self) -> list[tuple[Interval, Mapping[str, Any]]]:
        """The intervals the step's numbers come from: its last ``windows`` windows (all, when fewer)."""
        chosen = self.window_intervals[-self.settings.rule.windows :]
        return [item for parts in chosen for item in parts]

    def _slo_results(self, items: Sequence[tuple[Interval, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        summary, histograms = block_summary([i for i, _ in items], self.settings.highest_us)
        return evaluate_slos(self.settings.slos, summary, histograms)

    def result(self, note: str | None = None) -> dict[str, Any]:
        """The step as ``sweep.json`` lists it (without the server section, which the driver adds)."""
        items = self.measured()
        intervals = [interval for interval, _ in items]
        summary, histograms = block_summary(intervals, self.settings.highest_us)
        overall = summary["overall"]
        slo_results = evaluate_slos(self.settings.slos, summary, histograms) if self.settings.slos else []
        generator = self._generator(items, overall)
        stable = is_stable(self.windows, self.settings.rule)
        notes = [note] if note else []
        achieved = float(overall["throughput_rps"])
        server_saturated = False
        if self.settings.open_loop and intervals:
            server_saturated = achieved < self.level * self.settings.min_achieved_pct / 100.0
            if server_saturated:
                notes.append(f"server saturated: achieved {achieved:.1f} of {self.level:g} req/s offered")
        if self.breached_early:
            notes.append(f"stopped early: an SLO was clearly breached ({clear_breach(slo_results)})")
        every_window = bool(intervals) and self._every_window_passes()
        passed = self._passed(
            stable or every_window or self.scouted,
            server_saturated,
            generator["saturated"],
            slo_results,
            bool(intervals),
        )
        if generator["saturated"]:
            notes.append("generator saturated: not a capacity measurement")
        elif self.scouted:
            notes.append("scout: its first window met every SLO; not measured to stability")
        elif not stable and intervals and not self.breached_early:
            also = "; every window met the SLOs on its own" if every_window and self.settings.slos else ""
            notes.append(f"not stable after {len(self.windows)} windows{also}")
        latency = (overall.get("metrics") or {}).get(LATENCY) or {}
        ttfr = (overall.get("metrics") or {}).get(TTFR)
        return {
            "index": self.index,
            "level": self.level,
            "tag": self.tag,
            "stable": None if self.scouted else stable,
            "scouted": self.scouted,
            "windows": [w.to_dict() for w in self.windows],
            "throughput_rps": round(achieved, 3),
            "requests": overall["requests"],
            "errors": overall["errors"],
            "error_rate": round(float(overall["error_rate"]), 6),
            "latency_us": _percentiles(latency),
            "ttfr_us": _percentiles(ttfr) if ttfr else None,
            "slo": slo_results,
            "passed": passed,
            "inconclusive": bool(
                passed is False
                and intervals
                and not (stable or every_window or server_saturated or self.breached_early)
                and slo_results
                and all(result["passed"] is True for result in slo_results)
            ),
            "server_saturated": server_saturated,
            "generator": generator,
            "note": "; ".join(notes) or None,
        }

    def _every_window_passes(self) -> bool:
        """Each of the step's last ``windows`` windows meets every SLO by itself (then the verdict does not
        hang on the noise that kept the step from being stable)."""
        chosen = self.window_intervals[-self.settings.rule.windows :]
        if not self.settings.slos or len(chosen) < self.settings.rule.windows:
            return False
        return all(all(r["passed"] is True for r in self._slo_results(parts)) for parts in chosen)

    def _passed(
        self, stable: bool, server_saturated: bool, generator_saturated: bool, slos: list[dict[str, Any]], data: bool
    ) -> bool | None:
        if generator_saturated:
            return None  # neither pass nor fail: the generator, not the server, was measured
        if not self.settings.slos and not self.settings.open_loop:
            return None
        if not data or server_saturated or self.breached_early:
            return False
        if any(result["passed"] is not True for result in slos):
            return False
        return stable

    def _generator(
        self, items: Sequence[tuple[Interval, Mapping[str, Any]]], overall: Mapping[str, Any]
    ) -> dict[str, Any]:
        wall_s = sum((i.end_ns - i.start_ns) / 1e9 for i, _ in items)
        cpu_s = sum(float(extra.get("cpu_s") or 0.0) for _, extra in items)
        lags = sorted(float(e["loop_lag_p99_us"]) for _, e in items if e.get("loop_lag_p99_us") is not None)
        # The step's p99 lag, from its intervals' p99s (about 20 samples each): near the second-largest.
        lag = lags[-2] if len(lags) >= 2 else (lags[-1] if lags else None)
        cpu_util = cpu_s / wall_s if wall_s > 0 else 0.0
        share = None
        if self.settings.open_loop:
            # The engine's rule (rules.LateSends): sends of intervals that hit the in-flight cap waited for
            # the server, and a step whose server fell behind the offered rate blames none on the generator.
            late = LateSends()
            for interval, extra in items:
                workers = int(extra.get("users") or self.settings.max_in_flight or 0)
                late.add(*sends_of(interval.counters.values()), int(extra.get("in_flight") or 0), workers)
            achieved = float(overall.get("throughput_rps") or 0.0)
            share = late.share(server_kept_up=server_kept_up(achieved, self.level, self.settings.min_achieved_pct))
        verdict = generator_verdict(cpu_util, lag, share)
        return {
            "saturated": verdict.saturated,
            "reason": verdict.reason,
            "cpu_util": round(cpu_util, 3),
            "loop_lag_p99_us": None if lag is None else int(lag),
            "late_share": None if share is None else round(share, 5),
        }


def window_of(intervals: Sequence[Interval]) -> Window:
    """One window's throughput (successes per second) and p99 latency (all traffic merged)."""
    duration_s = sum((i.end_ns - i.start_ns) / 1e9 for i in intervals)
    ok = sum(c.ok for i in intervals for c in i.counters.values())
    errors = sum(c.error_count for i in intervals for c in i.counters.values())
    latency = [h for i in intervals for (_, metric), h in i.histograms.items() if metric == LATENCY]
    p99 = None
    if latency and sum(h.get_total_count() for h in latency):
        merged = merge_traffic({(str(n), LATENCY): h for n, h in enumerate(latency)}, 1 << 40)[LATENCY]
        p99 = float(value_at_percentiles(merged, (99.0,))[0])
    throughput = ok / duration_s if duration_s > 0 else 0.0
    return Window(throughput, p99, requests=ok + errors, errors=errors, duration_s=duration_s)


def block_summary(intervals: Sequence[Interval], highest_us: int) -> tuple[dict[str, Any], dict[TagKey, HdrHistogram]]:
    """A summary.json-shaped block (``overall`` and ``traffic``) of some intervals, and their histograms."""
    histograms: dict[TagKey, HdrHistogram] = {}
    counters: dict[str, TrafficCounters] = {}
    for interval in intervals:
        merge_into(histograms, interval.histograms, highest_us)
        for name, counter in interval.counters.items():
            counters.setdefault(name, TrafficCounters()).add(counter)
    duration_s = sum((i.end_ns - i.start_ns) / 1e9 for i in intervals)
    by_traffic: dict[str, dict[str, HdrHistogram]] = {}
    for (name, metric), histogram in histograms.items():
        by_traffic.setdefault(name, {})[metric] = histogram
    overall_counters = TrafficCounters()
    for counter in counters.values():
        overall_counters.add(counter)
    summary = {
        "highest_trackable_us": highest_us,
        "overall": traffic_summary(overall_counters, merge_traffic(histograms, highest_us), duration_s, PERCENTILES),
        "traffic": {
            name: traffic_summary(counter, by_traffic.get(name, {}), duration_s, PERCENTILES)
            for name, counter in counters.items()
        },
    }
    return summary, histograms


def _percentiles(stats: Mapping[str, Any] | None) -> dict[str, Any]:
    stats = stats or {}
    keys = {"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p999": "p99.9", "max": "max"}
    return {name: stats.get(key) for name, key in keys.items()}


def clear_breach(results: Sequence[Mapping[str, Any]]) -> str | None:
    """The first SLO clearly breached (a latency twice its bound, an error rate twice its bound plus one
    point, a throughput under half its bound), as text; None when none is."""
    for result in results:
        measured, threshold = result.get("measured"), float(result.get("threshold") or 0.0)
        if result.get("passed") is not False or measured is None:
            continue
        metric, op = result.get("metric"), result.get("comparator")
        if metric == "error_rate":
            clear = measured > max(CLEAR_BREACH_FACTOR * threshold, threshold + 0.01)
        elif op in ("<", "<="):
            clear = measured > CLEAR_BREACH_FACTOR * threshold
        else:
            clear = measured < threshold / CLEAR_BREACH_FACTOR
        if clear:
            return f"{result.get('slo')}: measured {result.get('measured_text') or measured}"
    return None


__all__ = [
    "PERCENTILES",
    "StepMeter",
    "StepSettings",
    "block_summary",
    "clear_breach",
    "window_of",
]
