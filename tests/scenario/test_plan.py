"""The plan (loadtest.plan): user split, rate shares, timeline, expected requests, rendering."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.plan import make_plan, split_users
from loadtest.scenario import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

BASE = """\
version: 1
targets:
  remote: {url: "grpc://triton.example.com:8001", model: m}
payloads:
  p:
    inputs:
      x: {dtype: float32, shape: [2], generator: zeros}
traffic:
  - {name: a, pattern: sync, target: remote, payload: p}
  - {name: b, pattern: futures, target: remote, payload: p, in_flight: 4}
  - {name: c, pattern: asyncio, target: remote, payload: p}
load: {users: 6}
duration_s: 10
"""


@pytest.mark.parametrize(
    ("total", "fixed", "weights", "expected"),
    [
        (6, [None, None, None], [1, 1, 1], [2, 2, 2]),
        (5, [None, None, None, None], [2, 1, 1, 1], [2, 1, 1, 1]),
        (10, [None, None], [3, 1], [8, 2]),  # 7.5 / 2.5: the tie goes to the earlier entry
        (10, [None, None], [1, 100], [1, 9]),  # every weighted entry gets at least one user
        (7, [2, None, None], [None, 1, 1], [2, 3, 2]),
        (4, [1, 3], [None, None], [1, 3]),
        (3, [None, None, None], [0.5, 0.25, 0.25], [1, 1, 1]),
        (100, [None, None, None], [1, 1, 1], [34, 33, 33]),
    ],
)
def test_split_users(total: int, fixed: list[int | None], weights: list[float | None], expected: list[int]) -> None:
    assert split_users(total, fixed, weights) == expected


@pytest.mark.parametrize(("total", "fixed", "weights"), [(3, [4, None], [None, 1]), (2, [1, None, None], [None, 1, 1])])
def test_split_users_refuses_impossible_splits(
    total: int, fixed: list[int | None], weights: list[float | None]
) -> None:
    with pytest.raises(ValueError):
        split_users(total, fixed, weights)


@given(
    data=st.data(),
    weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=6),
)
def test_split_users_properties(data: st.DataObject, weights: list[float]) -> None:
    total = data.draw(st.integers(min_value=len(weights), max_value=500))
    counts = split_users(total, [None] * len(weights), weights)
    assert sum(counts) == total
    assert min(counts) >= 1
    shares = [total * weight / sum(weights) for weight in weights]
    small = sum(1 for share in shares if share < 1)  # entries lifted to one user, taken from the largest
    for count, share in zip(counts, shares, strict=True):
        assert count <= max(1, math.ceil(share - 1e-9))
        assert count >= math.floor(share + 1e-9) - small
        if small == 0:
            assert abs(count - share) < 1


def test_closed_loop_plan() -> None:
    plan = make_plan(parse_scenario(BASE, env={}, overrides=["warmup_s=2"]))
    assert (plan.kind, plan.open_loop, plan.warmup_s, plan.duration_s, plan.total_s) == ("closed", False, 2, 10, 12)
    assert [(e.name, e.users, e.in_flight, e.rate_share) for e in plan.entries] == [
        ("a", (2,), None, None),
        ("b", (2,), 4, None),
        ("c", (2,), 1, None),
    ]
    assert plan.expected_requests is None and plan.requests_upper_bound is None
    assert [(p.warmup, p.start_s, p.end_s, p.users, p.users_by_entry) for p in plan.timeline] == [
        (True, 0, 2, 6, (2, 2, 2)),
        (False, 2, 12, 6, (2, 2, 2)),
    ]
    assert plan.users_by_entry(5.0) == {"a": 2, "b": 2, "c": 2}
    assert plan.users_by_entry(12.0) is None
    assert plan.entry("b").endpoint == "grpc://triton.example.com:8001"
    assert plan.entry("b").protocol == "grpc"
    with pytest.raises(ValueError, match="open-loop"):
        plan.arrival_schedule("a")


def test_paced_closed_loop_has_an_upper_bound() -> None:
    plan = make_plan(parse_scenario(BASE, env={}, overrides=["load.pacing_s=0.5", "warmup_s=3"]))
    assert [e.expected_requests for e in plan.entries] == [40, 40, 40]  # 2 users x 10 s / 0.5 s
    assert plan.requests_upper_bound == 120
    capped = make_plan(parse_scenario(BASE, env={}, overrides=["load.pacing_s=0.5", "max_requests=60"]))
    assert capped.requests_upper_bound == 60
    assert [e.expected_requests for e in capped.entries] == [20, 20, 20]


def test_open_loop_plan_shares_the_rate_and_counts_requests() -> None:
    scenario = parse_scenario(
        BASE,
        env={},
        overrides=[
            "load={kind: open, rate: 40, arrival: poisson}",
            "traffic[0].weight=2",
            "traffic[1].in_flight=null",
            "warmup_s=5",
            "seed=4",
        ],
    )
    plan = make_plan(scenario)
    assert plan.open_loop
    assert [e.rate_share for e in plan.entries] == [0.5, 0.25, 0.25]
    assert [e.users for e in plan.entries] == [(), (), ()]
    assert [e.expected_requests for e in plan.entries] == [200, 100, 100]
    assert plan.expected_requests == 400
    schedule = plan.arrival_schedule("b")
    assert schedule.arrival == "poisson"
    assert schedule.share == 0.25
    again = make_plan(scenario).arrival_schedule("b")
    assert [schedule.intended_start_s(n) for n in range(50)] == [again.intended_start_s(n) for n in range(50)]
    other = plan.arrival_schedule("c")
    assert schedule.intended_start_s(0) != other.intended_start_s(0)
    assert plan.users_by_entry(6.0) is None
    with pytest.raises(ValueError, match="arrival rates"):
        plan.stage_users(6.0)


def test_open_loop_cap() -> None:
    plan = make_plan(
        parse_scenario(
            BASE, env={}, overrides=["load={kind: open, rate: 30}", "traffic[1].in_flight=null", "max_requests=150"]
        )
    )
    assert plan.expected_requests == 150
    assert [e.expected_requests for e in plan.entries] == [50, 50, 50]


def test_stage_plan_with_rates() -> None:
    scenario = parse_scenario(
        BASE,
        env={},
        overrides=[
            "load={kind: stages, stages: [{duration_s: 10, rate: 10}, {duration_s: 20, rate: 30}]}",
            "traffic[1].in_flight=null",
            "duration_s=null",
            "warmup_s=2",
        ],
    )
    plan = make_plan(scenario)
    assert plan.open_loop
    assert [(p.stage, p.warmup, p.start_s, p.end_s, p.rate_per_s) for p in plan.timeline] == [
        (0, True, 0, 2, 10),
        (0, False, 2, 12, 10),
        (1, False, 12, 32, 30),
    ]
    assert plan.expected_requests == 700
    assert plan.schedule.tick(20).rate_per_s == 30  # type: ignore[union-attr]


def test_stage_plan_with_users_splits_each_stage() -> None:
    scenario = parse_scenario(
        BASE,
        env={},
        overrides=[
            "load={kind: stages, stages: [{duration_s: 5, users: 3}, {duration_s: 5, users: 7, spawn_rate: 1}]}",
            "traffic[0].users=1",
            "duration_s=null",
        ],
    )
    plan = make_plan(scenario)
    assert [e.users for e in plan.entries] == [(1, 1), (1, 3), (1, 3)]
    assert [(p.users, p.spawn_rate, p.users_by_entry) for p in plan.timeline] == [
        (3, 7.0, (1, 1, 1)),
        (7, 1.0, (1, 3, 3)),
    ]
    assert plan.users_by_entry(7.0) == {"a": 1, "b": 3, "c": 3}
    assert [plan.stage_users(t) for t in (0.0, 4.99, 5.0, 9.99, 10.0)] == [(3, 7.0), (3, 7.0), (7, 1.0), (7, 1.0), None]


def test_render_shows_the_numbers() -> None:
    scenario = parse_scenario(
        BASE.replace("model: m}", "model: m, access_token_env: TRITON_TOKEN}"),
        source="demo.yaml",
        env={},
        overrides=["slos=[error_rate < 1%]", "traffic[0].slos=[p99 latency < 5ms]"],
    )
    text = make_plan(scenario).render(env={})
    assert text.startswith(f"Scenario  scenario  (demo.yaml, sha256 {scenario.scenario_hash[:12]})\n")
    assert "Load      closed loop: 6 users, spawn 6/s, no pacing\n" in text
    assert "Time      0 s warm-up + 10 s measured = 10 s\n" in text
    assert "Requests  depend on response times (closed loop)\n" in text
    assert "$TRITON_TOKEN (NOT SET)" in text
    assert "  (all traffic)  error_rate < 1%\n" in text
    assert "  a              p99 latency < 5ms\n" in text
    assert "x: float32 [2] zeros()" in text
    assert "$TRITON_TOKEN (set)" in make_plan(scenario).render(env={"TRITON_TOKEN": "t"})
    assert "secret-value" not in make_plan(scenario).render(env={"TRITON_TOKEN": "secret-value"})


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_plans_render(path: Path) -> None:
    plan = make_plan(load_scenario(path))
    text = plan.render()
    assert str(plan.scenario.name) in text
    assert all(entry.name in text for entry in plan.entries)
    assert plan.total_s == plan.warmup_s + plan.duration_s
