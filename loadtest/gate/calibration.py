"""``tritonload calibrate``: how noisy is this machine? An A/A measurement and what it implies for the gate.

Owns the noise figures computed from two interleaved run sets of the same scenario (A1 B1, B2 A2, ...):

- **noise**: the run-to-run standard deviation of each statistic (pooled within A and within B),
  relative to its median (absolute for the error rate);
- **paired noise**: the robust standard deviation (1.4826 x MAD) of the relative difference between
  the two runs of a pair, what ``ab`` judges;
- **suggested tolerance**: the smallest tolerance sets of ``repeats`` runs can decide here: the drift
  band ``compare`` draws for this noise (``drift_factor`` x the noise's 90% upper bound), rounded up
  to a whole percent (at least 1%; error rate: at least 0.1 percentage point). A smaller tolerance
  leaves changes between it and the band ``inconclusive``; a tolerance at it calls them ``unchanged``;
- **detectable change**: the change that ``compare --calibration`` of two sets of ``repeats`` runs
  flags as regressed about 80% of the time with the default 5% tolerance:
  ``max(5%, band) + (z + 0.84) x k x noise x sqrt(2 / repeats)`` (k = 1.023 for the rank interval);
- the verdicts ``compare --calibration`` gives on this very A/A (a ``regressed`` there is a false alarm).

``calibration.json`` keeps per statistic name the largest noise (``noise_floor``, what
``compare --calibration`` reads) and the largest suggested tolerance over the traffic entries and
metrics. Pure apart from :func:`write_calibration` and :func:`read_calibration`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from loadtest.report._judge import DRIFT_FACTOR, HL_EFFICIENCY_FACTOR, REGRESSED, upper_bound
from loadtest.report._ranks import runs_needed
from loadtest.report._runvalues import ERROR_RATE, RunValues
from loadtest.report.compare import DEFAULT_ERROR_RATE_TOLERANCE, CompareOptions, compare_values

CALIBRATION_FILE = "calibration.json"
CALIBRATION_VERSION = 1
POWER_Z = NormalDist().inv_cdf(0.8)


class CalibrationError(ValueError):
    """A ``calibration.json`` that cannot be read; the message says why."""


@dataclass(frozen=True)
class StatisticNoise:
    """The noise figures of one statistic of one traffic entry (fractions; error rate absolute)."""

    traffic: str
    metric: str
    statistic: str
    median: float
    noise: float
    paired_noise: float
    suggested_tolerance: float
    detectable_change: float
    aa_verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Calibration:
    """What an A/A measurement says about this machine and scenario."""

    repeats: int
    confidence: float
    drift_factor: float
    statistics: list[StatisticNoise] = field(default_factory=list)
    tolerances: dict[str, float] = field(default_factory=dict)
    """Statistic name -> suggested tolerance (the largest over traffic entries and metrics)."""
    noise_floor: dict[str, float] = field(default_factory=dict)
    """Statistic name -> run-to-run noise (the largest over traffic entries and metrics)."""

    @property
    def false_alarms(self) -> list[StatisticNoise]:
        """Statistics the gate flagged as regressed on this A/A."""
        return [s for s in self.statistics if s.aa_verdict == REGRESSED]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``calibration.json`` body)."""
        return {
            "calibration_version": CALIBRATION_VERSION,
            "repeats": self.repeats,
            "confidence": self.confidence,
            "drift_factor": self.drift_factor,
            "tolerances": self.tolerances,
            "noise_floor": self.noise_floor,
            "false_alarms": len(self.false_alarms),
            "statistics": [s.to_dict() for s in self.statistics],
        }


def _pooled_sd(groups: Sequence[np.ndarray]) -> float:
    squares = sum(float(((g - g.mean()) ** 2).sum()) for g in groups if len(g) >= 2)
    dof = sum(len(g) - 1 for g in groups if len(g) >= 2)
    return math.sqrt(squares / dof) if dof else 0.0


def _round_up(value: float, step: float) -> float:
    return round(math.ceil(round(value / step, 9)) * step, 6)


def drift_band(noise: float, repeats: int, drift_factor: float = DRIFT_FACTOR) -> float:
    """The band ``compare`` draws for two sets of ``repeats`` runs with this run-to-run noise."""
    return drift_factor * (upper_bound(noise, 2 * (repeats - 1)) if repeats >= 2 else noise)


def suggested_tolerance(statistic: str, noise: float, repeats: int, drift_factor: float = DRIFT_FACTOR) -> float:
    """The drift band of two sets of ``repeats`` runs with this noise, rounded up (1%, or 0.1 pp), with a minimum."""
    band = drift_band(noise, repeats, drift_factor)
    if statistic == ERROR_RATE:
        return max(DEFAULT_ERROR_RATE_TOLERANCE, _round_up(band, 0.001))
    return max(0.01, _round_up(band, 0.01))


