"""The verdict on one statistic measured by several runs per side: the change, its interval, and why.

Owns the decision rule of ``compare`` and ``ab`` (documented in docs/reports.md), applied to one
statistic (say the p99 latency of one traffic entry) given its value in each baseline and each
candidate run:

- **Change and interval.** Unpaired sets: the Hodges–Lehmann shift with its Mann–Whitney interval;
  paired runs (``ab``): the pseudo-median of the paired relative differences with its signed-rank
  interval (both from :mod:`loadtest.report._ranks`). Too few runs for the rank interval to reach
  the confidence level (fewer than 4 per side, 6 pairs, at 95%): the difference of the medians
  ± z x the run-to-run noise: the spread the runs show when they show it well enough (at least 3
  degrees of freedom, e.g. 5 runs against 1; its 90% upper bound), else the assumed noise floor
  (a documented default, or measured by ``tritonload calibrate``), never less than a measured floor.
- **Band.** The tolerance (relative, with an absolute floor), widened for unpaired sets to
  ``drift_factor`` x the run-to-run spread (its 90% upper confidence bound, so that a few runs that
  happen to agree do not narrow it; never below a calibrated noise floor): run sets measured one
  after the other see machine drift that the spread inside each set does not, so a shift that small
  is not evidence of a change. Paired runs need no widening: drift falls on both sides of each pair.
- **Verdict**, oriented so that positive is worse: ``regressed`` when the whole interval lies above
  the band, ``improved`` below minus the band, ``unchanged`` inside the tolerance, ``inconclusive``
  otherwise, and also when a run has too few samples beyond a tail percentile. The reason says which
  and what would decide it (more repeats, longer runs, or ``ab``).

Pure: values in, a :class:`Judgement` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from loadtest.report._ranks import paired_interval, runs_needed, shift_interval

REGRESSED = "regressed"
IMPROVED = "improved"
UNCHANGED = "unchanged"
INCONCLUSIVE = "inconclusive"
VERDICTS: tuple[str, ...] = (REGRESSED, IMPROVED, UNCHANGED, INCONCLUSIVE)
MAX_REPEATS_ADVISED = 50
"""Beyond this many runs per side, advise a wider tolerance or ``ab`` instead of more repeats."""
DRIFT_FACTOR = 3.0
"""Unpaired sets: a regression must clear this many run-to-run standard deviations (upper bound)."""
SPREAD_BOUND = 0.90
"""Confidence of the upper bound on the run-to-run spread used for the drift band."""
HL_EFFICIENCY_FACTOR = math.sqrt(math.pi / 3.0)
"""Rank intervals are about this much wider than normal-theory ones (asymptotic relative efficiency 3/pi)."""


@dataclass(frozen=True)
class TailCheck:
    """Samples behind a tail percentile: enough in every run?"""

    percentile: float
    fewest_samples: int
    """The smallest sample count of any run, either side."""
    min_beyond: int
    """Samples needed beyond the percentile in each run."""
    rate_per_s: float
    """Typical successful requests per second of the traffic entry (for "~N s at this rate")."""

    @property
    def beyond(self) -> int:
        """Samples beyond the percentile in the run with the fewest."""
        return int(self.fewest_samples * (100.0 - self.percentile) / 100.0)

    @property
    def needed_samples(self) -> int:
        """Samples per run that put ``min_beyond`` beyond the percentile."""
        return math.ceil(round(self.min_beyond * 100.0 / (100.0 - self.percentile), 6))


@dataclass(frozen=True)
class Evidence:
    """One statistic's values per run, and how to judge them."""

    baseline: Sequence[float]
    candidate: Sequence[float]
    paired: bool = False
    """Run i of the baseline and run i of the candidate were measured side by side (``ab``)."""
    relative: bool = True
    """Judge relative changes (times, throughput); False: absolute (error rate)."""
    worse_sign: float = 1.0
    """+1 when larger is worse (times, error rate), -1 when smaller is worse (throughput)."""
    tolerance: float = 0.05
    """Allowed change: a fraction of the baseline (relative) or an absolute amount."""
    floor: float = 0.0
    """Absolute change always within tolerance (µs, requests/s)."""
    noise_floor: float = 0.10
    """Assumed run-to-run standard deviation (fraction, or absolute) when there are too few runs."""
    noise_source: str = "default"
    """Where ``noise_floor`` comes from: ``default`` or ``calibrated``."""
    tail: TailCheck | None = None


