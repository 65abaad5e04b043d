"""``compare`` of run sets (and ``report`` of a run set) on synthetic run directories.

The runs are written by the real writers (see ``runs.py``), with chosen medians: 900 lognormal
latencies per run (sigma 0.1), whose median's own sampling error is about 0.4%, far below the
shifts the tests choose (+20%) and well inside the 5% tolerance for "no change" sets (medians
spread by ±0.5%).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loadtest.cli import main
from loadtest.exit_codes import ExitCode
from loadtest.recording.rundir import RunDirectoryError
from loadtest.recording.runset import RUNSET_FILE, load_runset
from loadtest.report.compare import REGRESSED, UNCHANGED, compare_sets

from .runs import FIXTURES, write_set

STEADY = [20_000, 20_100, 19_900, 20_050, 19_950]
SLOWER = [24_000, 24_100, 23_900, 24_050, 23_950]


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _rows(path: Path) -> dict[tuple[str, str, str], dict[str, object]]:
    return {(r["traffic"], r["metric"], r["statistic"]): r for r in json.loads(path.read_text())["rows"]}


def test_a_slower_candidate_set_regresses_exit_4(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    cand = write_set(tmp_path / "cand", SLOWER, seed=2)
    result = invoke("compare", base, cand, "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.REGRESSION, result.output
    assert "Baseline `base` (5 runs) → candidate `cand` (5 runs)." in result.output
    rows = _rows(tmp_path / "c.json")
    p50 = rows[("t", "latency", "p50")]
    assert p50["verdict"] == REGRESSED and p50["method"] == "rank"
    assert (p50["baseline_runs"], p50["candidate_runs"]) == (5, 5)
    assert 0.18 < float(p50["relative_change"]) < 0.22
    assert str(p50["reason"]).startswith("CI [+")


def test_a_run_set_against_itself_is_unchanged_everywhere(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    result = invoke("compare", base, base, "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.OK, result.output
    verdicts = {row["verdict"] for row in _rows(tmp_path / "c.json").values()}
    assert verdicts == {UNCHANGED}
    assert "0 regressed, 0 improved, 5 unchanged, 0 inconclusive." in result.output


def test_two_sets_of_the_same_distribution_show_no_regression(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    same = write_set(tmp_path / "same", list(reversed(STEADY)), seed=2)
    comparison = compare_sets(load_runset(base), load_runset(same))
    assert not comparison.regressions
    assert {r.judgement.verdict for r in comparison.rows if r.statistic == "p50"} == {UNCHANGED}


def test_a_wide_tolerance_accepts_the_slower_set(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    cand = write_set(tmp_path / "cand", SLOWER, seed=2)
    result = invoke("compare", base, cand, "--tolerance", "30%", "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.OK, result.output
    assert _rows(tmp_path / "c.json")[("t", "latency", "p50")]["verdict"] == UNCHANGED


def test_a_set_against_one_run_judges_with_the_spread_the_set_shows(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    slower = write_set(tmp_path / "slower", [24_000], seed=2) / "r01"
    result = invoke("compare", base, slower, "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.REGRESSION, result.output
    p50 = _rows(tmp_path / "c.json")[("t", "latency", "p50")]
    assert p50["verdict"] == REGRESSED and p50["method"] == "noise floor"
    same = write_set(tmp_path / "same", [20_040], seed=3) / "r01"
    assert invoke("compare", base, same, "--json", tmp_path / "s.json").exit_code == ExitCode.OK
    p50 = _rows(tmp_path / "s.json")[("t", "latency", "p50")]
    assert p50["verdict"] == UNCHANGED, p50["reason"]


def test_two_runs_against_one_assume_the_noise_floor(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY[:2], seed=1)
    one = write_set(tmp_path / "one", [24_000], seed=2) / "r01"
    result = invoke("compare", base, one, "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.OK, result.output
    p50 = _rows(tmp_path / "c.json")[("t", "latency", "p50")]
    assert p50["verdict"] == "inconclusive" and p50["method"] == "noise floor"
    assert "2 vs 1 runs cannot show the noise, so a ±30.0% run-to-run noise is assumed (default)" in str(p50["reason"])


def test_incomplete_runs_of_a_set_are_left_out_with_a_note(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", [*STEADY, 90_000], seed=1, incomplete=[5])
    cand = write_set(tmp_path / "cand", STEADY, seed=2)
    comparison = compare_sets(load_runset(base), load_runset(cand))
    assert comparison.baseline_runs == 5
    assert "baseline run r06 is incomplete (interrupted): left out" in comparison.notes
    assert not comparison.regressions


def test_sets_of_different_scenarios_are_not_comparable_unless_forced(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    cand = write_set(tmp_path / "cand", SLOWER, seed=2, scenario_hash="sha256:other")
    result = invoke("compare", base, cand)
    assert result.exit_code == ExitCode.NOT_COMPARABLE
    assert "scenario hash differs" in result.output
    assert invoke("compare", base, cand, "--force").exit_code == ExitCode.REGRESSION


def test_paired_sets_see_through_drift_shared_by_each_pair(tmp_path: Path) -> None:
    machine = [1.0, 1.3, 0.8, 1.5, 0.9, 1.2, 1.1, 0.7]  # each pair ran on a differently loaded machine
    base = write_set(tmp_path / "base", [20_000 * k for k in machine], seed=1)
    cand = write_set(tmp_path / "cand", [22_000 * k for k in machine], seed=2)
    unpaired = invoke("compare", base, cand, "--percentiles", "50")
    assert unpaired.exit_code == ExitCode.OK, unpaired.output
    paired = invoke("compare", base, cand, "--paired", "--percentiles", "50")
    assert paired.exit_code == ExitCode.REGRESSION, paired.output
    assert "interleaved pairs" in paired.output


def test_a_calibration_file_sets_the_noise_floor(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", [20_000], seed=1) / "r01"
    cand = write_set(tmp_path / "cand", [24_000], seed=2) / "r01"
    assert invoke("compare", base, cand).exit_code == ExitCode.OK  # one run each: the default floor is wide
    calibration = tmp_path / "calibration.json"
    calibration.write_text(
        json.dumps(
            {
                "calibration_version": 1,
                "repeats": 5,
                "confidence": 0.95,
                "drift_factor": 3.0,
                "tolerances": {"p50": 0.03, "p90": 0.05, "p99": 0.2, "throughput": 0.1, "error_rate": 0.001},
                "noise_floor": {"p50": 0.01, "p90": 0.015, "p99": 0.06, "throughput": 0.03, "error_rate": 0.0},
            }
        )
    )
    result = invoke("compare", base, cand, "--calibration", calibration, "--json", tmp_path / "c.json")
    assert result.exit_code == ExitCode.REGRESSION, result.output
    p50 = _rows(tmp_path / "c.json")[("t", "latency", "p50")]
    assert p50["verdict"] == REGRESSED
    assert json.loads((tmp_path / "c.json").read_text())["options"]["noise_source"] == "calibrated"


def test_a_broken_calibration_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "calibration.json"
    bad.write_text('{"calibration_version": 9}')
    result = invoke("compare", FIXTURES / "sleep-20ms", FIXTURES / "sleep-24ms", "--calibration", bad)
    assert result.exit_code == ExitCode.USAGE
    assert "not a calibration.json of version 1" in result.output


def test_report_of_a_run_set_renders_each_run_and_prints_the_spread(tmp_path: Path) -> None:
    base = write_set(tmp_path / "base", STEADY, seed=1)
    result = invoke("report", base, "-f", "text,json")
    assert result.exit_code == ExitCode.OK, result.output
    for index in range(1, 6):
        assert (base / f"r{index:02d}" / "report.json").is_file()
    assert (base / "report.txt").read_text() in result.output
    assert "spread (CV)" in result.output and "median" in result.output


def test_load_runset_reads_a_run_directory_as_a_set_of_one_and_rejects_the_rest(tmp_path: Path) -> None:
    single = load_runset(FIXTURES / "sleep-20ms")
    assert not single.is_set and len(single.runs) == 1 and single.name == "sleep-20ms"
    with pytest.raises(RunDirectoryError, match="is not a run directory"):
        load_runset(tmp_path)
    base = write_set(tmp_path / "base", STEADY[:2], seed=1)
    index = json.loads((base / RUNSET_FILE).read_text())
    index["runs"].append({"dir": "r09", "exit_code": 0, "status": "completed"})
    (base / RUNSET_FILE).write_text(json.dumps(index))
    loaded = load_runset(base)
    assert len(loaded.runs) == 2 and loaded.notes and "r09" in loaded.notes[0]
    (base / RUNSET_FILE).write_text(json.dumps({**index, "runset_version": 7}))
    with pytest.raises(RunDirectoryError, match="runset_version 7"):
        load_runset(base)
