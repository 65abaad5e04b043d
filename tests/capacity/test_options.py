"""Sweep and capacity options: level lists, every problem with its path, exit 2 from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadtest.capacity.options import SweepOptions, parse_levels
from loadtest.capacity.stability import StabilityRule
from loadtest.cli import main

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "capacity.yaml"


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("1,2,4,8", [1, 2, 4, 8]),
        (" 8 ", [8]),
        ("100:1000:100", [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]),
        ("100:250:100", [100, 200]),
        ("0.5:1.5:0.5", [0.5, 1.0, 1.5]),
    ],
)
def test_parse_levels(text: str, levels: list[float]) -> None:
    problems: list[tuple[str, str]] = []
    assert parse_levels(text, "sweep.levels", problems) == levels
    assert problems == []


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("1,x,4", "sweep.levels[1]"),
        ("100:10:10", "sweep.levels"),
        ("1:2", "sweep.levels"),
        ("1:a:1", "sweep.levels"),
        ("1:100000:1", "sweep.levels"),
    ],
)
def test_parse_levels_problems(text: str, path: str) -> None:
    problems: list[tuple[str, str]] = []
    parse_levels(text, "sweep.levels", problems)
    assert [p for p, _ in problems] == [path]


def test_every_problem_is_listed_with_its_path() -> None:
    options = SweepOptions(
        levels=[1, 2.5, -1], rule=StabilityRule(tolerance_pct=0, windows=5, max_windows=2), warmup_s=-1
    )
    paths = [path for path, _ in options.problems("sweep")]
    assert paths == [
        "sweep.levels[1]",
        "sweep.levels[2]",
        "sweep.stability.stability_pct",
        "sweep.stability.max_windows",
        "sweep.warmup_s",
    ]
    capacity = SweepOptions(variable="rate", low=100, high=50, precision_pct=0, target_rate=-5, headroom_pct=-1)
    assert [path for path, _ in capacity.problems("capacity")] == [
        "capacity.high",
        "capacity.precision_pct",
        "capacity.target_rate",
        "capacity.headroom_pct",
    ]


def test_cli_sweep_bad_options_exit_2_with_every_problem() -> None:
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(SCENARIO),
            "--concurrency",
            "1,x,0",
            "--stability-pct",
            "150",
            "--windows",
            "0",
            "--slo",
            "p99 latency < fast",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for line in (
        "error: sweep.levels[1]: 'x' is not a number",
        "error: sweep.levels[1]: 0 is not a positive whole number of users",
        "error: sweep.stability.stability_pct:",
        "error: sweep.stability.windows:",
    ):
        assert line in result.output


def test_cli_sweep_needs_exactly_one_kind_of_level() -> None:
    result = CliRunner().invoke(main, ["sweep", str(SCENARIO), "--concurrency", "1", "--rate", "10"])
    assert result.exit_code == 2
    assert "error: sweep.levels: give --concurrency or --rate, not both" in result.output


def test_cli_capacity_bad_slo_and_bounds_exit_2() -> None:
    result = CliRunner().invoke(
        main, ["capacity", str(SCENARIO), "--slo", "p99 latency < fast", "--rate-min", "100", "--rate-max", "50"]
    )
    assert result.exit_code == 2, result.output
    assert "error: capacity.high: 50 is below the lowest level 100" in result.output
    assert "error: capacity.slos[0]:" in result.output


def test_cli_capacity_mixed_bounds_exit_2() -> None:
    result = CliRunner().invoke(main, ["capacity", str(SCENARIO), "--rate-min", "10", "--concurrency-max", "4"])
    assert result.exit_code == 2
    assert "error: capacity.variable:" in result.output


def test_cli_invalid_scenario_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntraffic: 3\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["sweep", str(bad), "--concurrency", "1,2"])
    assert result.exit_code == 2
    assert "traffic" in result.output and "Traceback" not in result.output


SWEEP_SCENARIO = """
version: 1
embedded: {models: [Capacity]}
targets:
  cap: {embedded: true, protocol: http, model: Capacity}
payloads:
  small: {inputs: {INPUT: {dtype: float32, shape: [4], generator: zeros}}}
traffic:
  - {name: cap, pattern: sync, target: cap, payload: small}
load:
"""


def test_scenario_sweep_load_is_validated_with_paths(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    load = "  kind: sweep\n  variable: concurrency\n  levels: [1, 2.5, 4]\n  users: 3\n  arrival: poisson\n"
    load += "  windows: 4\n  max_windows: 2\n  stability_pct: 150\n"
    path.write_text(SWEEP_SCENARIO + load, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    for expected in (
        "load.levels[1]: 2.5 is not a whole number of users",
        "load.users: not used by kind sweep",
        "load.arrival: not used by a concurrency sweep (only by a rate sweep)",
        "load.max_windows: must be at least windows (4), not 2",
        "load.stability_pct: must be below 100, not 150",
    ):
        assert expected in result.output
    path.write_text(SWEEP_SCENARIO + "  kind: sweep\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "load.levels: required for kind sweep" in result.output
    assert "load.variable: required for kind sweep" in result.output
    path.write_text(SWEEP_SCENARIO + "  kind: closed\n  users: 2\n  levels: [1]\nduration_s: 3\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and "load.levels: not used by kind closed (used by: sweep)" in result.output


def test_scenario_sweep_load_validates_plans_and_is_refused_by_run(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        SWEEP_SCENARIO + "  {kind: sweep, variable: rate, levels: [50, 100], window_s: 2}\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0 and "sweep over rate (50, 100)" in result.output
    result = CliRunner().invoke(main, ["plan", str(path)])
    assert result.exit_code == 0 and "sweep over rate: 50, 100 requests/s" in result.output
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2 and "run it with tritonload sweep" in result.output


def test_settings_come_from_the_caller_then_the_scenario_then_the_defaults() -> None:
    from types import SimpleNamespace

    load = SimpleNamespace(
        kind="sweep", variable="rate", levels=[50.0, 100.0], window_s=2.0, windows=None, stability_pct=20.0,
        max_windows=None, step_warmup_s=1.0, early_stop=False,
    )  # fmt: skip
    options = SweepOptions()
    options.settle("sweep", {"window_s": 4.0, "windows": None}, load)
    assert options.variable == "rate" and options.levels == [50.0, 100.0]
    assert options.rule == StabilityRule(tolerance_pct=20.0, window_s=4.0, windows=3, max_windows=10)
    assert options.warmup_s == 1.0 and options.early_stop is False
    given = SweepOptions(variable="concurrency", levels=[1, 2])
    given.settle("sweep", {}, load)  # levels given: the scenario's do not replace them
    assert given.variable == "concurrency" and given.levels == [1, 2]
    plain = SweepOptions()
    plain.settle("sweep", {}, None)
    assert plain.rule == StabilityRule() and plain.warmup_s == 2.0 and plain.early_stop is True


def test_a_capacity_search_measures_at_most_6_windows_unless_told() -> None:
    search = SweepOptions()
    search.settle("capacity", {}, None)
    assert search.rule == StabilityRule(max_windows=6)  # a sweep's default is perf_analyzer's 10
    told = SweepOptions()
    told.settle("capacity", {"max_windows": 10}, None)
    assert told.rule.max_windows == 10
    more = SweepOptions(low=10)
    more.settle("capacity", {"windows": 8}, None)  # the default never refuses the windows asked for
    assert more.rule.windows == 8 and more.rule.max_windows == 8 and not more.problems("capacity")
