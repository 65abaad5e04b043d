"""Baseline vs candidate: per traffic entry and metric, did a percentile or the throughput change?

Owns the statistics of ``tritonload compare`` and the comparability rules. Pure apart from
:func:`samples_of` (which reads a loaded run's interval histograms): no printing, no exit codes.

Method (documented in docs/reports.md):

- **Point estimate**: each percentile of the whole-run histogram (the number every report shows),
  and the run's throughput; the change is ``candidate - baseline``.
- **Confidence interval** of the change: a seeded bootstrap. The unit of resampling is a block of
  consecutive recording intervals (at most :attr:`CompareOptions.max_blocks` blocks per run), so
  slow drift and bursts inside a run widen the interval as they should; each resample draws the
  blocks of each run with replacement, merges their histograms and takes the percentile (or the
  throughput: successful requests / measured seconds of the drawn blocks). With fewer than
  :attr:`CompareOptions.min_blocks` blocks in a run, requests are resampled instead (a multinomial
  draw from the whole-run histogram; Poisson counts for the throughput).
- **Tolerance band**: a change is allowed up to ``max(relative x baseline, floor)``; the floor
  (``floor_us`` for times, ``floor_rps`` for throughput) keeps noise in microsecond-scale metrics
  from flagging.
- **Verdict** from the interval against the band (oriented so that positive means worse: a longer
  time, a lower throughput): ``regressed`` when the whole interval lies beyond the band,
  ``improved`` when it lies below minus the band, ``unchanged`` when it lies inside the band,
  ``inconclusive`` when it straddles an edge (or a percentile has too few samples behind it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import nonzero_buckets
from loadtest.recording.recorder import TIME_METRICS
from loadtest.recording.rundir import DEFAULT_PERCENTILES, Run, percentile_key
from loadtest.report._bootstrap import (
    block_matrix,
    blocks_of,
    central_interval,
    percentiles_of,
    resampled_percentiles,
    resampled_rates,
    seeded_rng,
)

REGRESSED = "regressed"
IMPROVED = "improved"
UNCHANGED = "unchanged"
INCONCLUSIVE = "inconclusive"
VERDICTS: tuple[str, ...] = (REGRESSED, IMPROVED, UNCHANGED, INCONCLUSIVE)
THROUGHPUT = "throughput"
COMPARED_METRICS: tuple[str, ...] = ("latency", "response_time", "ttfr", "gap")
"""Time metrics compared (``responses`` is a count of the model's output, not a performance number)."""


class ToleranceError(ValueError):
    """A ``--tolerance`` value that cannot be parsed; the message says what to write."""


@dataclass(frozen=True)
class Tolerance:
    """How much change is allowed before a row can be a regression (or an improvement)."""

    relative: float = 0.05
    """Allowed change as a fraction of the baseline value (0.05 = 5%)."""
    per_statistic: Mapping[str, float] = field(default_factory=dict)
    """Overrides of ``relative`` per statistic (``p99.9``, ``throughput``)."""
    floor_us: float = 100.0
    """Time metrics: a change below this many microseconds is always within tolerance."""
    floor_rps: float = 1.0
    """Throughput: a change below this many requests/s is always within tolerance."""

    def allowed(self, statistic: str, baseline: float) -> float:
        """Half-width of the tolerance band, in the statistic's unit."""
        relative = self.per_statistic.get(statistic, self.relative)
        floor = self.floor_rps if statistic == THROUGHPUT else self.floor_us
        return max(relative * abs(baseline), floor)


def parse_fraction(text: str) -> float:
    """``"5%"`` -> 0.05, ``"0.05"`` -> 0.05 (a bare number must be a fraction below 1)."""
    value = text.strip()
    try:
        if value.endswith("%"):
            number = float(value[:-1]) / 100.0
        else:
            number = float(value)
            if number >= 1:
                raise ToleranceError(f"tolerance {text!r} is ambiguous; write a percentage such as 5%")
    except ValueError as exc:
        if isinstance(exc, ToleranceError):
            raise
        raise ToleranceError(f"tolerance {text!r} is not a percentage such as 5% (or a fraction such as 0.05)") from exc
    if not 0 <= number < 10:
        raise ToleranceError(f"tolerance {text!r} is out of range (0% to 1000%)")
    return number


def parse_tolerances(values: Sequence[str], base: Tolerance | None = None) -> Tolerance:
    """Build a :class:`Tolerance` from ``--tolerance`` values: ``5%`` or ``p99.9=15%`` / ``throughput=3%``.

    Raises:
        ToleranceError: the message names the value to fix.
    """
    tolerance = base or Tolerance()
    relative = tolerance.relative
    per_statistic = dict(tolerance.per_statistic)
    for value in values:
        key, sep, amount = value.partition("=")
        if not sep:
            relative = parse_fraction(value)
            continue
        statistic = key.strip().lower()
        if statistic != THROUGHPUT and not _is_percentile(statistic):
            raise ToleranceError(
                f"tolerance {value!r}: {key!r} is not a statistic; use pNN (e.g. p99) or throughput before '='"
            )
        per_statistic[statistic] = parse_fraction(amount)
    return Tolerance(relative, per_statistic, tolerance.floor_us, tolerance.floor_rps)


def _is_percentile(text: str) -> bool:
    if not text.startswith("p"):
        return False
    try:
        return 0 < float(text[1:]) <= 100
    except ValueError:
        return False


@dataclass(frozen=True)
class CompareOptions:
    """Settings of one comparison."""

    tolerance: Tolerance = field(default_factory=Tolerance)
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0
    min_blocks: int = 5
    """Runs with fewer interval blocks than this are resampled by request instead."""
    max_blocks: int = 50
    """Consecutive intervals are grouped into at most this many blocks per run."""
    percentiles: Sequence[float] | None = None
    """Percentiles to compare; default: those both runs recorded."""


@dataclass
class TrafficSamples:
    """One traffic entry of one run, as the statistics need it."""

    throughput_rps: float
    interval_ok: list[int]
    interval_s: list[float]
    metrics: dict[str, list[HdrHistogram]]
    """Per metric: the interval histograms in time order."""


@dataclass
class RunSamples:
    """Everything :func:`compare_samples` needs from one run."""

    run_id: str
    percentiles: tuple[float, ...]
    traffic: dict[str, TrafficSamples]


@dataclass(frozen=True)
class Row:
    """One compared statistic: point values, the change with its confidence interval, the verdict."""

    traffic: str
    metric: str
    statistic: str
    unit: str
    """``us`` for time metrics, ``/s`` for throughput."""
    baseline: float
    candidate: float
    change: float
    ci_low: float
    ci_high: float
    allowed: float
    verdict: str
    method: str
    """``intervals`` (block bootstrap) or ``requests`` (request-level bootstrap)."""
    note: str = ""

    @property
    def relative_change(self) -> float | None:
        """``change / baseline`` (None when the baseline is 0)."""
        return self.change / self.baseline if self.baseline else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "traffic": self.traffic,
            "metric": self.metric,
            "statistic": self.statistic,
            "unit": self.unit,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "change": self.change,
            "relative_change": self.relative_change,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "allowed": self.allowed,
            "verdict": self.verdict,
            "method": self.method,
            "note": self.note,
        }


