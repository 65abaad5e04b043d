"""The capacity search (bracketing, bisection, confirmation), the knee and the instance count, from tables."""

from __future__ import annotations

import pytest

from loadtest.capacity.search import CapacitySearch, CurvePoint, Outcome, _significant, instances_needed, knee


def _drive(search: CapacitySearch, passes: object, saturated: object = lambda level: False) -> list[float]:
    """Run the search against a synthetic server: ``passes(level)`` says whether a step passes."""
    levels = []
    while (level := search.next_level()) is not None:
        levels.append(level)
        assert len(levels) < 50, "the search does not end"
        gen = bool(saturated(level))  # type: ignore[operator]
        search.record(Outcome(level, bool(passes(level)) and not gen, gen))  # type: ignore[operator]
    return levels


def test_brackets_by_doubling_then_bisects_then_confirms() -> None:
    search = CapacitySearch(low=50, high=400, precision_pct=5)
    levels = _drive(search, lambda level: level <= 195)
    assert levels[:4] == [50, 100, 200, 150]  # doubling until 200 fails, then the middle
    assert levels[-1] == levels[-2] or levels[-1] == search.last_pass  # the confirming step repeats the answer
    answer = search.answer()
    assert answer["confirmed"] is True
    assert 185 <= answer["level"] <= 195 < answer["first_fail"]
    assert answer["first_fail"] - answer["level"] <= 0.05 * answer["first_fail"]


def test_a_saturated_server_bounds_the_search_at_what_it_achieved() -> None:
    # The server serves at most 200/s; p99 stays under the SLO up to 190/s. Doubling overshoots to 320,
    # where the server achieves 199.1: the search goes on under 199.1, not under 320, and probes 5 % under
    # it first (189.145, rounded up to 190): it passes, and the answer is within 5 % of the bound.
    search = CapacitySearch(low=10, precision_pct=5)
    levels = []
    while (level := search.next_level()) is not None:
        levels.append(level)
        assert len(levels) < 50
        saturated = 199.1 if level > 200 else None
        search.record(Outcome(level, level <= 190, saturated_rps=saturated))
    assert levels == [10, 20, 40, 80, 160, 320, 190, 190]  # the probe, then its confirmation
    answer = search.answer()
    assert answer["confirmed"] is True and answer["level"] == 190 and answer["first_fail"] == 199.1
    # An achieved rate at or under the last passing level (a noisy step) bounds nothing: the level does.
    noisy = CapacitySearch(low=100)
    noisy.record(Outcome(100, True))
    noisy.record(Outcome(200, False, saturated_rps=95.0))
    assert noisy.first_fail == 200 and noisy.next_level() == 150


def test_a_failed_probe_under_a_saturated_server_falls_back_to_bisection() -> None:
    # Saturated at 180/s, but the SLO holds only up to 150/s: the probe at 171 fails, then bisection.
    search = CapacitySearch(low=100, precision_pct=5)
    levels = _drive_saturating(search, capacity_rps=180.0, slo_holds_to=150.0)
    assert levels[:4] == [100, 200, 171, 136]  # 200 achieves 180: probe 171 (fails), then the middle of [100, 171]
    answer = search.answer()
    assert answer["confirmed"] is True and 143 <= answer["level"] <= 150 < answer["first_fail"]


def _drive_saturating(search: CapacitySearch, capacity_rps: float, slo_holds_to: float) -> list[float]:
    levels = []
    while (level := search.next_level()) is not None:
        levels.append(level)
        assert len(levels) < 50
        saturated = capacity_rps if level > capacity_rps else None
        search.record(Outcome(level, level <= slo_holds_to, saturated_rps=saturated))
    return levels


def test_precision_is_measured_under_the_first_failing_level() -> None:
    # 190 passed and 200 failed: 10 is 5 % of 200 (though 5.3 % of 190), so the search confirms 190.
    search = CapacitySearch(low=190, precision_pct=5)
    search.record(Outcome(190, True))
    assert search.next_level() == 380
    search.record(Outcome(380, False))
    search.first_fail = 200
    assert search.next_level() == 190 and search.confirming


