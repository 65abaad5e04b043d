"""Baseline vs candidate across repeated runs: did a percentile, the throughput or the error rate change?

Owns the comparison of two run sets (a run directory is a set of one; ``ab`` gives paired sets),
the tolerances, the default noise floor and the comparability rules. Each statistic is judged by the
spread *between* runs (see :mod:`loadtest.report._judge` for the rule and
:mod:`loadtest.report._runvalues` for where each run's value comes from); the method is documented
in docs/reports.md. Pure apart from reading loaded runs: no printing, no exit codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from loadtest.recording.rundir import DEFAULT_PERCENTILES, Run
from loadtest.recording.runset import RunSet
from loadtest.report._judge import (
    DRIFT_FACTOR,
    IMPROVED,
    INCONCLUSIVE,
    REGRESSED,
    UNCHANGED,
    VERDICTS,
    Evidence,
    Judgement,
    TailCheck,
    judge,
)
from loadtest.report._runvalues import (
    COMPARED_METRICS,
    ERROR_RATE,
    THROUGHPUT,
    Key,
    RunValues,
    recorded_percentiles,
    run_values,
)
from loadtest.report._tolerance import (
    DEFAULT_ERROR_RATE_TOLERANCE,
    Tolerance,
    ToleranceError,
    is_percentile,
    parse_fraction,
    parse_tolerances,
)

__all__ = [
    "COMPARED_METRICS",
    "DEFAULT_ERROR_RATE_TOLERANCE",
    "DEFAULT_NOISE_FLOOR",
    "ERROR_RATE",
    "IMPROVED",
    "INCONCLUSIVE",
    "REGRESSED",
    "THROUGHPUT",
    "UNCHANGED",
    "VERDICTS",
    "CompareOptions",
    "Comparison",
    "Row",
    "Tolerance",
    "ToleranceError",
    "comparability_problems",
    "compare_paired",
    "compare_runs",
    "compare_sets",
    "compare_values",
    "is_percentile",
    "noise_for",
    "parse_fraction",
    "parse_tolerances",
]

DEFAULT_NOISE_FLOOR: Mapping[str, float] = {
    "p50": 0.30,
    "p90": 0.30,
    "p95": 0.35,
    "p99": 0.50,
    "p99.9": 0.75,
    THROUGHPUT: 0.30,
    ERROR_RATE: 0.005,
}
"""Assumed run-to-run standard deviation when too few runs show it (relative; error rate absolute).

