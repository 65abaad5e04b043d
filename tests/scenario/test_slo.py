"""SLO grammar, canonical units and verdicts (loadtest.slo)."""

from __future__ import annotations

import math

import pytest

from loadtest.slo import Slo, SloError, evaluate, parse_slo


@pytest.mark.parametrize(
    ("text", "metric", "statistic", "comparator", "threshold", "canonical"),
    [
        ("p99 latency < 50ms", "latency", "p99", "<", 50_000.0, "p99 latency < 50ms"),
        ("p99.9 latency <= 1.5s", "latency", "p99.9", "<=", 1_500_000.0, "p99.9 latency <= 1.5s"),
        ("mean ttfr <= 800us", "ttfr", "mean", "<=", 800.0, "mean ttfr <= 800us"),
        ("max gap < 20 ms", "gap", "max", "<", 20_000.0, "max gap < 20ms"),
        ("min latency>=1µs", "latency", "min", ">=", 1.0, "min latency >= 1us"),
        ("p50 response_time < 2μs", "response_time", "p50", "<", 2.0, "p50 response_time < 2us"),
        ("P95 Latency < 3ms", "latency", "p95", "<", 3_000.0, "p95 latency < 3ms"),
        ("p100 latency < 1s", "latency", "p100", "<", 1_000_000.0, "p100 latency < 1s"),
        ("error_rate < 0.1%", "error_rate", None, "<", 0.001, "error_rate < 0.1%"),
        ("error_rate <= 100%", "error_rate", None, "<=", 1.0, "error_rate <= 100%"),
        ("throughput >= 200/s", "throughput", None, ">=", 200.0, "throughput >= 200/s"),
        ("throughput > 1e3 rps", "throughput", None, ">", 1000.0, "throughput > 1e3/s"),
        ("p99 time_to_first_response < 5ms", "ttfr", "p99", "<", 5_000.0, "p99 ttfr < 5ms"),
    ],
)
def test_text_form_parses_to_canonical_units(
    text: str, metric: str, statistic: str | None, comparator: str, threshold: float, canonical: str
) -> None:
    slo = parse_slo(text)
    assert (slo.metric, slo.statistic, slo.comparator, slo.text, slo.traffic) == (
        metric,
        statistic,
        comparator,
        canonical,
        None,
    )
    assert slo.threshold == pytest.approx(threshold)


def test_mapping_form_equals_text_form() -> None:
    mapping = parse_slo({"metric": "latency", "stat": "p99", "op": "<", "threshold": "50ms"}, traffic="a")
    assert mapping == parse_slo("p99 latency < 50ms", traffic="a")
    aliases = parse_slo({"metric": "throughput", "comparator": ">=", "threshold": "200/s"})
    assert aliases.text == "throughput >= 200/s"
    assert parse_slo({"metric": "ttfr", "statistic": "mean", "op": "<=", "threshold": "800us"}).threshold == 800.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("p99 latency", "has no comparator"),
        ("p99 latncy < 5ms", "did you mean 'latency'?"),
        ("latency p99 < 5ms", "write the statistic first"),
        ("latency < 5ms", "latency needs a statistic"),
        ("p99 error_rate < 1%", "error_rate takes no statistic"),
        ("p0 latency < 5ms", "out of range"),
        ("q99 latency < 5ms", "unknown statistic 'q99'"),
        ("p99 latency = 5ms", "unknown comparator '='"),
        ("p99 latency == 5ms", "unknown comparator '=='"),
        ("p99 latency < 5", "needs a time unit"),
        ("p99 latency < 5 kg", "needs a time unit"),
        ("p99 latency < -5ms", "negative"),
        ("p99 latency < fast", "not a number with a unit"),
        ("error_rate < 0.1", "needs a percent sign"),
        ("error_rate < 101%", "above 100%"),
        ("throughput > 200", "needs the unit /s"),
        ("a b c < 5ms", "expected '[statistic] metric'"),
        ({"metric": "latency", "op": "<"}, "needs threshold"),
        ({"metric": "latency", "stat": "p99", "op": "<", "treshold": "5ms"}, "did you mean 'threshold'?"),
        ({"metric": "latency", "stat": "p99", "op": "<", "threshold": True}, "number with a unit"),
        ({"metric": 5, "op": "<", "threshold": "5ms"}, "metric must be a text"),
        (42, "not a number"),
        (None, "not nothing"),
    ],
)
def test_bad_slos_say_what_to_change(spec: object, message: str) -> None:
    with pytest.raises(SloError) as caught:
        parse_slo(spec)
    assert message in str(caught.value)