def samples_of(run: Run) -> RunSamples:
    """Read a run's interval histograms and interval counters into :class:`RunSamples`."""
    metrics: dict[str, dict[str, list[HdrHistogram]]] = {}
    for interval in run.interval_histograms():
        name, metric = interval.key
        metrics.setdefault(name, {}).setdefault(metric, []).append(interval.histogram)
    traffic: dict[str, TrafficSamples] = {}
    for name in dict.fromkeys([*run.traffic_names, *metrics]):
        ok = [int((r.get("traffic", {}).get(name) or {}).get("ok", 0)) for r in run.intervals]
        lengths = [max(float(r["end_s"]) - float(r["start_s"]), 0.0) for r in run.intervals]
        block = run.summary.get("traffic", {}).get(name, {})
        traffic[name] = TrafficSamples(
            throughput_rps=float(block.get("throughput_rps", 0.0)),
            interval_ok=ok,
            interval_s=lengths,
            metrics=metrics.get(name, {}),
        )
    percentiles = tuple(float(p) for p in run.summary.get("percentiles", DEFAULT_PERCENTILES))
    return RunSamples(str(run.summary.get("run_id", run.path.name)), percentiles, traffic)


def _verdict(change_low: float, change_high: float, allowed: float, worse_sign: float) -> str:
    low, high = sorted((change_low * worse_sign, change_high * worse_sign))
    if low > allowed:
        return REGRESSED
    if high < -allowed:
        return IMPROVED
    if -allowed <= low and high <= allowed:
        return UNCHANGED
    return INCONCLUSIVE


