"""The stability rule (perf_analyzer's: the last K windows within ±s % of their mean), from tables."""

from __future__ import annotations

import pytest

from loadtest.capacity.stability import StabilityRule, Window, is_stable, step_done

RULE = StabilityRule(tolerance_pct=10.0, window_s=5.0, windows=3, max_windows=5)


def _windows(*pairs: tuple[float, float | None]) -> list[Window]:
    return [Window(rps, p99) for rps, p99 in pairs]


@pytest.mark.parametrize(
    ("pairs", "stable"),
    [
        ([(100, 20_000), (100, 20_000)], False),  # fewer windows than the rule needs
        ([(100, 20_000), (100, 20_000), (100, 20_000)], True),
        ([(100, 20_000), (109, 21_000), (95, 19_000)], True),  # all within ±10 % of the mean
        ([(100, 20_000), (100, 20_000), (125, 20_000)], False),  # throughput 125 vs mean 108: +15 %
        ([(100, 20_000), (100, 20_000), (100, 27_000)], False),  # p99 27 ms vs mean 22.3 ms: +21 %
        ([(50, 90_000), (100, 20_000), (100, 20_000), (100, 20_000)], True),  # only the last three count
        ([(100, 20_000), (100, None), (100, 20_000)], False),  # a window without a response
        ([(0, 20_000), (0, 20_000), (0, 20_000)], False),  # no throughput is no steady state
    ],
)
def test_last_windows_within_tolerance(pairs: list[tuple[float, float | None]], stable: bool) -> None:
    assert is_stable(_windows(*pairs), RULE) is stable


@pytest.mark.parametrize(
    ("tolerance_pct", "stable"),
    [(5.0, False), (10.0, True)],
)
def test_tolerance_is_the_bound(tolerance_pct: float, stable: bool) -> None:
    rule = StabilityRule(tolerance_pct=tolerance_pct, windows=2)
    assert is_stable(_windows((100, 20_000), (116, 20_000)), rule) is stable  # each 7.4 % from the mean 108


def test_step_ends_when_stable_or_out_of_windows() -> None:
    noisy = _windows((100, 20_000), (150, 20_000), (100, 20_000), (150, 20_000))
    assert not step_done(noisy, RULE)
    assert step_done([*noisy, Window(100, 20_000)], RULE)  # fifth window: max_windows reached, unstable
    assert not is_stable([*noisy, Window(100, 20_000)], RULE)


@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        (StabilityRule(tolerance_pct=0), "stability_pct"),
        (StabilityRule(tolerance_pct=100), "stability_pct"),
        (StabilityRule(window_s=0), "window_s"),
        (StabilityRule(windows=0), "windows"),
        (StabilityRule(windows=4, max_windows=3), "max_windows"),
    ],
)
def test_rule_problems_name_the_setting(rule: StabilityRule, bad: str) -> None:
    assert [name for name, _ in rule.problems()] == [bad]
    assert StabilityRule().problems() == []
