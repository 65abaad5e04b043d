"""A sweep step from synthetic intervals: warm-up, windows, stability, SLOs, saturation flags."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from loadtest.capacity.stability import StabilityRule
from loadtest.capacity.steps import StepMeter, StepSettings, clear_breach, window_of
from loadtest.recording.recorder import LATENCY, Interval, TrafficCounters, new_histogram
from loadtest.report._capacity_view import build_capacity_view
from loadtest.report.capacity import render_capacity
from loadtest.slo import parse_slo

S = 1_000_000_000
HIGHEST_US = 60_000_000


def _interval(start_s: float, ok: int, latency_us: int, *, errors: int = 0, late: int = 0) -> Interval:
    histogram = new_histogram(LATENCY, HIGHEST_US)
    for _ in range(ok):
        histogram.record_value(latency_us)
    counters = TrafficCounters(ok=ok, errors=Counter({"server": errors}) if errors else Counter(), late=late)
    start_ns = round(start_s * S)
    return Interval(start_ns, start_ns + S, {("t", LATENCY): histogram}, {"t": counters})


def _extra(cpu_s: float = 0.1, lag_us: float = 2_000, in_flight: int = 2) -> dict[str, Any]:
    return {"cpu_s": cpu_s, "loop_lag_p99_us": lag_us, "in_flight": in_flight}


def _settings(**kwargs: Any) -> StepSettings:
    base: dict[str, Any] = {
        "rule": StabilityRule(tolerance_pct=10, window_s=2, windows=3, max_windows=6),
        "warmup_s": 1.0,
        "slos": [parse_slo("p99 latency < 60ms")],
        "highest_us": HIGHEST_US,
    }
    base.update(kwargs)
    return StepSettings(**base)


def _feed(meter: StepMeter, intervals: list[tuple[Interval, dict[str, Any]]]) -> list[str]:
    phases = []
    for interval, extra in intervals:
        phases.append(meter.add(interval, extra))
        if meter.done:
            break
    return phases


def test_warmup_is_skipped_and_stable_windows_end_the_step() -> None:
    meter = StepMeter(0, 4, _settings(), start_ns=0)
    intervals = [(_interval(0, 10, 500_000), _extra())]  # a slow first second: warm-up
    intervals += [(_interval(t, 200, 21_000), _extra()) for t in range(1, 20)]
    phases = _feed(meter, intervals)
    assert phases == ["warmup"] + ["measure"] * 6  # three windows of two 1 s intervals
    step = meter.result()
    assert step["stable"] is True and step["passed"] is True
    assert step["throughput_rps"] == 200.0 and step["requests"] == 1200
    assert [w["throughput_rps"] for w in step["windows"]] == [200.0, 200.0, 200.0]
    assert 20_900 <= step["latency_us"]["p99"] <= 21_100
    assert step["slo"][0]["passed"] is True and step["note"] is None


def test_an_unstable_step_that_breaks_the_slo_fails() -> None:
    meter = StepMeter(1, 8, _settings(early_stop=False), start_ns=0)
    # warm-up, then windows whose p99 alternates 30 ms / 90 ms: never within ±10 %, half of them over 60 ms
    latencies = [21_000] + [21_000, 30_000, 21_000, 90_000] * 4
    _feed(meter, [(_interval(t, 100, lat), _extra()) for t, lat in enumerate(latencies)])
    step = meter.result()
    assert meter.done and len(step["windows"]) == 6  # max_windows
    assert step["stable"] is False and step["passed"] is False and step["inconclusive"] is False
    assert "not stable after 6 windows" in step["note"]


def test_unstable_met_overall_but_not_in_every_window_is_inconclusive() -> None:
    rule = StabilityRule(tolerance_pct=10, window_s=2, windows=3, max_windows=3)
    meter = StepMeter(1, 8, _settings(rule=rule, early_stop=False), start_ns=0)
    intervals = [_interval(t, 100, 21_000) for t in range(7)]  # warm-up, then three windows of two
    for _ in range(4):  # 4 slow requests in the second window: its p99 is 65 ms, the step's stays 21 ms
        intervals[3].histograms[("t", LATENCY)].record_value(65_000)
    _feed(meter, [(interval, _extra()) for interval in intervals])
    step = meter.result()
    assert [round((w["p99_us"] or 0) / 1000) for w in step["windows"]] == [21, 65, 21]
    assert step["slo"][0]["passed"] is True and step["stable"] is False
    assert step["passed"] is False and step["inconclusive"] is True


def test_a_clear_breach_ends_the_step_early() -> None:
    meter = StepMeter(2, 300, _settings(), start_ns=0)
    phases = _feed(meter, [(_interval(t, 200, 300_000), _extra()) for t in range(0, 20)])
    assert phases.count("measure") == 4  # two windows, both with p99 = 300 ms > 2 x 60 ms
    step = meter.result()
    assert step["passed"] is False and "stopped early" in step["note"]


def test_a_saturated_generator_is_flagged_and_not_judged() -> None:
    meter = StepMeter(3, 4, _settings(), start_ns=0)
    _feed(meter, [(_interval(t, 200, 21_000), _extra(cpu_s=0.97)) for t in range(0, 20)])
    step = meter.result()
    assert step["generator"]["saturated"] is True
    assert "CPU" in step["generator"]["reason"]
    assert step["passed"] is None
    assert "generator saturated" in step["note"]
    result = {"kind": "capacity", "run_id": "r", "unit": "req/s", "steps": [step], "answer": {"level": None}}
    text = render_capacity(build_capacity_view(Path("capacity.json"), result), "text")
    assert " invalid " in text and f"step 3: {step['generator']['reason']}; the step is no measurement" in text


def test_open_loop_step_below_the_offered_rate_is_server_saturated() -> None:
    settings = _settings(slos=[], open_loop=True, max_in_flight=64)
    meter = StepMeter(4, 400, settings, start_ns=0)
    # Every worker busy (64 in flight) and many late sends: the server's doing, not the generator's.
    _feed(meter, [(_interval(t, 200, 50_000, late=150), _extra(in_flight=64)) for t in range(0, 20)])
    step = meter.result()
    assert step["server_saturated"] is True and step["passed"] is False
    assert step["generator"]["saturated"] is False and step["generator"]["late_share"] is None
    assert "achieved 200.0 of 400 req/s" in step["note"]


def test_late_sends_while_the_server_keeps_up_saturate_the_generator() -> None:
    meter = StepMeter(5, 200, _settings(slos=[], open_loop=True, max_in_flight=64), start_ns=0)
    _feed(meter, [(_interval(t, 200, 21_000, late=40), _extra(in_flight=4)) for t in range(0, 20)])
    step = meter.result()
    assert step["generator"]["saturated"] is True and step["generator"]["late_share"] == 0.2
    assert step["passed"] is None


def test_a_draining_backlog_extends_the_warmup() -> None:
    meter = StepMeter(6, 150, _settings(slos=[], open_loop=True, max_in_flight=64), start_ns=0)
    backlog = [60, 50, 35, 20, 3, 3, 3]
    phases = _feed(meter, [(_interval(t, 150, 21_000), _extra(in_flight=n)) for t, n in enumerate(backlog)])
    assert phases == ["warmup", "warmup", "warmup", "warmup", "measure", "measure", "measure"]


def test_window_of_merges_intervals() -> None:
    window = window_of([_interval(0, 100, 10_000, errors=5), _interval(1, 300, 30_000)])
    assert window.throughput_rps == 200.0 and window.requests == 405 and window.errors == 5
    assert window.p99_us is not None and 29_900 <= window.p99_us <= 30_100


def test_clear_breach_rules() -> None:
    def result(metric: str, op: str, threshold: float, measured: float) -> dict[str, Any]:
        passed = {"<": measured < threshold, ">=": measured >= threshold}[op]
        return {
            "slo": "x",
            "metric": metric,
            "comparator": op,
            "threshold": threshold,
            "measured": measured,
            "passed": passed,
        }

    assert clear_breach([result("latency", "<", 60_000, 100_000)]) is None  # breached, not clearly
    assert clear_breach([result("latency", "<", 60_000, 130_000)]) is not None
    assert clear_breach([result("error_rate", "<", 0.001, 0.005)]) is None  # under threshold + 1 point
    assert clear_breach([result("error_rate", "<", 0.001, 0.02)]) is not None
    assert clear_breach([result("throughput", ">=", 100, 40)]) is not None


def test_a_scout_step_ends_on_a_first_window_that_meets_every_slo() -> None:
    meter = StepMeter(0, 100, _settings(scout=True, open_loop=True, max_in_flight=64), start_ns=0)
    phases = _feed(meter, [(_interval(t, 100, 21_000), _extra()) for t in range(0, 20)])
    assert phases == ["warmup", "measure", "measure"]  # one window of two intervals
    step = meter.result()
    assert meter.scouted and step["scouted"] is True and step["stable"] is None and step["passed"] is True
    assert step["note"] == "scout: its first window met every SLO; not measured to stability"
    result = {"kind": "capacity", "run_id": "r", "unit": "req/s", "steps": [step], "answer": {"level": None}}
    text = render_capacity(build_capacity_view(Path("capacity.json"), result), "text")
    assert " scout (1) " in text


def test_a_scout_step_that_does_not_pass_its_first_window_is_measured_in_full() -> None:
    cases = {
        "p99 over the bound": (_settings(scout=True, early_stop=False), 100, 100, 61_000, _extra()),
        "server behind the offered rate": (
            _settings(scout=True, open_loop=True, max_in_flight=64),
            150,
            100,
            21_000,
            _extra(),
        ),
        "generator saturated": (_settings(scout=True), 100, 100, 21_000, _extra(cpu_s=0.97)),
        "no SLO to pass": (_settings(scout=True, slos=[]), 100, 100, 21_000, _extra()),
        "not a scout": (_settings(), 100, 100, 21_000, _extra()),
    }
    for what, (settings, level, ok, latency_us, extra) in cases.items():
        meter = StepMeter(0, level, settings, start_ns=0)
        _feed(meter, [(_interval(t, ok, latency_us), extra) for t in range(0, 20)])
        assert not meter.scouted and len(meter.windows) >= 3, what


def test_a_scout_step_whose_first_window_fails_is_measured_in_full_even_if_later_ones_pass() -> None:
    meter = StepMeter(0, 100, _settings(scout=True), start_ns=0)
    latencies = [21_000, 21_000, 65_000] + [21_000] * 17  # warm-up, a first window with p99 65 ms, then good ones
    _feed(meter, [(_interval(t, 100, lat), _extra()) for t, lat in enumerate(latencies)])
    assert not meter.scouted and len(meter.windows) >= 3