@dataclass(frozen=True)
class Judgement:
    """The verdict on one statistic, in the statistic's unit (relative values as fractions)."""

    baseline: float
    """Median of the baseline runs."""
    candidate: float
    """Median of the candidate runs."""
    change: float
    """Estimated change, candidate minus baseline."""
    ci_low: float
    ci_high: float
    allowed: float
    """Half-width of the tolerance band."""
    band: float
    """Half-width a regression must clear (the tolerance, or the run-to-run drift when wider)."""
    verdict: str
    method: str
    """``rank`` (Mann–Whitney), ``paired`` (signed rank), ``noise floor`` or ``identical``."""
    reason: str
    p_value: float | None = None
    confidence: float | None = None
    """Coverage the interval attains."""
    spread: float | None = None
    """Run-to-run standard deviation seen in the runs (same unit as ``change``)."""
    repeats_needed: int | None = None
    """Runs per side (pairs for ``ab``) that would likely decide an inconclusive verdict."""
    blocker: str | None = None
    """Why a verdict is inconclusive: ``tail`` (too few samples beyond the percentile), ``few runs`` (too few
    for a rank test), ``drift`` (within the drift band of unpaired sets), ``overlap`` (more runs would
    decide it) or ``noise`` (no practical number of runs decides it)."""


def _pooled_sd(groups: Sequence[np.ndarray]) -> tuple[float, int] | None:
    """Pooled standard deviation of the groups and its degrees of freedom (None without any)."""
    squares, dof = 0.0, 0
    for values in groups:
        if len(values) >= 2:
            squares += float(((values - values.mean()) ** 2).sum())
            dof += len(values) - 1
    return (math.sqrt(squares / dof), dof) if dof else None


def upper_bound(sd: float, dof: int, confidence: float = SPREAD_BOUND) -> float:
    """One-sided upper confidence bound of a standard deviation estimated with ``dof`` degrees of freedom.

    ``sd * sqrt(dof / chi2_{1-confidence}(dof))``, the chi-square quantile from the Wilson–Hilferty
    approximation (within 1.5% from 3 degrees of freedom on; below that it errs on the wide side).
    """
    z = NormalDist().inv_cdf(1.0 - confidence)
    chi2 = dof * (1.0 - 2.0 / (9.0 * dof) + z * math.sqrt(2.0 / (9.0 * dof))) ** 3
    return sd * math.sqrt(dof / max(chi2, 1e-9))


def _pct(value: float, relative: bool) -> str:
    """A signed change: ``+2.1%`` (relative) or ``+0.12 pp`` (absolute fractions, e.g. error rates)."""
    text = f"{value * 100:+.1f}%" if relative else f"{value * 100:+.2f} pp"
    return text.replace("-", "−")


def _size(value: float, relative: bool) -> str:
    """An unsigned amount: ``5.0%`` or ``0.10 pp``."""
    return f"{value * 100:.1f}%" if relative else f"{value * 100:.2f} pp"


@dataclass(frozen=True)
class _Interval:
    method: str
    estimate: float
    low: float
    high: float
    sigma: float
    """Run-to-run standard deviation seen (or assumed, with too few runs), scaled units; 0 when unknown."""
    sigma_band: float
    """The standard deviation the drift band uses: the upper bound of ``sigma`` (or the assumed one)."""
    p_value: float | None
    confidence: float
    assumed: bool = False
    """The noise floor was assumed: the runs cannot show their own spread."""