def detectable_change(
    noise: float, repeats: int, confidence: float, tolerance: float = 0.05, drift_factor: float = DRIFT_FACTOR
) -> float:
    """The change two sets of ``repeats`` runs flag as regressed about 80% of the time."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    factor = HL_EFFICIENCY_FACTOR if repeats >= runs_needed(confidence, paired=False) else 1.0
    band = max(tolerance, drift_band(noise, repeats, drift_factor))
    return band + (z + POWER_Z) * factor * noise * math.sqrt(2.0 / repeats)


def measure_noise(
    a: Sequence[RunValues], b: Sequence[RunValues], *, confidence: float = 0.95, drift_factor: float = DRIFT_FACTOR
) -> Calibration:
    """The noise figures of every statistic present in every run of the A/A pairs ``a[i]``, ``b[i]``."""
    repeats = min(len(a), len(b))
    keys = [k for k in a[0].values if all(k in v.values for v in (*a, *b))] if repeats else []
    figures: dict[tuple[str, str, str], tuple[float, float, float]] = {}
    for key in keys:
        xa = np.array([v.values[key] for v in a[:repeats]], dtype=np.float64)
        xb = np.array([v.values[key] for v in b[:repeats]], dtype=np.float64)
        median = float(np.median(np.concatenate([xa, xb])))
        relative = key[1] != ERROR_RATE and median != 0
        scale = abs(median) if relative else 1.0
        noise = _pooled_sd([xa / scale, xb / scale])
        d = (xb - xa) / xa if relative and np.all(xa > 0) else (xb - xa) / scale
        paired = float(1.4826 * np.median(np.abs(d - np.median(d))))
        figures[key] = (median, noise, paired)
    tolerances: dict[str, float] = {}
    noise_floor: dict[str, float] = {}
    for (_, _, statistic), (_, noise, _) in figures.items():
        tolerances[statistic] = max(
            tolerances.get(statistic, 0.0), suggested_tolerance(statistic, noise, repeats, drift_factor)
        )
        noise_floor[statistic] = max(noise_floor.get(statistic, 0.0), noise)
    options = CompareOptions(
        confidence=confidence, noise_floor=noise_floor, noise_source="calibrated", drift_factor=drift_factor
    )
    verdicts = {(r.traffic, r.metric, r.statistic): r.judgement.verdict for r in compare_values(a, b, options)}
    statistics = []
    for key, (median, noise, paired) in figures.items():
        tolerance = suggested_tolerance(key[2], noise, repeats, drift_factor)
        default = options.tolerance.fraction(key[2])
        statistics.append(
            StatisticNoise(
                *key,
                median=median,
                noise=noise,
                paired_noise=paired,
                suggested_tolerance=tolerance,
                detectable_change=detectable_change(noise, repeats, confidence, default, drift_factor),
                aa_verdict=verdicts.get(key, ""),
            )
        )
    return Calibration(repeats, confidence, drift_factor, statistics, tolerances, noise_floor)


def write_calibration(path: Path, calibration: Calibration, info: Mapping[str, Any] | None = None) -> None:
    """Write ``calibration.json`` (with ``info``: scenario, run sets, host load)."""
    body = {**calibration.to_dict(), **dict(info or {})}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def read_calibration(path: str | Path) -> Calibration:
    """Read the tolerances and noise floor of a ``calibration.json``.

    Raises:
        CalibrationError: unreadable, or not a calibration of a known version.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("calibration_version") != CALIBRATION_VERSION:
        raise CalibrationError(f"{path} is not a calibration.json of version {CALIBRATION_VERSION}")
    try:
        tolerances = {str(k): float(v) for k, v in data["tolerances"].items()}
        noise_floor = {str(k): float(v) for k, v in data["noise_floor"].items()}
        return Calibration(
            int(data["repeats"]), float(data["confidence"]), float(data["drift_factor"]), [], tolerances, noise_floor
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CalibrationError(f"{path}: missing or invalid field ({exc})") from exc


def render_calibration(calibration: Calibration) -> str:
    """The calibration as a text table plus the suggested ``--tolerance`` values."""
    header = (
        f"{'traffic':<18} {'metric':<14} {'stat':<8} {'median':>10} {'noise':>7} {'paired':>7} "
        f"{'tolerance':>9} {'detects':>8}  A/A"
    )
    lines = [
        f"A/A noise from {calibration.repeats} interleaved pairs of runs. 'tolerance': the smallest one sets of "
        f"{calibration.repeats} runs decide here; 'detects': the change they flag as regressed ~80% of the time.",
        "",
        header,
    ]
    for s in calibration.statistics:
        absolute = s.metric == ERROR_RATE
        unit = " pp" if absolute else "%"
        median = f"{s.median * 100:.2f}%" if absolute else f"{s.median:.6g}"

        def pct(value: float, unit: str = unit) -> str:
            return f"{value * 100:.1f}{unit}"

        lines.append(
            f"{s.traffic[:18]:<18} {s.metric[:14]:<14} {s.statistic[:8] if s.metric != s.statistic else '':<8} "
            f"{median:>10} {pct(s.noise):>7} {pct(s.paired_noise):>7} {pct(s.suggested_tolerance):>9} "
            f"{pct(s.detectable_change):>8}  {s.aa_verdict}"
        )
    suggested = " ".join(
        f"--tolerance {k}={v * 100:g}%" for k, v in sorted(calibration.tolerances.items(), key=lambda kv: kv[0])
    )
    alarms = calibration.false_alarms
    lines += [
        "",
        f"compare --calibration uses the noise; tolerances below these leave changes within the noise "
        f"inconclusive, at them unchanged: {suggested}",
        f"A/A false alarms with compare --calibration: {len(alarms)} of {len(calibration.statistics)} statistics"
        + (": " + ", ".join(f"{s.traffic} {s.metric} {s.statistic}" for s in alarms) if alarms else ""),
    ]
    return "\n".join(lines) + "\n"
