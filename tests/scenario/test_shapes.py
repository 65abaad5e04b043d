"""Pure load shapes and pacers (loadtest.plan.shapes): tables and properties, no clock."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.plan.shapes import (
    ArrivalSchedule,
    Stage,
    StageSchedule,
    Tick,
)

RAMP = [Stage(10, users=2, spawn_rate=1), Stage(10, users=4, spawn_rate=2), Stage(5, users=8, spawn_rate=4)]


@pytest.mark.parametrize(
    ("elapsed_s", "tick"),
    [
        (0.0, Tick(0, True, 2, 1, None)),
        (2.999, Tick(0, True, 2, 1, None)),
        (3.0, Tick(0, False, 2, 1, None)),
        (12.999, Tick(0, False, 2, 1, None)),
        (13.0, Tick(1, False, 4, 2, None)),
        (23.0, Tick(2, False, 8, 4, None)),
        (27.999, Tick(2, False, 8, 4, None)),
        (28.0, None),
        (100.0, None),
        (-0.1, None),
    ],
)
def test_stage_ticks_with_warmup(elapsed_s: float, tick: Tick | None) -> None:
    schedule = StageSchedule(RAMP, warmup_s=3)
    assert schedule.duration_s == 25
    assert schedule.total_s == 28
    assert schedule.tick(elapsed_s) == tick


def test_duration_longer_than_stages_holds_the_last_stage() -> None:
    schedule = StageSchedule(RAMP, duration_s=40)
    assert schedule.tick(39.0) == Tick(2, False, 8, 4, None)
    assert schedule.tick(40.0) is None
    assert [(s.start_s, s.end_s, s.stage) for s in schedule.segments] == [(0, 10, 0), (10, 20, 1), (20, 40, 2)]


def test_duration_shorter_than_stages_cuts_the_schedule() -> None:
    schedule = StageSchedule(RAMP, warmup_s=1, duration_s=12)
    assert [(s.start_s, s.end_s, s.stage, s.warmup) for s in schedule.segments] == [
        (0, 1, 0, True),
        (1, 11, 0, False),
        (11, 13, 1, False),
    ]
    assert schedule.tick(13.0) is None


@pytest.mark.parametrize(
    ("stages", "warmup_s", "duration_s"),
    [([], 0.0, None), ([Stage(0, users=1)], 0.0, None), ([Stage(1, users=1)], -1.0, None), ([Stage(1)], 0.0, 0.0)],
)
def test_invalid_schedules_are_refused(stages: list[Stage], warmup_s: float, duration_s: float | None) -> None:
    with pytest.raises(ValueError):
        StageSchedule(stages, warmup_s=warmup_s, duration_s=duration_s)


def test_integrals_give_expected_arrivals_and_user_seconds() -> None:
    rates = StageSchedule([Stage(10, rate_per_s=5), Stage(10, rate_per_s=20)], warmup_s=2)
    assert rates.expected_arrivals() == pytest.approx(2 * 5 + 10 * 5 + 10 * 20)
    assert rates.expected_arrivals(2, 22) == pytest.approx(250)
    assert rates.expected_arrivals(10, 14) == pytest.approx(2 * 5 + 2 * 20)
    users = StageSchedule(RAMP)
    assert users.integral("users", 0, 25) == pytest.approx(2 * 10 + 4 * 10 + 8 * 5)
    assert users.expected_arrivals() == 0


@pytest.mark.parametrize(
    ("mass", "elapsed_s"), [(0, 0.0), (5, 1.0), (50, 10.0), (60, 10.5), (249.8, 19.99), (250, None), (251, None)]
)
def test_time_of_arrival_mass_inverts_the_rate_integral(mass: float, elapsed_s: float | None) -> None:
    schedule = StageSchedule([Stage(10, rate_per_s=5), Stage(10, rate_per_s=20)])
    result = schedule.time_of_arrival_mass(mass)
    if elapsed_s is None:
        assert result is None
    else:
        assert result == pytest.approx(elapsed_s, abs=1e-9)


def test_constant_arrivals_are_evenly_spaced_and_follow_rate_changes() -> None:
    schedule = StageSchedule([Stage(1, rate_per_s=4), Stage(1, rate_per_s=10)])
    arrivals = ArrivalSchedule(schedule)
    starts = [arrivals.intended_start_s(n) for n in range(14)]
    assert starts[:4] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert starts[4:14] == pytest.approx([1.0 + k / 10 for k in range(10)])
    assert arrivals.intended_start_s(14) is None


def test_share_splits_the_rate() -> None:
    schedule = StageSchedule([Stage(10, rate_per_s=100)])
    quarter = ArrivalSchedule(schedule, share=0.25)
    assert quarter.intended_start_s(1) == pytest.approx(0.04)
    assert quarter.expected_count() == pytest.approx(250)
    assert quarter.expected_count(5, 10) == pytest.approx(125)


def test_poisson_arrivals_are_seeded_and_reach_the_rate() -> None:
    schedule = StageSchedule([Stage(200, rate_per_s=50)])
    first = ArrivalSchedule(schedule, arrival="poisson", seed=3)
    again = ArrivalSchedule(schedule, arrival="poisson", seed=3)
    other = ArrivalSchedule(schedule, arrival="poisson", seed=3, stream=1)
    drawn = [first.intended_start_s(n) for n in range(5000)]
    assert drawn == [again.intended_start_s(n) for n in range(5000)]
    assert drawn[:10] != [other.intended_start_s(n) for n in range(10)]
    times = [t for t in drawn if t is not None]
    assert len(times) == 5000
    assert times == sorted(times)
    # 5000 arrivals at 50/s take about 100 s; the seeded draw lands within 3 % of it.
    assert times[-1] == pytest.approx(100.0, rel=0.03)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    coefficient_of_variation = (sum((g - 0.02) ** 2 for g in gaps) / len(gaps)) ** 0.5 / 0.02
    assert coefficient_of_variation == pytest.approx(1.0, abs=0.05)  # exponential gaps, unlike constant ones


def test_poisson_random_access_is_independent_of_order() -> None:
    schedule = StageSchedule([Stage(1000, rate_per_s=10)])
    forward = ArrivalSchedule(schedule, arrival="poisson", seed=9)
    backward = ArrivalSchedule(schedule, arrival="poisson", seed=9)
    late = backward.intended_start_s(9000)
    assert [forward.intended_start_s(n) for n in range(9001)][-1] == late


@pytest.mark.parametrize(("arrival", "share"), [("bursty", 1.0), ("constant", 0.0), ("constant", 1.5)])
def test_arrival_schedule_refuses_bad_arguments(arrival: str, share: float) -> None:
    with pytest.raises(ValueError):
        ArrivalSchedule(StageSchedule([Stage(1, rate_per_s=1)]), arrival=arrival, share=share)  # type: ignore[arg-type]


@given(
    rates=st.lists(st.floats(min_value=0.5, max_value=500), min_size=1, max_size=4),
    durations=st.lists(st.floats(min_value=0.1, max_value=30), min_size=4, max_size=4),
    n=st.integers(min_value=0, max_value=2000),
)
def test_constant_arrival_n_starts_when_the_integral_reaches_n(
    rates: list[float], durations: list[float], n: int
) -> None:
    schedule = StageSchedule([Stage(d, rate_per_s=r) for r, d in zip(rates, durations, strict=False)])
    start = ArrivalSchedule(schedule).intended_start_s(n)
    if start is None:
        assert schedule.expected_arrivals() <= n + 1e-6
    else:
        assert 0 <= start < schedule.total_s
        assert schedule.expected_arrivals(0, start) == pytest.approx(n, abs=1e-6 * max(1, n))


@pytest.mark.parametrize(("rate", "span", "count"), [(10, 1, 10), (10, 1.05, 11), (3, 1, 3), (4, 0.5, 2), (7, 0.1, 1)])
def test_a_constant_stream_starts_ceil_rate_times_span_requests(rate: float, span: float, count: int) -> None:
    schedule = StageSchedule([Stage(span, rate_per_s=rate)])
    arrivals = ArrivalSchedule(schedule)
    assert sum(1 for n in range(count + 2) if arrivals.intended_start_s(n) is not None) == count
    assert math.isclose(schedule.expected_arrivals(), rate * span)


@pytest.mark.parametrize(
    ("stages", "warmup_s", "duration_s", "message"),
    [
        ([], 0.0, None, "a schedule needs at least one stage"),
        ([Stage(0, users=1)], 0.0, None, "every stage needs a positive duration_s"),
        ([Stage(1, users=1)], -1.0, None, "warmup_s must be >= 0 and duration_s > 0"),
        ([Stage(1, users=1)], 0.0, -2.0, "warmup_s must be >= 0 and duration_s > 0"),
    ],
)
def test_refusals_say_what_is_wrong(
    stages: list[Stage], warmup_s: float, duration_s: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        StageSchedule(stages, warmup_s=warmup_s, duration_s=duration_s)


def test_a_measured_duration_below_one_second_is_valid() -> None:
    schedule = StageSchedule([Stage(10, rate_per_s=100)], duration_s=0.5)
    assert (schedule.total_s, schedule.expected_arrivals()) == (0.5, pytest.approx(50))


def test_an_open_loop_tick_carries_the_rate() -> None:
    schedule = StageSchedule([Stage(5, rate_per_s=40), Stage(5, rate_per_s=80)], warmup_s=1)
    assert schedule.tick(0.5) == Tick(0, True, None, None, 40)
    assert schedule.tick(7.0) == Tick(1, False, None, None, 80)


def test_stages_without_a_rate_carry_no_arrivals() -> None:
    schedule = StageSchedule([Stage(10, users=2), Stage(10, rate_per_s=5)])
    assert schedule.time_of_arrival_mass(3) == pytest.approx(10.6)
    assert schedule.expected_arrivals(0, 10) == 0
    with pytest.raises(ValueError, match=r"^mass must be >= 0$"):
        schedule.time_of_arrival_mass(-1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arrival": "bursty"}, "arrival must be 'constant' or 'poisson', not 'bursty'"),
        ({"share": 0.0}, r"share must be in \(0, 1\]"),
    ],
)
def test_arrival_schedule_refusals_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        ArrivalSchedule(StageSchedule([Stage(1, rate_per_s=1)]), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^n must be >= 0$"):
        ArrivalSchedule(StageSchedule([Stage(1, rate_per_s=1)])).intended_start_s(-1)


def test_poisson_arrivals_are_the_cumulative_exponential_draws_of_the_seeded_stream() -> None:
    # The contract behind "same seed, same times": stream (seed, stream) of numpy's default generator,
    # unit exponential gaps, scaled by the rate; checked across the generator's 4096-draw chunks.
    rate_per_s, share, seed, stream = 50.0, 0.5, 11, 2
    schedule = StageSchedule([Stage(10_000, rate_per_s=rate_per_s)])
    arrivals = ArrivalSchedule(schedule, arrival="poisson", seed=seed, share=share, stream=stream)
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    marks = np.cumsum(rng.exponential(1.0, 3 * 4096))
    for n in (0, 1, 4095, 4096, 4097, 3 * 4096 - 1):
        assert arrivals.intended_start_s(n) == pytest.approx(marks[n] / (rate_per_s * share), rel=1e-12)


def test_the_default_seed_is_zero() -> None:
    schedule = StageSchedule([Stage(100, rate_per_s=10)])
    default = ArrivalSchedule(schedule, arrival="poisson")
    zero = ArrivalSchedule(schedule, arrival="poisson", seed=0)
    assert [default.intended_start_s(n) for n in range(5)] == [zero.intended_start_s(n) for n in range(5)]


def test_expected_count_honours_the_end_of_the_window() -> None:
    arrivals = ArrivalSchedule(StageSchedule([Stage(10, rate_per_s=100)]), share=0.5)
    assert arrivals.expected_count(2, 4) == pytest.approx(100)
    assert arrivals.expected_count(8) == pytest.approx(100)