def test_only_bracketing_steps_are_scouts() -> None:
    search = CapacitySearch(low=10, high=80, precision_pct=5)
    kinds = []
    while (level := search.next_level()) is not None:
        kinds.append((level, search.scouting, search.confirming))
        search.record(Outcome(level, level <= 50))
    # 10, 20, 40, 80 bracket (scouts); 60 and 50 bisect, 50 is confirmed: measured in full
    assert kinds[:4] == [(10, True, False), (20, True, False), (40, True, False), (80, True, False)]
    assert all(not scout for _, scout, _ in kinds[4:])
    assert kinds[-1] == (50, False, True)


@pytest.mark.parametrize(
    ("value", "digits", "up", "expected"),
    [
        (179.951, 3, False, 180.0),
        (189.145, 3, True, 190.0),
        (200.45, 3, False, 200.0),
        (200.45, 3, True, 201.0),
        (16.25, 3, False, 16.2),
        (1234.5, 4, False, 1234.0),
        (0.012345, 3, False, 0.0123),
        (190.0, 3, True, 190.0),
    ],
)
def test_levels_are_rounded_to_significant_digits(value: float, digits: int, up: bool, expected: float) -> None:
    assert _significant(value, digits, up=up) == expected


@pytest.mark.parametrize(
    ("capacity", "low", "high", "expected_last_pass", "expected_first_fail"),
    [
        (1000, 10, 80, 80, None),  # the highest level passes: the answer is a lower bound
        (15, 10, None, 15, 16.2),  # 16.25, to three significant digits
        (5, 10, None, None, 10),  # even the lowest level fails
    ],
)
def test_answers_and_bounds(
    capacity: float, low: float, high: float | None, expected_last_pass: float | None, expected_first_fail: float | None
) -> None:
    search = CapacitySearch(low=low, high=high, precision_pct=10)
    _drive(search, lambda level: level <= capacity)
    assert search.last_pass == expected_last_pass
    assert search.first_fail == expected_first_fail
    assert search.answer()["lowest_failed"] is (expected_last_pass is None)


def test_concurrency_levels_are_whole_numbers() -> None:
    search = CapacitySearch(low=1, high=64, precision_pct=1, integer=True)
    levels = _drive(search, lambda users: users <= 6)
    assert all(level == int(level) for level in levels)
    assert search.last_pass == 6 and search.first_fail == 7


def test_a_failed_confirmation_resumes_the_bisection_below() -> None:
    search = CapacitySearch(low=10, high=40, precision_pct=10)
    seen: set[float] = set()

    def passes(level: float) -> bool:  # 40 passes once (luck), then fails; the real capacity is 30
        lucky = level == 40 and level not in seen
        seen.add(level)
        return lucky or level <= 30

    levels = _drive(search, passes)
    assert levels[:4] == [10, 20, 40, 40]  # 40 passed, its confirmation failed ...
    assert levels[4] == 30  # ... so the bisection goes on between 20 and 40
    answer = search.answer()
    assert answer["confirmed"] is True and 27 <= answer["level"] <= 30 and answer["first_fail"] <= 40


def test_confirmations_are_limited() -> None:
    search = CapacitySearch(low=10, high=40, precision_pct=10, max_confirmations=1)
    outcomes = iter([True, True, True, False])  # 10, 20, 40 pass; the confirmation of 40 fails
    _drive(search, lambda level: next(outcomes))
    assert search.answer() == {
        "level": 20,
        "last_pass": 20,
        "first_fail": 40,
        "confirmed": False,
        "lowest_failed": False,
    }