Conservative values from this project's shared 2-core machine (see docs/ci.md for the measurement);
``tritonload calibrate`` measures your own.
"""


def noise_for(statistic: str, noise: Mapping[str, float]) -> float:
    """The noise floor of ``statistic``: its own entry, else the next listed percentile above it."""
    if statistic in noise:
        return noise[statistic]
    if is_percentile(statistic):
        listed = sorted((float(k[1:]), v) for k, v in noise.items() if is_percentile(k))
        wanted = float(statistic[1:])
        for percentile, value in listed:
            if percentile >= wanted:
                return value
        if listed:
            return listed[-1][1]
    return max(noise.values(), default=0.10)


@dataclass(frozen=True)
class CompareOptions:
    """Settings of one comparison."""

    tolerance: Tolerance = field(default_factory=Tolerance)
    confidence: float = 0.95
    percentiles: Sequence[float] | None = None
    """Percentiles to compare; default: those every run recorded."""
    noise_floor: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_NOISE_FLOOR))
    """Assumed run-to-run standard deviation per statistic, used when there are too few runs."""
    noise_source: str = "default"
    """``default`` or ``calibrated`` (from a ``calibration.json``)."""
    drift_factor: float = DRIFT_FACTOR
    """Unpaired sets: the band is at least this many run-to-run standard deviations wide."""
    min_tail_samples: int = 10
    """A percentile p needs this many samples beyond it in every run (p99.9: 10,000 samples)."""


@dataclass(frozen=True)
class Row:
    """One compared statistic: the medians per side, the change with its interval, the verdict and why."""

    traffic: str
    metric: str
    statistic: str
    unit: str
    """``us`` for time metrics, ``/s`` for throughput, ``ratio`` for the error rate."""
    judgement: Judgement
    baseline_runs: int
    candidate_runs: int

    @property
    def relative_change(self) -> float | None:
        """``change / baseline`` (None when the baseline is 0 or the statistic is absolute)."""
        if self.unit == "ratio" or not self.judgement.baseline:
            return None
        return self.judgement.change / self.judgement.baseline

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        j = self.judgement
        return {
            "traffic": self.traffic,
            "metric": self.metric,
            "statistic": self.statistic,
            "unit": self.unit,
            "baseline": j.baseline,
            "candidate": j.candidate,
            "change": j.change,
            "relative_change": self.relative_change,
            "ci_low": j.ci_low,
            "ci_high": j.ci_high,
            "confidence": j.confidence,
            "allowed": j.allowed,
            "band": j.band,
            "verdict": j.verdict,
            "reason": j.reason,
            "method": j.method,
            "p_value": j.p_value,
            "spread": j.spread,
            "repeats_needed": j.repeats_needed,
            "baseline_runs": self.baseline_runs,
            "candidate_runs": self.candidate_runs,
        }


@dataclass
class Comparison:
    """The result of comparing candidate runs with baseline runs."""

    baseline: str
    """Name of the baseline (run set directory or run id)."""
    candidate: str
    options: CompareOptions
    rows: list[Row]
    problems: list[str]
    """Why the runs are not comparable (empty when they are)."""
    notes: list[str]
    """Runs left out, traffic entries present on one side only, ..."""
    baseline_runs: int = 1
    candidate_runs: int = 1
    paired: bool = False

    @property
    def regressions(self) -> list[Row]:
        """Rows whose verdict is ``regressed``."""
        return [row for row in self.rows if row.judgement.verdict == REGRESSED]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        tolerance = self.options.tolerance
        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "baseline_runs": self.baseline_runs,
            "candidate_runs": self.candidate_runs,
            "paired": self.paired,
            "comparable": not self.problems,
            "problems": self.problems,
            "notes": self.notes,
            "regressed": bool(self.regressions),
            "verdicts": {v: sum(1 for r in self.rows if r.judgement.verdict == v) for v in VERDICTS},
            "options": {
                "tolerance": tolerance.relative,
                "tolerance_per_statistic": dict(tolerance.per_statistic),
                "floor_us": tolerance.floor_us,
                "floor_rps": tolerance.floor_rps,
                "confidence": self.options.confidence,
                "noise_floor": dict(self.options.noise_floor),
                "noise_source": self.options.noise_source,
                "drift_factor": self.options.drift_factor,
                "min_tail_samples": self.options.min_tail_samples,
            },
            "rows": [row.to_dict() for row in self.rows],
        }


def _unit(metric: str) -> str:
    return {THROUGHPUT: "/s", ERROR_RATE: "ratio"}.get(metric, "us")


def _tail(key: Key, base: Sequence[RunValues], cand: Sequence[RunValues], options: CompareOptions) -> TailCheck | None:
    traffic, metric, statistic = key
    if metric in (THROUGHPUT, ERROR_RATE):
        return None
    counts = [v.samples.get((traffic, metric), 0) for v in (*base, *cand)]
    rates = [v.throughput_rps.get(traffic, 0.0) for v in (*base, *cand)]
    return TailCheck(float(statistic[1:]), min(counts), options.min_tail_samples, float(np.median(rates)))


def compare_values(
    base: Sequence[RunValues], cand: Sequence[RunValues], options: CompareOptions | None = None, *, paired: bool = False
) -> list[Row]:
    """Every statistic present in every run of both sides, judged across runs, in baseline order."""
    options = options or CompareOptions()
    if paired and len(base) != len(cand):
        raise ValueError(f"paired comparison needs as many baseline as candidate runs ({len(base)} vs {len(cand)})")
    keys = [k for k in base[0].values if all(k in v.values for v in (*base[1:], *cand))] if base and cand else []
    rows = []
    for key in keys:
        traffic, metric, statistic = key
        evidence = Evidence(
            baseline=[v.values[key] for v in base],
            candidate=[v.values[key] for v in cand],
            paired=paired,
            relative=metric != ERROR_RATE,
            worse_sign=-1.0 if metric == THROUGHPUT else 1.0,
            tolerance=options.tolerance.fraction(statistic),
            floor=options.tolerance.floor(statistic),
            noise_floor=noise_for(statistic, options.noise_floor),
            noise_source=options.noise_source,
            tail=_tail(key, base, cand, options),
        )
        judgement = judge(evidence, options.confidence, options.drift_factor)
        rows.append(Row(traffic, metric, statistic, _unit(metric), judgement, len(base), len(cand)))
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


def _set_problems(role: str, runs: Sequence[Run]) -> list[str]:
    """Runs of one set must be comparable among themselves."""
    problems = []
    for run in runs[1:]:
        for problem in comparability_problems(runs[0].summary, run.summary):
            problems.append(f"{role} runs differ ({run.path.name}): {problem.replace('baseline', 'first')}")
    return problems


def _usable(role: str, runset: RunSet, notes: list[str]) -> list[Run]:
    """The runs of one side that are compared: the complete ones, else (with a note) all of them."""
    notes.extend(f"{role}: {note}" for note in runset.notes)
    complete = runset.complete_runs()
    for run in runset.runs:
        if run not in complete:
            status = run.summary.get("status")
            what = f"the {role} run" if not runset.is_set else f"{role} run {run.path.name}"
            notes.append(f"{what} is incomplete ({status}): " + ("left out" if complete else "compared anyway"))
    return complete or runset.runs


def _percentiles(runs: Sequence[Run], options: CompareOptions) -> tuple[float, ...]:
    if options.percentiles is not None:
        return tuple(options.percentiles)
    common: set[float] | None = None
    for run in runs:
        recorded = set(recorded_percentiles(run))
        common = recorded if common is None else common & recorded
    ordered = recorded_percentiles(runs[0]) if runs else ()
    return tuple(p for p in ordered if p in (common or set())) or DEFAULT_PERCENTILES


def _only_one_side(base: Sequence[Run], cand: Sequence[Run]) -> list[str]:
    base_names = {n for run in base for n in run.traffic_names}
    cand_names = {n for run in cand for n in run.traffic_names}
    notes = []
    if only := sorted(base_names - cand_names):
        notes.append(f"only in the baseline, not compared: {', '.join(only)}")
    if only := sorted(cand_names - base_names):
        notes.append(f"only in the candidate, not compared: {', '.join(only)}")
    return notes


def compare_sets(
    baseline: RunSet, candidate: RunSet, options: CompareOptions | None = None, *, paired: bool = False
) -> Comparison:
    """Compare two run sets (rows are computed even when the sets are not comparable).

    With ``paired`` (``ab``), run i of each side was measured next to run i of the other, and the
    sides differ on purpose: comparability is not checked, and an incomplete run drops its pair.
    """
    options = options or CompareOptions()
    notes: list[str] = []
    base_runs, cand_runs = _usable("baseline", baseline, notes), _usable("candidate", candidate, notes)
    if paired:
        pairs = [
            (b, c)
            for b, c in zip(baseline.runs, candidate.runs, strict=False)
            if b.summary.get("complete") and c.summary.get("complete")
        ]
        base_runs, cand_runs = [b for b, _ in pairs], [c for _, c in pairs]
        problems = [] if pairs else ["no pair of complete runs"]
    else:
        problems = _set_problems("baseline", base_runs) + _set_problems("candidate", cand_runs)
        if base_runs and cand_runs:
            problems += comparability_problems(base_runs[0].summary, cand_runs[0].summary)
    notes += _only_one_side(base_runs, cand_runs)
    percentiles = _percentiles([*base_runs, *cand_runs], options)
    rows = compare_values(
        [run_values(r, percentiles) for r in base_runs],
        [run_values(r, percentiles) for r in cand_runs],
        options,
        paired=paired,
    )
    return Comparison(
        baseline.name,
        candidate.name,
        options,
        rows,
        problems,
        notes,
        len(base_runs),
        len(cand_runs),
        paired,
    )


def compare_paired(baseline: RunSet, candidate: RunSet, options: CompareOptions | None = None) -> Comparison:
    """:func:`compare_sets` of interleaved chunks (``ab``): paired differences."""
    return compare_sets(baseline, candidate, options, paired=True)


def compare_runs(baseline: Run, candidate: Run, options: CompareOptions | None = None) -> Comparison:
    """Compare two single runs (each a set of one: the verdicts say what a single run cannot tell)."""
    return compare_sets(RunSet(baseline.path, [baseline]), RunSet(candidate.path, [candidate]), options)