def _interval(
    evidence: Evidence, x: np.ndarray, y: np.ndarray, relative: bool, scale: float, confidence: float
) -> _Interval | None:
    """The change and its interval in units of ``scale`` (None: identical measurements)."""
    if evidence.paired:
        d = (y - x) / x if relative and np.all(x > 0) else (y - x) / scale
        if np.all(d == 0):
            return None
        spread = (float(np.std(d, ddof=1)), len(d) - 1) if len(d) >= 2 else None
        shift = paired_interval(d, confidence)
    else:
        if sorted(x.tolist()) == sorted(y.tolist()):
            return None
        spread = _pooled_sd([x / scale, y / scale])
        shift = shift_interval(x / scale, y / scale, confidence)
    seen, bound = (spread[0], upper_bound(*spread)) if spread else (0.0, 0.0)
    if shift is not None:
        method = "paired" if evidence.paired else "rank"
        if evidence.noise_source == "calibrated":  # a measured noise floor also bounds the drift band from below
            bound = max(bound, evidence.noise_floor)
        return _Interval(method, shift.estimate, shift.low, shift.high, seen, bound, shift.p_value, shift.confidence)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    floor = evidence.noise_floor * (math.sqrt(2.0) if evidence.paired else 1.0)
    shown = spread is not None and spread[1] >= 3
    if shown:  # enough runs on one side to show the spread: its upper bound, or a calibrated floor above it
        sigma = max(bound, floor) if evidence.noise_source == "calibrated" else bound
        band_sigma = sigma
    else:
        sigma, band_sigma = max(floor, seen), max(floor, bound)
    if evidence.paired:
        estimate, half = float(np.median(d)), z * sigma / math.sqrt(len(d))
    else:
        estimate = float(np.median(y) - np.median(x)) / scale
        half = z * sigma * math.sqrt(1.0 / len(x) + 1.0 / len(y))
    return _Interval(
        "noise floor", estimate, estimate - half, estimate + half, sigma, band_sigma, None, confidence, not shown
    )


def judge(evidence: Evidence, confidence: float = 0.95, drift_factor: float = DRIFT_FACTOR) -> Judgement:
    """Judge one statistic (see the module docstring for the rule)."""
    x = np.asarray(evidence.baseline, dtype=np.float64)
    y = np.asarray(evidence.candidate, dtype=np.float64)
    base_median, cand_median = float(np.median(x)), float(np.median(y))
    relative = evidence.relative and base_median != 0
    scale = abs(base_median) if relative else 1.0
    tolerance = max(evidence.tolerance, evidence.floor / scale)
    found = _interval(evidence, x, y, relative, scale, confidence)
    if found is None:
        return Judgement(
            base_median,
            cand_median,
            0.0,
            0.0,
            0.0,
            tolerance * scale,
            tolerance * scale,
            UNCHANGED,
            "identical",
            "identical measurements on both sides",
        )
    band = tolerance if evidence.paired else max(tolerance, drift_factor * found.sigma_band)
    verdict, reason, needed, blocker = _verdict(
        evidence, found, tolerance, band, confidence, drift_factor, len(x), len(y)
    )
    return Judgement(
        base_median,
        cand_median,
        found.estimate * scale,
        found.low * scale,
        found.high * scale,
        tolerance * scale,
        band * scale,
        verdict,
        found.method,
        reason,
        found.p_value,
        found.confidence,
        found.sigma * scale if found.sigma else None,
        needed,
        blocker,
    )