def test_a_saturated_generator_step_is_never_the_answer() -> None:
    # The server would pass everything up to 300, but the generator saturates at 160 and above.
    search = CapacitySearch(low=20, high=640, precision_pct=5)
    levels = _drive(search, lambda level: level <= 300, saturated=lambda level: level >= 160)
    assert any(level >= 160 for level in levels)  # such steps were measured ...
    assert search.last_pass is not None and search.last_pass < 160  # ... and never chosen
    assert search.first_fail is not None and search.first_fail >= 160


def test_a_saturated_confirmation_keeps_the_answer_unconfirmed() -> None:
    search = CapacitySearch(low=10, high=20, precision_pct=10)
    search.record(Outcome(10, True))
    assert search.next_level() == 20
    search.record(Outcome(20, True))
    assert search.next_level() == 20 and search.confirming
    search.record(Outcome(20, False, generator_saturated=True))
    assert search.next_level() == 20  # measured once more first
    search.record(Outcome(20, False, generator_saturated=True))
    assert search.next_level() is None
    assert search.answer()["level"] == 20 and search.answer()["confirmed"] is False


def test_a_generator_hiccup_is_measured_again() -> None:
    search = CapacitySearch(low=100, high=400, precision_pct=10)
    hiccups = {200}  # the generator saturates once at 200, then measures it cleanly
    levels = _drive(
        search, lambda level: level <= 195, saturated=lambda level: level in hiccups and not hiccups.clear()
    )
    assert levels[:4] == [100, 200, 200, 150]
    assert 175 <= search.answer()["level"] <= 195


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        # flat latency until the server saturates at 4 users: the knee is the last flat step
        ([(1, 50, 21_000), (2, 100, 21_000), (4, 199, 21_500), (8, 200, 41_000)], 4),
        ([(1, 50, 21_000), (2, 100, 21_000), (4, 200, 21_000), (8, 200, 41_000), (16, 200, 81_000)], 4),
        # latency climbs from the start, gently then steeply
        ([(50, 50, 20_000), (100, 100, 21_000), (150, 150, 25_000), (175, 175, 60_000)], 150),
        ([(1, 50, 21_000), (2, 100, 21_000)], None),  # two steps: no curve to bend
        ([(1, 50, 40_000), (2, 100, 30_000), (3, 150, 20_000)], None),  # never bends upwards
    ],
)
def test_knee(points: list[tuple[float, float, float]], expected: float | None) -> None:
    found = knee([CurvePoint(level, rps, p99) for level, rps, p99 in points])
    assert (found.level if found else None) == expected


def test_knee_takes_the_last_measurement_of_a_repeated_level() -> None:
    points = [
        CurvePoint(1, 50, 21_000),
        CurvePoint(2, 100, 90_000),
        CurvePoint(4, 200, 95_000),
        CurvePoint(2, 100, 21_000),
    ]
    assert knee(points) == CurvePoint(2, 100, 21_000)


@pytest.mark.parametrize(
    ("answer", "now", "target", "headroom", "needed"),
    [
        (200, 4, 1000, 20, 24),  # 50 req/s per instance; 1200 / 50
        (200, 4, 1000, 0, 20),
        (180, 4, 100, 20, 3),  # 45 per instance; 120 / 45 = 2.7
        (200, 4, 10, 20, 1),
    ],
)
def test_instances_needed(answer: float, now: int, target: float, headroom: float, needed: int) -> None:
    assert instances_needed(answer, now, target, headroom) == needed


def test_instances_needed_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        instances_needed(0, 4, 100, 20)


def test_an_inconclusive_step_is_measured_again_once() -> None:
    search = CapacitySearch(low=100, high=200, precision_pct=10)
    search.record(Outcome(100, True))
    assert search.next_level() == 200
    search.record(Outcome(200, False, inconclusive=True))
    assert search.next_level() == 200  # again
    search.record(Outcome(200, False, inconclusive=True))
    assert search.first_fail == 200 and search.next_level() == 150  # the second time it counts
