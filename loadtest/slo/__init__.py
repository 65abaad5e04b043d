"""Service-level objectives: parse them from text or a mapping, and judge a measured value.

Owns the SLO grammar, the canonical units and the pass/fail rule. Pure: never measures, never reads
a run directory, never decides which histogram a metric comes from (the report does that).

Grammar (whitespace between tokens is optional around the comparator)::

    slo        := [statistic] metric comparator threshold
                | flag (== | !=) (true | false)
    statistic  := pNN | pNN.N | mean | max | min          (time metrics only, and required there)
    metric     := latency | response_time | ttfr | gap | error_rate | throughput
    flag       := generator_saturated                     (global SLOs only: a fact about the whole run)
    comparator := < | <= | > | >=
    threshold  := number unit
    unit       := us | µs | ms | s  (time metrics) ;  %  (error_rate) ;  /s  (throughput)

Canonical units: time thresholds in microseconds, error rate as a fraction 0..1, throughput in
requests per second, flags as 1.0 (true) or 0.0 (false). Examples: ``p99 latency < 50ms``,
``mean ttfr <= 800us``, ``error_rate < 0.1%``, ``throughput >= 200/s``,
``generator_saturated == false``; mapping form ``{metric: latency, stat: p99, op: "<", threshold: 50ms}``.

Usage::

    slo = parse_slo("p99 latency < 50ms")
    evaluate(slo, measured=41_000.0).passed   # True (41 ms measured)
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from loadtest._suggest import hint

TIME_METRICS: tuple[str, ...] = ("latency", "response_time", "ttfr", "gap")
"""Metrics measured as a duration (thresholds in microseconds); each needs a statistic."""
FLAG_METRICS: tuple[str, ...] = ("generator_saturated",)
"""Yes/no facts about the whole run (``summary.json["generator"]["saturated"]``), compared with ``==``/``!=``."""
METRICS: tuple[str, ...] = (*TIME_METRICS, "error_rate", "throughput", *FLAG_METRICS)
"""Every metric an SLO may name."""
COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
"""Comparator text -> how ``measured <op> threshold`` is decided (``==``/``!=``: flags only)."""
_FLAG_VALUES = {"true": 1.0, "false": 0.0}
STATISTICS_HELP = "pNN (e.g. p99, p99.9), mean, max or min"

_METRIC_ALIASES = {"time_to_first_response": "ttfr", "response-time": "response_time", "error-rate": "error_rate"}
_TIME_UNITS_US = {"us": 1.0, "µs": 1.0, "μs": 1.0, "ms": 1_000.0, "s": 1_000_000.0}
_THROUGHPUT_UNITS = ("/s", "rps", "req/s")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_THRESHOLD = re.compile(rf"^(?P<number>{_NUMBER})\s*(?P<unit>\S*)$")
_PERCENTILE = re.compile(r"^p(?P<value>\d+(?:\.\d+)?)$")
_COMPARATOR = re.compile(r"(<=|>=|==|!=|=<|=>|<|>|=)")
_MAPPING_KEYS = {"metric": "metric", "stat": "stat", "statistic": "stat", "op": "op", "comparator": "op"}
_MAPPING_KEYS_HELP = ("metric", "stat", "op", "threshold")


class SloError(ValueError):
    """An SLO that cannot be parsed; the message says what to change."""


@dataclass(frozen=True)
class Slo:
    """One service-level objective, in canonical units.

    ``threshold`` is in microseconds for time metrics, a fraction (0..1) for ``error_rate`` and
    requests per second for ``throughput``. ``traffic`` is the traffic entry it applies to, or
    ``None`` for a global SLO (evaluated on all traffic merged). ``text`` is its canonical text.
    """

    metric: str
    statistic: str | None
    comparator: str
    threshold: float
    traffic: str | None = None
    text: str = ""

    @property
    def percentile(self) -> float | None:
        """The percentile (e.g. 99.9) when the statistic is ``pNN``, else None."""
        if self.statistic is None:
            return None
        match = _PERCENTILE.match(self.statistic)
        return float(match["value"]) if match else None

    @property
    def unit(self) -> str:
        """The canonical unit of ``threshold`` and of the measured value: ``us``, ``fraction``, ``/s`` or ``flag``."""
        if self.metric in TIME_METRICS:
            return "us"
        if self.metric in FLAG_METRICS:
            return "flag"
        return "fraction" if self.metric == "error_rate" else "/s"

    def __str__(self) -> str:
        return self.text if self.traffic is None else f"{self.traffic}: {self.text}"


@dataclass(frozen=True)
class SloResult:
    """The verdict on one SLO: ``passed`` is None when nothing was measured (not evaluated)."""

    slo: Slo
    measured: float | None
    passed: bool | None


def evaluate(slo: Slo, measured: float | None) -> SloResult:
    """Judge ``measured`` (in the SLO's canonical unit) against the SLO.

    ``None`` or NaN means the metric was not measured (e.g. no successful request): the result has
    ``passed=None`` and counts as neither pass nor failure; the caller decides what that means.
    """
    if measured is None or math.isnan(measured):
        return SloResult(slo, None, None)
    return SloResult(slo, measured, COMPARATORS[slo.comparator](measured, slo.threshold))


def parse_slo(spec: object, traffic: str | None = None) -> Slo:
    """Parse an SLO from its text (``"p99 latency < 50ms"``) or mapping form.

    Args:
        spec: the text, or a mapping with keys ``metric``, ``stat`` (alias ``statistic``), ``op``
            (alias ``comparator``) and ``threshold``.
        traffic: the traffic entry the SLO belongs to; None for a global SLO.

    Raises:
        SloError: the message names the part to change and the accepted values.
    """
    if isinstance(spec, str):
        return _parse_text(spec, traffic)
    if isinstance(spec, Mapping):
        return _parse_mapping(spec, traffic)
    raise SloError(f"an SLO is a text such as 'p99 latency < 50ms' or a mapping, not {_kind(spec)}")


def _parse_text(text: str, traffic: str | None) -> Slo:
    parts = _COMPARATOR.split(text, maxsplit=1)
    if len(parts) != 3:
        raise SloError(f"{text!r} has no comparator; write e.g. 'p99 latency < 50ms' (comparators: <, <=, >, >=)")
    left, op, right = parts
    words = left.split()
    if not words or len(words) > 2:
        raise SloError(f"{text!r}: expected '[statistic] metric' before {op!r}, e.g. 'p99 latency'")
    statistic, metric = (None, words[0]) if len(words) == 1 else (words[0], words[1])
    if statistic is not None and statistic.lower() in METRICS and metric.lower() not in METRICS:
        raise SloError(f"{text!r}: write the statistic first, e.g. '{metric} {statistic} {op} ...'")
    return _build(metric, statistic, op, right.strip(), traffic)


def _parse_mapping(spec: Mapping[object, object], traffic: str | None) -> Slo:
    fields: dict[str, object] = {}
    for key, value in spec.items():
        name = _MAPPING_KEYS.get(str(key), "threshold" if key == "threshold" else None)
        if name is None:
            raise SloError(f"unknown SLO key {key!r}{hint(str(key), _MAPPING_KEYS_HELP, noun='known keys')}")
        fields[name] = value
    missing = [k for k in ("metric", "op", "threshold") if k not in fields]
    if missing:
        raise SloError(f"SLO mapping needs {', '.join(missing)} (keys: metric, stat, op, threshold)")
    for key in ("metric", "stat", "op"):
        if key in fields and not isinstance(fields[key], str):
            raise SloError(f"SLO {key} must be a text, not {_kind(fields[key])}")
    threshold = fields["threshold"]
    if isinstance(threshold, bool) and str(fields["metric"]).lower() in FLAG_METRICS:
        threshold = str(threshold).lower()  # YAML's true/false: the value of a flag
    elif isinstance(threshold, bool) or not isinstance(threshold, (str, int, float)):
        raise SloError(f"SLO threshold must be a number with a unit such as '50ms', not {_kind(threshold)}")
    stat = str(fields["stat"]) if fields.get("stat") is not None else None
    return _build(str(fields["metric"]), stat, str(fields["op"]), str(threshold), traffic)


def _build(metric: str, statistic: str | None, op: str, threshold_text: str, traffic: str | None) -> Slo:
    metric = _METRIC_ALIASES.get(metric.lower(), metric.lower())
    if metric not in METRICS:
        raise SloError(f"unknown SLO metric {metric!r}{hint(metric, METRICS)}")
    if metric in FLAG_METRICS:
        return _flag(metric, statistic, op, threshold_text, traffic)
    if op not in COMPARATORS or op in ("==", "!="):
        raise SloError(f"unknown comparator {op!r}; use one of <, <=, >, >=")
    statistic = _statistic(metric, statistic)
    threshold, shown = _threshold(metric, threshold_text)
    text = f"{metric} {op} {shown}" if statistic is None else f"{statistic} {metric} {op} {shown}"
    return Slo(metric=metric, statistic=statistic, comparator=op, threshold=threshold, traffic=traffic, text=text)


def _flag(metric: str, statistic: str | None, op: str, value_text: str, traffic: str | None) -> Slo:
    if statistic is not None:
        raise SloError(f"{metric} takes no statistic; write e.g. '{metric} == false'")
    if op not in ("==", "!="):
        raise SloError(f"{metric} is true or false: compare it with == or !=, e.g. '{metric} == false'")
    value = _FLAG_VALUES.get(value_text.strip().lower())
    if value is None:
        raise SloError(f"{metric} is compared with true or false, not {value_text.strip()!r}")
    if traffic is not None:
        raise SloError(f"{metric} is a fact about the whole run: put it in the global slos, not in a traffic entry")
    text = f"{metric} {op} {value_text.strip().lower()}"
    return Slo(metric=metric, statistic=None, comparator=op, threshold=value, traffic=None, text=text)


def _statistic(metric: str, statistic: str | None) -> str | None:
    if metric not in TIME_METRICS:
        if statistic is not None:
            raise SloError(f"{metric} takes no statistic; write e.g. '{metric} < ...' without {statistic!r}")
        return None
    if statistic is None:
        raise SloError(f"{metric} needs a statistic before it: {STATISTICS_HELP}, e.g. 'p99 {metric}'")
    stat = statistic.lower()
    if stat in ("mean", "max", "min"):
        return stat
    match = _PERCENTILE.match(stat)
    if match is None:
        raise SloError(f"unknown statistic {statistic!r}; use {STATISTICS_HELP}")
    value = float(match["value"])
    if not 0.0 < value <= 100.0:
        raise SloError(f"percentile {statistic!r} is out of range; use p0.1 ... p100")
    return stat


def _threshold(metric: str, text: str) -> tuple[float, str]:
    match = _THRESHOLD.match(text.strip())
    if match is None:
        raise SloError(f"threshold {text!r} is not a number with a unit, e.g. {_example(metric)}")
    number, unit = float(match["number"]), match["unit"]
    if number < 0:
        raise SloError(f"threshold {text!r} is negative")
    if metric in TIME_METRICS:
        if unit not in _TIME_UNITS_US:
            raise SloError(f"{metric} threshold {text!r} needs a time unit: us, ms or s (e.g. 50ms)")
        return number * _TIME_UNITS_US[unit], f"{match['number']}{'us' if unit in ('µs', 'μs') else unit}"
    if metric == "error_rate":
        if unit != "%":
            raise SloError(f"error_rate threshold {text!r} needs a percent sign, e.g. 0.1%")
        if number > 100:
            raise SloError(f"error_rate threshold {text!r} is above 100%")
        return number / 100.0, f"{match['number']}%"
    if unit not in _THROUGHPUT_UNITS:
        raise SloError(f"throughput threshold {text!r} needs the unit /s, e.g. 200/s")
    return number, f"{match['number']}/s"


def _example(metric: str) -> str:
    if metric in TIME_METRICS:
        return "50ms"
    return "0.1%" if metric == "error_rate" else "200/s"


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, Mapping) else f"a {type(value).__name__} value"