def _compare_metric(
    name: str,
    metric: str,
    base: Sequence[HdrHistogram],
    cand: Sequence[HdrHistogram],
    percentiles: Sequence[float],
    options: CompareOptions,
) -> list[Row]:
    values = [nonzero_buckets(h)[0] for h in (*base, *cand)]
    support = np.unique(np.concatenate(values)) if values else np.empty(0)
    if support.size == 0:
        return []
    base_matrix = block_matrix(base, options.max_blocks, support)
    cand_matrix = block_matrix(cand, options.max_blocks, support)
    base_n, cand_n = int(base_matrix.sum()), int(cand_matrix.sum())
    if base_n == 0 or cand_n == 0:
        return []
    by_block = min(base_matrix.shape[0], cand_matrix.shape[0]) >= options.min_blocks
    base_points = percentiles_of(base_matrix.sum(axis=0, keepdims=True), support, percentiles)[0]
    cand_points = percentiles_of(cand_matrix.sum(axis=0, keepdims=True), support, percentiles)[0]
    base_boot = resampled_percentiles(
        base_matrix, support, percentiles, options.resamples, seeded_rng(options.seed, "b", name, metric), by_block
    )
    cand_boot = resampled_percentiles(
        cand_matrix, support, percentiles, options.resamples, seeded_rng(options.seed, "c", name, metric), by_block
    )
    rows = []
    for column, percentile in enumerate(percentiles):
        statistic = percentile_key(percentile)
        baseline, candidate = float(base_points[column]), float(cand_points[column])
        low, high = central_interval(cand_boot[:, column] - base_boot[:, column], options.confidence)
        allowed = options.tolerance.allowed(statistic, baseline)
        verdict = _verdict(low, high, allowed, 1.0)
        note = ""
        needed = math.ceil(round(100.0 / (100.0 - percentile), 6)) if percentile < 100 else 0
        if needed and min(base_n, cand_n) < needed:
            verdict, note = INCONCLUSIVE, f"{statistic} needs at least {needed} samples per run"
        rows.append(
            Row(
                name,
                metric,
                statistic,
                "us",
                baseline,
                candidate,
                candidate - baseline,
                low,
                high,
                allowed,
                verdict,
                "intervals" if by_block else "requests",
                note,
            )
        )
    return rows


def _resampled_rates(
    samples: TrafficSamples, options: CompareOptions, rng: np.random.Generator, by_block: bool
) -> np.ndarray:
    blocks = blocks_of(len(samples.interval_ok), options.max_blocks)
    ok = np.array([sum(samples.interval_ok[i] for i in b) for b in blocks], dtype=np.float64)
    seconds = np.array([sum(samples.interval_s[i] for i in b) for b in blocks], dtype=np.float64)
    return resampled_rates(ok, seconds, options.resamples, rng, by_block)


def _compare_throughput(name: str, base: TrafficSamples, cand: TrafficSamples, options: CompareOptions) -> Row | None:
    if not base.interval_ok or not cand.interval_ok or sum(base.interval_s) <= 0 or sum(cand.interval_s) <= 0:
        return None
    blocks = min(
        len(blocks_of(len(base.interval_ok), options.max_blocks)),
        len(blocks_of(len(cand.interval_ok), options.max_blocks)),
    )
    by_block = blocks >= options.min_blocks
    base_boot = _resampled_rates(base, options, seeded_rng(options.seed, "b", name, THROUGHPUT), by_block)
    cand_boot = _resampled_rates(cand, options, seeded_rng(options.seed, "c", name, THROUGHPUT), by_block)
    low, high = central_interval(cand_boot - base_boot, options.confidence)
    allowed = options.tolerance.allowed(THROUGHPUT, base.throughput_rps)
    verdict = _verdict(low, high, allowed, -1.0)
    return Row(
        name,
        THROUGHPUT,
        THROUGHPUT,
        "/s",
        base.throughput_rps,
        cand.throughput_rps,
        cand.throughput_rps - base.throughput_rps,
        low,
        high,
        allowed,
        verdict,
        "intervals" if by_block else "requests",
    )


def compare_samples(base: RunSamples, cand: RunSamples, options: CompareOptions | None = None) -> list[Row]:
    """Every compared statistic of every traffic entry present in both runs, in baseline order."""
    options = options or CompareOptions()
    if options.percentiles is not None:
        percentiles = tuple(options.percentiles)
    else:
        percentiles = tuple(p for p in base.percentiles if p in set(cand.percentiles)) or DEFAULT_PERCENTILES
    rows: list[Row] = []
    for name, base_traffic in base.traffic.items():
        cand_traffic = cand.traffic.get(name)
        if cand_traffic is None:
            continue
        for metric in COMPARED_METRICS:
            if metric in base_traffic.metrics and metric in cand_traffic.metrics and metric in TIME_METRICS:
                rows += _compare_metric(
                    name, metric, base_traffic.metrics[metric], cand_traffic.metrics[metric], percentiles, options
                )
        throughput = _compare_throughput(name, base_traffic, cand_traffic, options)
        if throughput is not None:
            rows.append(throughput)
    return rows


