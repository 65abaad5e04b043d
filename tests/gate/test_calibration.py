"""The A/A noise figures of ``calibrate`` on synthetic runs with known noise.

20 pairs of runs: the pooled standard deviation then has 38 degrees of freedom, a relative standard
error of about 11%; the assertions allow ±35% (3 standard errors), and the robust paired figure
(a median absolute deviation of 20 differences, standard error about 25%) ±50%.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadtest.gate.calibration import (
    CalibrationError,
    detectable_change,
    measure_noise,
    read_calibration,
    render_calibration,
    suggested_tolerance,
    write_calibration,
)
from loadtest.report._runvalues import RunValues

NOISE = {"p50": 0.01, "p99": 0.10}


def _runs(rng: np.random.Generator, count: int) -> list[RunValues]:
    runs = []
    for _ in range(count):
        values = {
            ("t", "latency", "p50"): 20_000 * (1 + rng.normal(0, NOISE["p50"])),
            ("t", "latency", "p99"): 30_000 * (1 + rng.normal(0, NOISE["p99"])),
            ("t", "throughput", "throughput"): 180 * (1 + rng.normal(0, 0.03)),
            ("t", "error_rate", "error_rate"): 0.0,
        }
        runs.append(RunValues(values, {("t", "latency"): 50_000}, {"t": 180.0}))
    return runs


def test_the_noise_of_each_statistic_is_recovered_and_tolerances_follow() -> None:
    rng = np.random.default_rng(3)
    calibration = measure_noise(_runs(rng, 20), _runs(rng, 20))
    figures = {s.statistic: s for s in calibration.statistics}
    for statistic, noise in NOISE.items():
        assert figures[statistic].noise == pytest.approx(noise, rel=0.35)
        assert figures[statistic].paired_noise == pytest.approx(noise * np.sqrt(2), rel=0.5)
        assert figures[statistic].suggested_tolerance == suggested_tolerance(statistic, figures[statistic].noise, 20)
        assert figures[statistic].detectable_change > figures[statistic].suggested_tolerance
    assert figures["error_rate"].noise == 0.0
    assert calibration.tolerances["error_rate"] == pytest.approx(0.001)
    assert 0.03 <= calibration.tolerances["p50"] <= 0.05
    assert calibration.noise_floor["p99"] == figures["p99"].noise
    assert calibration.false_alarms == []
    assert {s.aa_verdict for s in calibration.statistics} <= {"unchanged", "inconclusive"}


def test_more_repeats_detect_smaller_changes() -> None:
    assert detectable_change(0.01, 10, 0.95) < detectable_change(0.01, 5, 0.95)
    # 1% noise, 5 runs per side: the band is the 5% tolerance (3 x the 1.51% upper bound = 4.5% is below it)
    expected = 0.05 + (1.96 + 0.8416) * 1.0233 * 0.01 * np.sqrt(0.4)
    assert detectable_change(0.01, 5, 0.95) == pytest.approx(expected, rel=1e-3)
    assert detectable_change(0.05, 5, 0.95) > 3 * 0.05  # a noisy statistic: the drift band dominates
    assert suggested_tolerance("p50", 0.0, 5) == 0.01
    assert suggested_tolerance("p50", 0.01, 5) == 0.05  # 3 x 1.51% (90% upper bound of 1% from 8 dof), rounded up


def test_calibration_json_round_trips_and_renders_the_suggested_options(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    calibration = measure_noise(_runs(rng, 5), _runs(rng, 5))
    path = tmp_path / "calibration.json"
    write_calibration(path, calibration, {"scenario": {"name": "s"}})
    loaded = read_calibration(path)
    assert loaded.tolerances == calibration.tolerances and loaded.noise_floor == calibration.noise_floor
    text = render_calibration(calibration)
    assert f"--tolerance p50={calibration.tolerances['p50'] * 100:g}%" in text
    assert "A/A false alarms with compare --calibration: 0 of 4 statistics" in text
    path.write_text('{"calibration_version": 1, "tolerances": {}}')
    with pytest.raises(CalibrationError, match="missing or invalid field"):
        read_calibration(path)
