"""The verdict rule on synthetic per-run values: known shifts, known noise, known drift.

Each run's statistic is drawn as ``median x (1 + drift + noise)`` with seeded generators. How the
sample sizes were chosen (so that the assertions are deterministic in practice, not only by seed):

- single comparisons use shifts many standard errors away from the tolerance edge (e.g. +20% with 2%
  noise and 5 runs per side: the interval's half-width is about 2.5%, so the interval clears the 5%
  band by about 5 half-widths);
- A/A false-alarm counts use 1,000 simulated comparisons of 5 vs 5 runs, each set shifted by its
  own drift (standard deviation half the run-to-run noise). With the drift band a false alarm needs
  a set-level shift beyond 3 x the spread's upper bound plus the interval's half-width: 0 of 4,000 in
  a longer simulation, so 0 of 1,000 is expected; the control without the band (same seed) fails
  about 9 times in 1,000 (asserted: at least 3).
"""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.report._judge import IMPROVED, INCONCLUSIVE, REGRESSED, UNCHANGED, Evidence, TailCheck, judge


def _runs(rng: np.random.Generator, median: float, noise: float, count: int, drift: float = 0.0) -> list[float]:
    return list(median * (1.0 + drift + rng.normal(0.0, noise, count)))


def test_a_known_slowdown_regresses_and_a_speedup_improves() -> None:
    rng = np.random.default_rng(1)
    base = _runs(rng, 20_000, 0.01, 5)
    slower = judge(Evidence(base, _runs(rng, 24_000, 0.01, 5)))
    assert slower.verdict == REGRESSED
    assert slower.method == "rank"
    assert "lies above +5.0%" in slower.reason and "p = " in slower.reason
    assert 0.15 < slower.change / slower.baseline < 0.25
    faster = judge(Evidence(base, _runs(rng, 16_000, 0.01, 5)))
    assert faster.verdict == IMPROVED
    assert "lies below −5.0%" in faster.reason


def test_no_change_within_the_tolerance_is_unchanged() -> None:
    rng = np.random.default_rng(2)
    result = judge(Evidence(_runs(rng, 20_000, 0.01, 6), _runs(rng, 20_000, 0.01, 6)))
    assert result.verdict == UNCHANGED
    assert result.reason.startswith("CI [") and "lies within ±5.0%" in result.reason
    assert "real" not in result.reason  # the interval holds zero: no change is shown


def test_a_change_smaller_than_the_tolerance_is_unchanged_and_says_the_sides_differ() -> None:
    rng = np.random.default_rng(2)
    base = _runs(rng, 20_000, 0.002, 8)
    rise = judge(Evidence(base, _runs(rng, 20_500, 0.002, 8)))  # +2.5%: clearly real, inside ±5%
    assert rise.verdict == UNCHANGED
    assert rise.reason.endswith("lies within ±5.0% (a rise, a change or machine drift, smaller than the tolerance)")
    fall = judge(Evidence(base, _runs(rng, 19_500, 0.002, 8)))
    assert fall.verdict == UNCHANGED
    assert fall.reason.endswith("(a fall, a change or machine drift, smaller than the tolerance)"), fall.reason
    paired = judge(Evidence(base, _runs(rng, 20_500, 0.002, 8), paired=True))
    assert paired.verdict == UNCHANGED
    assert paired.reason.endswith("(a real rise, smaller than the tolerance)"), paired.reason


def test_identical_measurements_are_unchanged_whatever_the_run_count() -> None:
    for values in ([21_500.0], [21_500.0, 22_000.0], [1.0, 2.0, 3.0, 40.0, 5.0]):
        result = judge(Evidence(values, list(reversed(values))))
        assert result.verdict == UNCHANGED
        assert result.reason == "identical measurements on both sides"


def test_lower_throughput_is_a_regression_said_in_its_own_direction() -> None:
    rng = np.random.default_rng(3)
    result = judge(Evidence(_runs(rng, 400, 0.01, 5), _runs(rng, 300, 0.01, 5), worse_sign=-1.0))
    assert result.verdict == REGRESSED
    assert "CI [−" in result.reason and "lies below" in result.reason


def test_the_absolute_floor_keeps_microsecond_noise_from_flagging() -> None:
    rng = np.random.default_rng(4)
    base, cand = _runs(rng, 200, 0.01, 5), _runs(rng, 230, 0.01, 5)  # +15%, but only 30 µs
    assert judge(Evidence(base, cand, floor=100.0)).verdict == UNCHANGED
    assert judge(Evidence(base, cand, floor=0.0)).verdict == REGRESSED


def test_the_error_rate_is_judged_in_percentage_points() -> None:
    base = [0.0, 0.0, 0.0, 0.0, 0.0]
    worse = judge(Evidence(base, [0.02, 0.021, 0.019, 0.02, 0.022], relative=False, tolerance=0.001))
    assert worse.verdict == REGRESSED
    assert "pp" in worse.reason
    assert worse.change == pytest.approx(0.02)


def test_a_small_real_slowdown_is_never_called_an_improvement() -> None:
    # A true +5% (Sleep 20 -> 21 ms) against a 5% tolerance sits on the edge: any verdict but improved.
    # A true +7% is beyond the tolerance: caught, or inconclusive with what would decide it.
    rng = np.random.default_rng(5)
    at_edge, beyond = [], []
    for _ in range(200):
        at_edge.append(judge(Evidence(_runs(rng, 21_300, 0.01, 5), _runs(rng, 22_365, 0.01, 5))).verdict)
        result = judge(Evidence(_runs(rng, 21_300, 0.01, 5), _runs(rng, 22_791, 0.01, 5)))
        beyond.append(result.verdict)
        if result.verdict == INCONCLUSIVE:
            assert result.blocker in ("overlap", "noise", "drift"), result.reason
    assert IMPROVED not in at_edge
    assert set(beyond) <= {REGRESSED, INCONCLUSIVE}
    assert REGRESSED in beyond