def _verdict(
    evidence: Evidence,
    found: _Interval,
    tolerance: float,
    band: float,
    confidence: float,
    drift_factor: float,
    n: int,
    m: int,
) -> tuple[str, str, int | None, str | None]:
    """The verdict, its reason, the runs that would decide an inconclusive one, and what blocks it."""
    shown = evidence.relative
    worst, best = sorted((evidence.worse_sign * found.low, evidence.worse_sign * found.high))
    oriented = abs(found.estimate)
    interval = f"CI [{_pct(found.low, shown)}, {_pct(found.high, shown)}]"
    if found.assumed:
        basis = f"{drift_factor:g} × the assumed ±{_size(found.sigma_band, shown)} run-to-run noise"
    else:
        basis = f"{drift_factor:g} × the run-to-run spread, ≤ {_size(found.sigma_band, shown)} at 90% confidence"
    drift = f"the ±{_size(band, shown)} drift band ({basis})"
    edge = drift if band > tolerance else f"±{_size(tolerance, shown)}"
    p_text = f" (p = {found.p_value:.3f})" if found.p_value is not None else ""
    tail = evidence.tail
    if tail is not None and tail.fewest_samples < tail.needed_samples:
        seconds = (
            f", ~{math.ceil(tail.needed_samples / tail.rate_per_s)} s at {tail.rate_per_s:.0f}/s"
            if tail.rate_per_s > 0
            else ""
        )
        return (
            INCONCLUSIVE,
            f"only {tail.beyond} sample{'s' if tail.beyond != 1 else ''} beyond p{tail.percentile:g} per run: "
            f"needs ≥ {tail.min_beyond} (≥ {tail.needed_samples:,} samples/run{seconds})",
            None,
            "tail",
        )
    if worst > band or best < -band:
        # Say where the interval lies in its own direction: a lower throughput lies below −band.
        above = found.low > 0
        where = f"above {edge.replace('±', '+', 1)}" if above else f"below {edge.replace('±', '−', 1)}"
        return REGRESSED if worst > band else IMPROVED, f"{interval} lies {where}{p_text}", None, None
    if -tolerance <= worst and best <= tolerance:
        reason = f"{interval} lies within ±{_size(tolerance, shown)}"
        if found.low > 0 or found.high < 0:  # the sides differ, only by less than the tolerance: say so
            way = "rise" if found.low > 0 else "fall"
            # Paired chunks share the machine's drift; sets measured one after the other do not.
            what = f"a real {way}" if evidence.paired else f"a {way}, a change or machine drift"
            reason += f" ({what}, smaller than the tolerance)"
        return UNCHANGED, reason, None, None
    min_runs = runs_needed(confidence, paired=evidence.paired)
    if found.method == "noise floor":
        if evidence.paired:
            what = f"{n} pair{'s' if n != 1 else ''}"
        else:
            what = f"{n} run{'s' if n != 1 else ''} per side" if n == m else f"{n} vs {m} runs"
        more = f"≥ {min_runs} pairs (ab --chunks)" if evidence.paired else f"≥ {min_runs} runs per side (run --repeat)"
        if found.assumed:
            source = "calibrated" if evidence.noise_source == "calibrated" else "default"
            noise = (
                f"{what} cannot show the noise, so a ±{_size(found.sigma, shown)} "
                f"run-to-run noise is assumed ({source})"
            )
        else:
            noise = (
                f"{what} are too few for a rank test; judged against the ±{_size(found.sigma, shown)} "
                "spread the runs show"
            )
        return INCONCLUSIVE, f"{interval} overlaps {edge}: {noise}; {more} would decide it", min_runs, "few runs"
    if not evidence.paired and tolerance < oriented <= band:
        return (
            INCONCLUSIVE,
            f"{interval}: the change ({_pct(found.estimate, shown)}) exceeds ±{_size(tolerance, shown)} but not "
            f"{drift}: "
            "sets measured one after the other cannot tell this from machine drift; ab interleaves them",
            None,
            "drift",
        )
    target = band if oriented > band else tolerance
    crossed = drift if oriented > band > tolerance else f"±{_size(tolerance, shown)}"
    needed = _repeats_needed(n, (found.high - found.low) / 2.0, abs(oriented - target), min_runs)
    unit = "pairs (ab --chunks)" if evidence.paired else "runs per side (run --repeat)"
    if needed is not None:
        return INCONCLUSIVE, f"{interval} overlaps {crossed}: ≈ {needed} {unit} would decide it", needed, "overlap"
    help_ = "longer chunks or quieter hardware" if evidence.paired else "longer runs, quieter hardware or ab"
    return (
        INCONCLUSIVE,
        f"{interval} overlaps {crossed}: more than {MAX_REPEATS_ADVISED} {unit} would be needed at this noise "
        f"and this distance from the edge; {help_} would help",
        None,
        "noise",
    )


def _repeats_needed(runs: int, half_width: float, distance: float, min_runs: int) -> int | None:
    """Runs per side (or pairs) that would decide the verdict about 80% of the time; None when impractical.

    Interval widths shrink about as 1/sqrt(runs); the projection starts from the interval just
    measured and asks for a half-width of ``distance / (1 + 0.84 / 1.96)``, so that the estimate's own
    scatter leaves the interval clear of the edge in most repetitions.
    """
    if distance <= 0 or half_width <= 0:
        return None
    wanted = distance / (1.0 + NormalDist().inv_cdf(0.8) / NormalDist().inv_cdf(0.975))
    count = max(math.ceil(runs * (half_width / wanted) ** 2), runs + 1, min_runs)
    return count if count <= MAX_REPEATS_ADVISED else None
