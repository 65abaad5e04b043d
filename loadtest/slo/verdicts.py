"""SLO evaluation: find each SLO's measured value in a run summary and judge it.

Owns where a metric's value comes from: a per-entry SLO reads that traffic entry, a global SLO reads
``overall`` (all entries merged); ``pNN``/``mean``/``max``/``min`` read the metric's statistics
(a percentile the summary lacks is computed from the histograms when they are given); ``error_rate``
and ``throughput`` read the entry's counters. Any SLO on an entry (or run) that measured no request
is "not measured" (``passed`` None, with a reason), never judged against a zero. The pass/fail rule
itself is :func:`loadtest.slo.evaluate`.
Pure: never reads files except through :func:`slos_of_scenario_yaml`, which parses text it is given
(with the YAML limits of scenario files: a run directory is untrusted input too).

Result dicts (stored in ``summary.json["slos"]``, shown by every report)::

    {"slo": "p99 latency < 50ms", "scope": "overall" | <traffic name>, "traffic": None | <name>,
     "metric": "latency", "statistic": "p99", "comparator": "<", "threshold": 50000.0,
     "unit": "us" | "fraction" | "/s" | "flag", "measured": 41234.0 | None, "passed": True | False | None,
     "measured_text": "41.2 ms", "threshold_text": "50.0 ms", "reason": None | "why not measured"}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from hdrh.histogram import HdrHistogram

from loadtest._yaml_limits import YamlLimitError, load_plain_yaml
from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.recorder import TagKey
from loadtest.recording.rundir import merge_traffic, percentile_key
from loadtest.slo import FLAG_METRICS, Slo, SloError, evaluate, parse_slo

OVERALL_SCOPE = "overall"
Histograms = Mapping[TagKey, HdrHistogram] | Callable[[], Mapping[TagKey, HdrHistogram]]
"""Whole-run histograms per (traffic, metric), or a function that reads them when first needed."""


def _slos(scenario_or_slos: Any) -> list[Slo]:
    all_slos = getattr(scenario_or_slos, "all_slos", None)
    if callable(all_slos):
        return list(all_slos())
    return list(scenario_or_slos)


def _format(unit: str, value: float | None) -> str | None:
    if value is None:
        return None
    if unit == "us":
        return f"{value / 1000.0:.3f} ms" if value < 1_000_000 else f"{value / 1e6:.3f} s"
    if unit == "fraction":
        return f"{value * 100:.3f}%"
    if unit == "flag":
        return "true" if value else "false"
    return f"{value:.1f}/s"


class _Measure:
    """Finds measured values in one summary, reading histograms only when a percentile is missing."""

    def __init__(self, summary: Mapping[str, Any], histograms: Histograms | None) -> None:
        self.summary = summary
        self._histograms = histograms
        self._loaded: Mapping[TagKey, HdrHistogram] | None = None

    def block(self, traffic: str | None) -> Mapping[str, Any] | None:
        if traffic is None:
            return self.summary.get("overall")
        return (self.summary.get("traffic") or {}).get(traffic)

    def histogram(self, traffic: str | None, metric: str) -> HdrHistogram | None:
        if self._histograms is None:
            return None
        if self._loaded is None:
            self._loaded = self._histograms() if callable(self._histograms) else self._histograms
        if traffic is not None:
            return self._loaded.get((traffic, metric))
        highest_us = int(self.summary.get("highest_trackable_us", 3_600_000_000))
        return merge_traffic(self._loaded, highest_us).get(metric)

    def flag(self, slo: Slo) -> tuple[float | None, str | None]:
        """A yes/no fact about the whole run (1.0 / 0.0)."""
        generator = self.summary.get("generator")
        if not isinstance(generator, Mapping) or not isinstance(generator.get("saturated"), bool):
            return None, "the summary has no generator verdict (a run that measured nothing, or an old run)"
        return (1.0 if generator["saturated"] else 0.0), None

    def value(self, slo: Slo) -> tuple[float | None, str | None]:
        if slo.metric in FLAG_METRICS:
            return self.flag(slo)
        block = self.block(slo.traffic)
        if block is None:
            return None, f"the run has no traffic entry {slo.traffic!r}"
        if not block.get("requests"):
            # Nothing was sent: a rate or a statistic of nothing is not 0, it is unknown.
            return None, "no requests were measured"
        if slo.metric == "error_rate":
            return float(block.get("error_rate", 0.0)), None
        if slo.metric == "throughput":
            return float(block.get("throughput_rps", 0.0)), None
        stats = (block.get("metrics") or {}).get(slo.metric)
        if not stats or not stats.get("count"):
            if slo.metric == "response_time" and not stats:
                return None, "response_time is recorded in open loop only"
            return None, f"no successful request recorded {slo.metric}"
        key = slo.statistic if slo.percentile is None else percentile_key(slo.percentile)
        if key in stats and stats[key] is not None:
            return float(stats[key]), None
        if slo.percentile is not None:
            histogram = self.histogram(slo.traffic, slo.metric)
            if histogram is not None and histogram.get_total_count():
                return float(value_at_percentiles(histogram, [slo.percentile])[0]), None
            return None, f"{key} is not in the summary; add {slo.percentile:g} to recording.percentiles"
        return None, f"{key} of {slo.metric} is not in the summary"


def evaluate_slos(
    scenario_or_slos: Any, summary: Mapping[str, Any], histograms: Histograms | None = None
) -> list[dict[str, Any]]:
    """Evaluate every SLO of a scenario (global first, then per entry) against a run summary.

    Args:
        scenario_or_slos: a :class:`loadtest.scenario.Scenario` (its ``all_slos()``) or an iterable
            of :class:`loadtest.slo.Slo`.
        summary: the run's ``summary.json`` content.
        histograms: optional whole-run histograms (or a function returning them), used only for a
            percentile the summary does not list.

    Returns:
        One JSON-ready dict per SLO (see the module docstring); ``passed`` is None when the value
        could not be measured, with the reason in ``reason``.
    """
    measure = _Measure(summary, histograms)
    results = []
    for slo in _slos(scenario_or_slos):
        measured, reason = measure.value(slo)
        result = evaluate(slo, measured)
        measured_text = _format(slo.unit, result.measured)
        if slo.metric in FLAG_METRICS and result.measured and result.passed is False:
            why = (summary.get("generator") or {}).get("reason")
            measured_text = f"{measured_text} ({why})" if why else measured_text
        results.append(
            {
                "slo": slo.text,
                "scope": slo.traffic if slo.traffic is not None else OVERALL_SCOPE,
                "traffic": slo.traffic,
                "metric": slo.metric,
                "statistic": slo.statistic,
                "comparator": slo.comparator,
                "threshold": slo.threshold,
                "unit": slo.unit,
                "measured": result.measured,
                "passed": result.passed,
                "measured_text": measured_text,
                "threshold_text": _format(slo.unit, slo.threshold),
                "reason": reason,
            }
        )
    return results


def slos_of_scenario_yaml(text: str) -> list[Slo]:
    """The SLOs declared in a run's ``scenario.yaml`` (global ``slos``, then each entry's ``slos``).

    Reads only the SLO lists, so a resolved scenario whose payload files or environment are gone
    still yields its SLOs.

    Raises:
        SloError: the text is not YAML, or an SLO cannot be parsed (the message names it).
    """
    try:
        data = load_plain_yaml(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise SloError(f"scenario.yaml is not valid YAML: {exc}") from None
    except YamlLimitError as exc:
        raise SloError(f"scenario.yaml is refused: {exc.message}") from None
    if not isinstance(data, Mapping):
        return []
    slos = [parse_slo(spec) for spec in _list(data.get("slos"))]
    for entry in _list(data.get("traffic")):
        if isinstance(entry, Mapping) and entry.get("slos"):
            slos += [parse_slo(spec, traffic=str(entry.get("name"))) for spec in _list(entry.get("slos"))]
    return slos


def parse_slo_option(text: str, traffic_names: Iterable[str]) -> Slo:
    """An SLO given on the command line: ``"p99 latency < 50ms"`` or ``"<traffic>: p99 latency < 50ms"``.

    Raises:
        SloError: the message says what to change.
    """
    names = set(traffic_names)
    prefix, sep, rest = text.partition(":")
    if sep and prefix.strip() in names:
        return parse_slo(rest.strip(), traffic=prefix.strip())
    if sep and not any(op in prefix for op in "<>="):
        known = ", ".join(sorted(names)) or "none"
        raise SloError(f"--slo {text!r}: the run has no traffic entry {prefix.strip()!r} (entries: {known})")
    return parse_slo(text)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