def _model_hashes(summary: Mapping[str, Any]) -> dict[str, str]:
    """``model[:version] over scheme`` -> config hash (ports differ between runs, so they are left out)."""
    hashes = {}
    for label, model in (summary.get("provenance", {}).get("models") or {}).items():
        scheme = urlsplit(str(model.get("server", label.partition("@")[2]))).scheme or "?"
        name = str(model.get("model", label.partition("@")[0]))
        version = str(model.get("version") or "")
        hashes[f"{name}{':' + version if version else ''} over {scheme}"] = str(model.get("config_hash", ""))
    return hashes


def _server_versions(summary: Mapping[str, Any]) -> set[str]:
    servers = summary.get("provenance", {}).get("servers") or {}
    return {str(server.get("version", "")) for server in servers.values() if server.get("version")}


def comparability_problems(base: Mapping[str, Any], cand: Mapping[str, Any]) -> list[str]:
    """Why two run summaries cannot be compared (empty when they can): scenario, model config, server."""
    problems = []
    base_hash = (base.get("scenario") or {}).get("hash")
    cand_hash = (cand.get("scenario") or {}).get("hash")
    if base_hash != cand_hash:
        problems.append(f"scenario hash differs: baseline {base_hash}, candidate {cand_hash}")
    base_models, cand_models = _model_hashes(base), _model_hashes(cand)
    for model in sorted(base_models.keys() | cand_models.keys()):
        before, after = base_models.get(model), cand_models.get(model)
        if before is None or after is None:
            where = "baseline" if after is None else "candidate"
            problems.append(f"model {model} is only in the {where}")
        elif before != after:
            problems.append(f"model config of {model} differs: baseline {before}, candidate {after}")
    base_versions, cand_versions = _server_versions(base), _server_versions(cand)
    if base_versions != cand_versions:
        problems.append(
            f"server version differs: baseline {', '.join(sorted(base_versions)) or '?'}, "
            f"candidate {', '.join(sorted(cand_versions)) or '?'}"
        )
    return problems


@dataclass
class Comparison:
    """The result of comparing a candidate run with a baseline."""

    baseline: Mapping[str, Any]
    """Baseline summary."""
    candidate: Mapping[str, Any]
    """Candidate summary."""
    options: CompareOptions
    rows: list[Row]
    problems: list[str]
    """Why the runs are not comparable (empty when they are)."""
    notes: list[str]
    """Traffic entries present in only one run, incomplete runs, ..."""

    @property
    def regressions(self) -> list[Row]:
        """Rows whose verdict is ``regressed``."""
        return [row for row in self.rows if row.verdict == REGRESSED]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "baseline": self.baseline.get("run_id"),
            "candidate": self.candidate.get("run_id"),
            "comparable": not self.problems,
            "problems": self.problems,
            "notes": self.notes,
            "regressed": bool(self.regressions),
            "options": {
                "tolerance": self.options.tolerance.relative,
                "tolerance_per_statistic": dict(self.options.tolerance.per_statistic),
                "floor_us": self.options.tolerance.floor_us,
                "floor_rps": self.options.tolerance.floor_rps,
                "confidence": self.options.confidence,
                "resamples": self.options.resamples,
                "seed": self.options.seed,
            },
            "rows": [row.to_dict() for row in self.rows],
        }


def compare_runs(baseline: Run, candidate: Run, options: CompareOptions | None = None) -> Comparison:
    """Compare two loaded runs (rows are computed even when the runs are not comparable)."""
    options = options or CompareOptions()
    notes = []
    for role, run in (("baseline", baseline), ("candidate", candidate)):
        if not run.summary.get("complete", False):
            notes.append(f"the {role} run is incomplete (status {run.summary.get('status')})")
    only_base = [n for n in baseline.traffic_names if n not in candidate.traffic_names]
    only_cand = [n for n in candidate.traffic_names if n not in baseline.traffic_names]
    if only_base:
        notes.append(f"only in the baseline, not compared: {', '.join(only_base)}")
    if only_cand:
        notes.append(f"only in the candidate, not compared: {', '.join(only_cand)}")
    rows = compare_samples(samples_of(baseline), samples_of(candidate), options)
    return Comparison(
        baseline.summary,
        candidate.summary,
        options,
        rows,
        comparability_problems(baseline.summary, candidate.summary),
        notes,
    )