def test_the_runs_an_inconclusive_verdict_asks_for_do_decide_it() -> None:
    # +15% with 10% noise, 4 runs per side: the 4 vs 4 interval spans the extremes of the 16 pairwise
    # differences, so it straddles the 5% edge. The count it asks for then decides the same comparison
    # in most of 100 simulated trials (it aims at ~80%; asserted: at least 60 of 100).
    rng = np.random.default_rng(6)
    first = judge(Evidence(_runs(rng, 20_000, 0.10, 4), _runs(rng, 23_000, 0.10, 4)), drift_factor=0.0)
    assert first.verdict == INCONCLUSIVE and first.blocker == "overlap", first.reason
    assert first.repeats_needed is not None and 4 < first.repeats_needed <= 50
    assert f"≈ {first.repeats_needed} runs per side (run --repeat) would decide it" in first.reason
    count = first.repeats_needed
    decided = sum(
        judge(Evidence(_runs(rng, 20_000, 0.10, count), _runs(rng, 23_000, 0.10, count)), drift_factor=0.0).verdict
        == REGRESSED
        for _ in range(100)
    )
    assert decided >= 60


def _false_alarms(drift_factor: float, trials: int = 1000) -> int:
    """A/A run sets measured one after the other: each set shifted by its own machine drift (half the noise)."""
    rng = np.random.default_rng(7)
    alarms = 0
    for _ in range(trials):
        noise = 0.05
        base = _runs(rng, 20_000, noise, 5, drift=rng.normal(0, noise / 2))
        cand = _runs(rng, 20_000, noise, 5, drift=rng.normal(0, noise / 2))
        alarms += judge(Evidence(base, cand), drift_factor=drift_factor).verdict in (REGRESSED, IMPROVED)
    return alarms


def test_aa_sets_with_drift_between_them_raise_no_false_alarm() -> None:
    assert _false_alarms(drift_factor=3.0) == 0


def test_control_without_the_drift_band_the_same_aa_sets_cry_wolf() -> None:
    assert _false_alarms(drift_factor=0.0) >= 3


def test_paired_chunks_see_through_machine_drift_that_unpaired_sets_cannot() -> None:
    # Every pair runs on a machine slowed by its own factor (±30%); the candidate is 10% slower in each.
    rng = np.random.default_rng(8)
    machine = rng.lognormal(0.0, 0.3, 8)
    base = list(20_000 * machine * (1 + rng.normal(0, 0.01, 8)))
    cand = list(22_000 * machine * (1 + rng.normal(0, 0.01, 8)))
    paired = judge(Evidence(base, cand, paired=True))
    assert paired.verdict == REGRESSED and paired.method == "paired"
    assert "drift" not in paired.reason  # paired runs need no drift band
    assert 0.08 < paired.change / paired.baseline < 0.12
    unpaired = judge(Evidence(base, cand))
    assert unpaired.verdict == INCONCLUSIVE and unpaired.blocker == "drift", unpaired.reason
    assert "exceeds ±5.0% but not the ±" in unpaired.reason and "ab interleaves them" in unpaired.reason


def test_one_run_per_side_says_it_cannot_separate_noise_and_flags_only_huge_changes() -> None:
    small = judge(Evidence([21_500.0], [25_500.0], noise_floor=0.30))
    assert small.verdict == INCONCLUSIVE and small.method == "noise floor"
    assert "1 run per side cannot show the noise" in small.reason
    assert "≥ 4 runs per side (run --repeat)" in small.reason
    huge = judge(Evidence([20_000.0], [100_000.0], noise_floor=0.30))
    assert huge.verdict == REGRESSED
    calibrated = judge(Evidence([21_500.0], [25_500.0], noise_floor=0.01, noise_source="calibrated"))
    assert calibrated.verdict == REGRESSED


def test_an_inconclusive_paired_verdict_names_the_tolerance_not_a_drift_band() -> None:
    rng = np.random.default_rng(10)
    base = list(20_000 * (1 + rng.normal(0, 0.10, 8)))
    cand = list(22_000 * (1 + rng.normal(0, 0.10, 8)))
    result = judge(Evidence(base, cand, paired=True), confidence=0.99)
    assert result.verdict == INCONCLUSIVE, result.reason
    assert "overlaps ±5.0%" in result.reason and "drift" not in result.reason


def test_too_few_pairs_fall_back_to_the_noise_floor() -> None:
    result = judge(Evidence([100.0, 101.0, 99.0], [140.0, 141.0, 139.0], paired=True, noise_floor=0.3))
    assert result.method == "noise floor"
    assert "≥ 6 pairs (ab --chunks)" in result.reason


def test_a_tail_percentile_with_too_few_samples_is_inconclusive_with_the_run_length_it_needs() -> None:
    rng = np.random.default_rng(9)
    tail = TailCheck(percentile=99.9, fewest_samples=1_200, min_beyond=10, rate_per_s=250.0)
    result = judge(Evidence(_runs(rng, 40_000, 0.02, 5), _runs(rng, 80_000, 0.02, 5), tail=tail))
    assert result.verdict == INCONCLUSIVE
    assert result.reason == "only 1 sample beyond p99.9 per run: needs ≥ 10 (≥ 10,000 samples/run, ~40 s at 250/s)"
    enough = TailCheck(percentile=99.0, fewest_samples=1_200, min_beyond=10, rate_per_s=250.0)
    assert judge(Evidence(_runs(rng, 40_000, 0.02, 5), _runs(rng, 80_000, 0.02, 5), tail=enough)).verdict == REGRESSED
