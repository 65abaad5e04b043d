"""Tolerances of a comparison: how much change is allowed before a verdict, and how to write it.

Owns the ``--tolerance`` grammar (``5%``, ``p99.9=15%``, ``throughput=3%``, ``error_rate=0.5%``) and
the band it gives each statistic (relative to the baseline with an absolute floor; the error rate's
in percentage points). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loadtest.report._runvalues import ERROR_RATE, THROUGHPUT

DEFAULT_ERROR_RATE_TOLERANCE = 0.001
"""Allowed change of the error rate: 0.1 percentage points (absolute, not relative)."""


class ToleranceError(ValueError):
    """A ``--tolerance`` value that cannot be parsed; the message says what to write."""


@dataclass(frozen=True)
class Tolerance:
    """How much change is allowed before a statistic can be a regression (or an improvement)."""

    relative: float = 0.05
    """Allowed change as a fraction of the baseline value (0.05 = 5%)."""
    per_statistic: Mapping[str, float] = field(default_factory=dict)
    """Overrides of ``relative`` per statistic (``p99.9``, ``throughput``); ``error_rate`` is absolute."""
    floor_us: float = 100.0
    """Time metrics: a change below this many microseconds is always within tolerance."""
    floor_rps: float = 1.0
    """Throughput: a change below this many requests/s is always within tolerance."""

    def fraction(self, statistic: str) -> float:
        """The tolerance of ``statistic``: a fraction of the baseline, or absolute for ``error_rate``."""
        if statistic == ERROR_RATE:
            return self.per_statistic.get(ERROR_RATE, DEFAULT_ERROR_RATE_TOLERANCE)
        return self.per_statistic.get(statistic, self.relative)

    def floor(self, statistic: str) -> float:
        """The absolute change that is always within tolerance (µs or requests/s; 0 for the error rate)."""
        if statistic == ERROR_RATE:
            return 0.0
        return self.floor_rps if statistic == THROUGHPUT else self.floor_us

    def allowed(self, statistic: str, baseline: float) -> float:
        """Half-width of the tolerance band, in the statistic's unit."""
        if statistic == ERROR_RATE:
            return self.fraction(statistic)
        return max(self.fraction(statistic) * abs(baseline), self.floor(statistic))


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
    """A :class:`Tolerance` from ``--tolerance`` values: ``5%``, ``p99.9=15%``, ``throughput=3%``, ``error_rate=0.5%``.

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
        if statistic not in (THROUGHPUT, ERROR_RATE) and not is_percentile(statistic):
            raise ToleranceError(
                f"tolerance {value!r}: {key!r} is not a statistic; use pNN (e.g. p99), throughput or error_rate "
                "before '='"
            )
        per_statistic[statistic] = parse_fraction(amount)
    return Tolerance(relative, per_statistic, tolerance.floor_us, tolerance.floor_rps)


def is_percentile(text: str) -> bool:
    """True for statistic names such as ``p50`` and ``p99.9``."""
    if not text.startswith("p"):
        return False
    try:
        return 0 < float(text[1:]) <= 100
    except ValueError:
        return False