def test_percentile_and_unit_properties() -> None:
    assert parse_slo("p99.9 latency < 5ms").percentile == 99.9
    assert parse_slo("mean latency < 5ms").percentile is None
    assert parse_slo("error_rate < 1%").percentile is None
    assert [parse_slo(t).unit for t in ("p99 gap < 1s", "error_rate < 1%", "throughput > 1/s")] == [
        "us",
        "fraction",
        "/s",
    ]


def test_str_names_the_traffic_entry() -> None:
    assert str(parse_slo("p99 latency < 5ms")) == "p99 latency < 5ms"
    assert str(parse_slo("p99 latency < 5ms", traffic="linear-sync")) == "linear-sync: p99 latency < 5ms"


@pytest.mark.parametrize(
    ("text", "measured", "passed"),
    [
        ("p99 latency < 50ms", 49_999.0, True),
        ("p99 latency < 50ms", 50_000.0, False),
        ("p99 latency <= 50ms", 50_000.0, True),
        ("throughput >= 200/s", 200.0, True),
        ("throughput > 200/s", 200.0, False),
        ("error_rate < 0.1%", 0.0005, True),
        ("error_rate < 0.1%", 0.002, False),
        ("p99 latency < 50ms", None, None),
        ("p99 latency < 50ms", math.nan, None),
    ],
)
def test_evaluate(text: str, measured: float | None, passed: bool | None) -> None:
    result = evaluate(parse_slo(text), measured)
    assert result.passed is passed
    assert result.slo.text == text
    assert result.measured == (None if passed is None else measured)


def test_slo_is_frozen() -> None:
    slo = parse_slo("p99 latency < 5ms")
    with pytest.raises(AttributeError):
        slo.threshold = 1.0  # type: ignore[misc]
    assert isinstance(slo, Slo)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # the first comparator splits the text; the rest belongs to the threshold
        ("p99 latency < 5ms < 3ms", "threshold '5ms < 3ms' is not a number with a unit, e.g. 50ms"),
        ("error_rate < lots", "threshold 'lots' is not a number with a unit, e.g. 0.1%"),
        ("throughput > many", "threshold 'many' is not a number with a unit, e.g. 200/s"),
        # two metric names: the first is read as a (wrong) statistic, not as a swapped order
        ("ttfr latency < 5ms", "unknown statistic 'ttfr'; use pNN (e.g. p99, p99.9), mean, max or min"),
        ("p100.5 latency < 5ms", "percentile 'p100.5' is out of range; use p0.1 ... p100"),
        ({"metric": "latency", "stat": "p99", "op": "<", "limit": "5ms"}, "unknown SLO key 'limit'; known keys: "),
        ({"metric": "latency"}, "SLO mapping needs op, threshold (keys: metric, stat, op, threshold)"),
        ({"metric": "latency", "stat": 99, "op": "<", "threshold": "5ms"}, "SLO stat must be a text, not a number"),
        ({"metric": "latency", "stat": "p99", "op": None, "threshold": "5ms"}, "SLO op must be a text, not nothing"),
        ({"metric": ["latency"], "op": "<", "threshold": "5ms"}, "SLO metric must be a text, not a list"),
        ({"metric": {"name": "latency"}, "op": "<", "threshold": "5ms"}, "SLO metric must be a text, not a mapping"),
        ({"metric": b"latency", "op": "<", "threshold": "5ms"}, "SLO metric must be a text, not a bytes value"),
        ({"metric": "latency", "stat": "p99", "op": "<", "threshold": ["5ms"]}, "such as '50ms', not a list"),
        ({"metric": "latency", "stat": "p99", "op": "<", "threshold": None}, "such as '50ms', not nothing"),
        ({"metric": "latency", "stat": "p99", "op": "<", "threshold": False}, "such as '50ms', not a boolean"),
        (True, "not a boolean"),
        ([1], "not a list"),
        (("p99 latency < 5ms",), "not a tuple value"),
    ],
)
def test_error_messages_in_full(spec: object, message: str) -> None:
    with pytest.raises(SloError) as caught:
        parse_slo(spec)
    assert message in str(caught.value)


def test_unknown_key_message_lists_every_key_when_nothing_is_close() -> None:
    with pytest.raises(SloError) as caught:
        parse_slo({"metric": "latency", "stat": "p99", "op": "<", "zzz": "5ms"})
    assert str(caught.value) == "unknown SLO key 'zzz'; known keys: metric, stat, op, threshold"


@pytest.mark.parametrize(
    ("text", "threshold"),
    [
        ("p0.5 latency < 1s", 1_000_000.0),  # percentiles below 1 are valid
        ("p100 latency <= 1s", 1_000_000.0),
        ("throughput > 0/s", 0.0),  # a zero threshold is valid; only negative ones are refused
        ("error_rate <= 0%", 0.0),
        ("max gap < 0us", 0.0),
    ],
)
def test_boundary_values_are_accepted(text: str, threshold: float) -> None:
    assert parse_slo(text).threshold == threshold
