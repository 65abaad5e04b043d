"""The statistics of ``compare`` on synthetic histograms: verdicts, tolerance, determinism, fallbacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import value_at_percentiles
from loadtest.recording.recorder import new_histogram
from loadtest.report.compare import (
    IMPROVED,
    INCONCLUSIVE,
    REGRESSED,
    UNCHANGED,
    CompareOptions,
    RunSamples,
    Tolerance,
    ToleranceError,
    TrafficSamples,
    comparability_problems,
    compare_samples,
    parse_tolerances,
)

PERCENTILES = (50.0, 90.0, 99.0)


def _histogram(values: np.ndarray) -> HdrHistogram:
    histogram = new_histogram("latency", 10_000_000)
    for value in values:
        histogram.record_value(max(int(value), 1))
    return histogram


def _run(
    seed: int,
    *,
    median_us: float = 20_000.0,
    scale: float = 1.0,
    intervals: int = 20,
    per_interval: int = 400,
    sigma: float = 0.25,
    rate_rps: float = 400.0,
) -> RunSamples:
    rng = np.random.default_rng(seed)
    histograms = [_histogram(rng.lognormal(np.log(median_us * scale), sigma, per_interval)) for _ in range(intervals)]
    ok = [int(v) for v in rng.poisson(rate_rps, intervals)]
    traffic = TrafficSamples(
        throughput_rps=sum(ok) / intervals,
        interval_ok=ok,
        interval_s=[1.0] * intervals,
        metrics={"latency": histograms},
    )
    return RunSamples(f"run-{seed}", PERCENTILES, {"t": traffic})


def _verdicts(rows: Sequence[Any]) -> dict[str, str]:
    return {row.statistic: row.verdict for row in rows}


def test_runs_from_the_same_distribution_show_no_change() -> None:
    rows = compare_samples(_run(1), _run(2))
    verdicts = _verdicts(rows)
    assert verdicts["p50"] == UNCHANGED
    assert REGRESSED not in verdicts.values() and IMPROVED not in verdicts.values()
    for row in rows:
        assert row.ci_low < row.ci_high


def test_a_slower_candidate_regresses_and_a_faster_one_improves() -> None:
    slower = _verdicts(compare_samples(_run(1), _run(2, scale=1.2)))
    assert [slower[k] for k in ("p50", "p90", "p99")] == [REGRESSED] * 3
    faster = _verdicts(compare_samples(_run(1), _run(2, scale=0.8)))
    assert [faster[k] for k in ("p50", "p90", "p99")] == [IMPROVED] * 3


def test_lower_throughput_is_a_regression() -> None:
    verdicts = _verdicts(compare_samples(_run(1, rate_rps=400), _run(2, rate_rps=300)))
    assert verdicts["throughput"] == REGRESSED
    verdicts = _verdicts(compare_samples(_run(1, rate_rps=300), _run(2, rate_rps=400)))
    assert verdicts["throughput"] == IMPROVED


def test_the_absolute_floor_keeps_microsecond_noise_from_flagging() -> None:
    base, cand = _run(1, median_us=200.0), _run(2, median_us=200.0, scale=1.15)
    with_floor = compare_samples(base, cand, CompareOptions(tolerance=Tolerance(floor_us=100.0)))
    assert _verdicts(with_floor)["p50"] == UNCHANGED
    without_floor = compare_samples(base, cand, CompareOptions(tolerance=Tolerance(floor_us=0.0)))
    assert _verdicts(without_floor)["p50"] == REGRESSED


def test_an_interval_straddling_the_band_is_inconclusive() -> None:
    # +5% shift with a 5% tolerance: the interval lies across the band's edge
    rows = compare_samples(_run(1), _run(2, scale=1.05), CompareOptions(percentiles=(50.0,)))
    assert _verdicts(rows)["p50"] == INCONCLUSIVE


def test_a_tail_percentile_with_too_few_samples_is_inconclusive() -> None:
    rows = compare_samples(
        _run(1, intervals=10, per_interval=20),
        _run(2, intervals=10, per_interval=20, scale=2.0),
        CompareOptions(percentiles=(50.0, 99.9)),
    )
    verdicts = _verdicts(rows)
    assert verdicts["p50"] == REGRESSED
    assert verdicts["p99.9"] == INCONCLUSIVE
    assert "needs at least 1000 samples" in next(r.note for r in rows if r.statistic == "p99.9")


def test_point_estimates_are_the_whole_run_histogram_percentiles() -> None:
    base = _run(1)
    [p50, p90, p99, _] = compare_samples(base, _run(2))
    merged = new_histogram("latency", 10_000_000)
    for histogram in base.traffic["t"].metrics["latency"]:
        merged.add(histogram)
    assert [p50.baseline, p90.baseline, p99.baseline] == value_at_percentiles(merged, PERCENTILES)


def test_the_bootstrap_is_seeded() -> None:
    base, cand = _run(1), _run(2, scale=1.1)
    first = compare_samples(base, cand, CompareOptions(seed=7))
    assert first == compare_samples(base, cand, CompareOptions(seed=7))
    other = compare_samples(base, cand, CompareOptions(seed=8))
    assert [r.ci_low for r in first] != [r.ci_low for r in other]


def test_few_intervals_fall_back_to_resampling_requests() -> None:
    rows = compare_samples(_run(1, intervals=3, per_interval=2000), _run(2, intervals=3, per_interval=2000, scale=1.2))
    assert {row.method for row in rows} == {"requests"}
    assert _verdicts(rows)["p50"] == REGRESSED
    many = compare_samples(_run(1), _run(2))
    assert {row.method for row in many} == {"intervals"}


def test_entries_and_metrics_missing_from_one_run_are_skipped() -> None:
    base, cand = _run(1), _run(2)
    cand.traffic["only-candidate"] = cand.traffic["t"]
    base.traffic["t"].metrics["ttfr"] = base.traffic["t"].metrics["latency"]
    rows = compare_samples(base, cand)
    assert {(r.traffic, r.metric) for r in rows} == {("t", "latency"), ("t", "throughput")}


@pytest.mark.parametrize(
    ("values", "relative", "per_statistic"),
    [
        ([], 0.05, {}),
        (["10%"], 0.10, {}),
        (["0.02"], 0.02, {}),
        (["p99.9=20%", "throughput=3%"], 0.05, {"p99.9": 0.20, "throughput": 0.03}),
        (["P99=10%", "7.5%"], 0.075, {"p99": 0.10}),
    ],
)
def test_tolerances_parse(values: list[str], relative: float, per_statistic: dict[str, float]) -> None:
    tolerance = parse_tolerances(values)
    assert tolerance.relative == pytest.approx(relative)
    assert tolerance.per_statistic == pytest.approx(per_statistic)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "ambiguous"),
        ("fast", "not a percentage"),
        ("latency=5%", "not a statistic"),
        ("p99=x", "not a percentage"),
    ],
)
def test_bad_tolerances_say_what_to_write(value: str, message: str) -> None:
    with pytest.raises(ToleranceError, match=message):
        parse_tolerances([value])


def test_the_band_is_relative_with_a_floor() -> None:
    tolerance = Tolerance(relative=0.05, per_statistic={"p99": 0.10}, floor_us=100.0, floor_rps=2.0)
    assert tolerance.allowed("p50", 20_000.0) == pytest.approx(1_000.0)
    assert tolerance.allowed("p99", 20_000.0) == pytest.approx(2_000.0)
    assert tolerance.allowed("p50", 500.0) == 100.0
    assert tolerance.allowed("throughput", 10.0) == 2.0


def _summary(hash_: str = "h", config: str = "sha256:a", version: str = "2.51.0", port: int = 1) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}"
    return {
        "scenario": {"hash": hash_},
        "provenance": {
            "servers": {url: {"version": version}},
            "models": {f"Sleep@{url}": {"model": "Sleep", "version": "", "server": url, "config_hash": config}},
        },
    }


def test_comparability_checks_scenario_model_config_and_server_version() -> None:
    assert comparability_problems(_summary(port=1), _summary(port=2)) == []  # ports differ between runs
    assert comparability_problems(_summary(), _summary(hash_="other")) == [
        "scenario hash differs: baseline h, candidate other"
    ]
    assert comparability_problems(_summary(), _summary(config="sha256:b")) == [
        "model config of Sleep over http differs: baseline sha256:a, candidate sha256:b"
    ]
    assert comparability_problems(_summary(), _summary(version="2.52.0")) == [
        "server version differs: baseline 2.51.0, candidate 2.52.0"
    ]
