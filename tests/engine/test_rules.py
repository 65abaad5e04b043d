"""The engine's rules as pure functions of a clock (loadtest.engine.rules): no Locust, no server, no sleep."""

from __future__ import annotations

import dataclasses

import pytest

from loadtest.engine.generator import LagProbe, run_summary
from loadtest.engine.rules import (
    CAP_HIT_SHARE,
    GENERATOR_CPU_LIMIT,
    LATE_SHARE_LIMIT,
    LATE_THRESHOLD_NS,
    LOOP_LAG_LIMIT_US,
    UNREACHABLE_ABORT_S,
    IntervalClock,
    LateSends,
    RequestBudget,
    RunState,
    StallTracker,
    Tickets,
    generator_verdict,
    is_late,
    response_time_us,
    server_kept_up,
    stop_reason,
)
from loadtest.exit_codes import ExitCode

S = 1_000_000_000
OK, FAILED = ExitCode.OK, ExitCode.RUNTIME_ERROR


# -- request budget ----------------------------------------------------------------------------------
def test_a_budget_admits_exactly_max_requests_measured_sends() -> None:
    budget = RequestBudget(3)
    assert budget.exhausted is False and budget.spent == 0
    assert [budget.take(measuring=True) for _ in range(5)] == [True, True, True, False, False]
    assert budget.spent == 3
    assert budget.exhausted


def test_warm_up_sends_do_not_spend_the_budget() -> None:
    budget = RequestBudget(2)
    assert all(budget.take(measuring=False) for _ in range(100))
    assert budget.spent == 0 and not budget.exhausted
    assert [budget.take(measuring=True) for _ in range(3)] == [True, True, False]


def test_no_budget_means_unlimited() -> None:
    budget = RequestBudget(None)
    assert all(budget.take(measuring=True) for _ in range(1000))
    assert not budget.exhausted


def test_a_budget_of_zero_admits_nothing_measured() -> None:
    budget = RequestBudget(0)
    assert budget.take(measuring=True) is False
    assert budget.exhausted
    assert budget.take(measuring=False) is False  # once exhausted, the run is ending


# -- open-loop tickets ---------------------------------------------------------------------------------
def test_tickets_follow_the_schedule_from_the_start_time_and_then_stop() -> None:
    offsets = [0.0, 0.01, 0.02, 0.5]
    tickets = Tickets(lambda n: offsets[n] if n < len(offsets) else None, start_ns=7 * S)
    taken = [tickets.take() for _ in range(6)]
    assert taken == [7 * S, 7 * S + 10_000_000, 7 * S + 20_000_000, 7 * S + 500_000_000, None, None]
    assert tickets.issued == 4


def test_tickets_round_to_the_nearest_nanosecond() -> None:
    tickets = Tickets(lambda n: 0.3 if n == 0 else None, start_ns=0)
    assert tickets.take() == 300_000_000  # 0.3 * 1e9 = 299999999.99999994 when truncated


def test_tickets_keep_nanosecond_precision_far_into_the_schedule() -> None:
    tickets = Tickets(lambda n: 100.0 + n * 1e-9, start_ns=S)
    assert [tickets.take(), tickets.take()] == [101 * S, 101 * S + 1]


# -- late sends and response time ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start_ns", "intended_ns", "late"),
    [
        (1_000, None, False),  # closed loop: no intended start
        (10 * S, 10 * S, False),
        (10 * S + LATE_THRESHOLD_NS, 10 * S, False),  # exactly at the threshold: on time
        (10 * S + LATE_THRESHOLD_NS + 1, 10 * S, True),
        (10 * S - 3 * LATE_THRESHOLD_NS, 10 * S, False),  # early never counts as late
    ],
)
def test_late_means_more_than_the_threshold_after_the_intended_start(
    start_ns: int, intended_ns: int | None, late: bool
) -> None:
    assert is_late(start_ns, intended_ns) is late


def test_response_time_runs_from_the_intended_start() -> None:
    assert response_time_us(end_ns=5 * S + 2_500_000, intended_ns=5 * S) == 2_500
    assert response_time_us(end_ns=5 * S, intended_ns=None) is None
    took_us = response_time_us(end_ns=5 * S + 2_500_999, intended_ns=5 * S)
    assert took_us == 2_500 and isinstance(took_us, int)  # whole microseconds, rounded down


# -- the interval clock -------------------------------------------------------------------------------
def test_the_clock_ticks_every_interval_and_ends_warm_up_on_time() -> None:
    clock = IntervalClock(0, warmup_s=2.5, duration_s=3.0, interval_s=1.0)
    assert not clock.measuring
    assert clock.wake_at_ns() == 1 * S
    assert clock.tick(1 * S).roll
    assert clock.tick(2 * S).roll
    assert clock.wake_at_ns() == int(2.5 * S)  # the warm-up end comes before the next interval
    tick = clock.tick(int(2.5 * S))
    assert tick.start_measuring and not tick.roll and clock.measuring
    assert clock.wake_at_ns() == int(3.5 * S)  # intervals restart at the warm-up end
    assert clock.end_ns == int(5.5 * S)
    assert clock.tick(int(3.5 * S)).roll
    assert clock.tick(int(4.5 * S)).roll
    assert clock.wake_at_ns() == int(5.5 * S)
    assert clock.tick(int(5.5 * S)).roll  # the end rolls the last interval


def test_an_early_wake_up_does_nothing() -> None:
    clock = IntervalClock(0, warmup_s=0, duration_s=10, interval_s=1.0)
    assert clock.measuring
    assert clock.tick(S // 2) == type(clock.tick(S // 2))()
    assert clock.tick(S).roll


def test_a_late_wake_up_skips_missed_ticks_instead_of_bursting() -> None:
    clock = IntervalClock(0, warmup_s=0, duration_s=100, interval_s=1.0)
    assert clock.tick(int(4.2 * S)).roll
    assert clock.wake_at_ns() == 5 * S
    assert not clock.tick(int(4.9 * S)).roll
    assert clock.tick(7 * S).roll  # late by exactly two intervals: the next tick is after now
    assert clock.wake_at_ns() == 8 * S
    assert not clock.tick(7 * S).roll


def test_a_warm_up_shorter_than_a_second_is_still_a_warm_up() -> None:
    clock = IntervalClock(0, warmup_s=0.5, duration_s=10, interval_s=1.0)
    assert not clock.measuring
    assert clock.wake_at_ns() == S // 2
    assert clock.tick(S // 2).start_measuring


def test_the_end_of_the_window_rolls_even_between_ticks() -> None:
    clock = IntervalClock(0, warmup_s=0, duration_s=2.5, interval_s=1.0)
    assert clock.tick(1 * S).roll and clock.tick(2 * S).roll
    assert clock.wake_at_ns() == int(2.5 * S)
    assert clock.tick(int(2.5 * S)).roll  # the last, half-length interval


def test_an_interval_of_zero_becomes_one_nanosecond() -> None:
    clock = IntervalClock(5, warmup_s=0, duration_s=1, interval_s=0.0)
    assert clock.interval_ns == 1
    assert clock.wake_at_ns() == 6


def test_measured_time_stops_at_the_end_of_the_window() -> None:
    """The throughput denominator: the graceful stop after the end is not measured time."""
    clock = IntervalClock(0, warmup_s=1, duration_s=20, interval_s=1.0)
    assert clock.measured_s(1 * S, 21 * S) == 20.0
    assert clock.measured_s(1 * S, 21 * S + 323_000_000) == 20.0
    assert clock.measured_s(1 * S, 11 * S) == 10.0
    assert clock.measured_s(None, 11 * S) == 0.0
    assert clock.measured_s(5 * S, 4 * S) == 0.0  # a clock read before the start: nothing measured yet


def test_a_clock_without_an_end_never_ends() -> None:
    clock = IntervalClock(0, warmup_s=0, duration_s=1, interval_s=1.0, ends=False)
    assert clock.end_ns > 10**17
    assert clock.measured_s(0, 50 * S) == 50.0


# -- stop rules ------------------------------------------------------------------------------------------
BASE = RunState(
    now_ns=10 * S,
    end_ns=20 * S,
    closed_loop=True,
    measuring=True,
    measured_s=9.0,
    users=4,
    in_flight=4,
    last_ok_ns=10 * S,
)


def state(**changes: object) -> RunState:
    return dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, None),
        ({"now_ns": 20 * S}, ("completed", ExitCode.OK, "duration reached")),
        ({"stop_requested": True}, ("completed", ExitCode.OK, "stopped")),
        ({"signal": 2}, ("interrupted", ExitCode.INTERRUPTED, "interrupted by signal 2")),
        ({"server_exited": True}, ("failed", FAILED, "the embedded Triton server exited during the run")),
        ({"budget_exhausted": True}, ("completed", ExitCode.OK, "max_requests reached")),
        (
            {"write_error": "cannot write to r: No space left on device"},
            ("failed", FAILED, "cannot write to r: No space left on device"),
        ),
        # every user stopped: a closed loop failed, an open loop's schedule is done
        ({"users": 0, "in_flight": 0}, ("failed", FAILED, "every user stopped before the end of the run")),
        ({"users": 0, "in_flight": 0, "closed_loop": False}, ("completed", OK, "the arrival schedule is done")),
        ({"users": 0, "in_flight": 1}, None),  # a request is still out
        ({"users": 0, "in_flight": 0, "measured_s": 0.5}, None),  # too early to call it idle
        ({"users": 0, "in_flight": 0, "measured_s": 1.0}, None),  # idle for exactly the grace: not yet
        ({"users": 0, "in_flight": 0, "measuring": False}, None),  # users not spawned yet in warm-up
    ],
)
def test_stop_rules(changes: dict[str, object], expected: tuple[str, int, str] | None) -> None:
    stop = stop_reason(state(**changes))
    if expected is None:
        assert stop is None
    else:
        assert stop is not None
        assert (stop.status, stop.exit_code, stop.reason) == expected


def test_the_server_counts_as_unreachable_after_five_seconds_of_connection_errors_only() -> None:
    last_ok = 10 * S
    limit_ns = int(UNREACHABLE_ABORT_S * S)
    erroring = state(last_ok_ns=last_ok, last_connection_error_ns=last_ok + S)
    assert stop_reason(dataclasses.replace(erroring, now_ns=last_ok + limit_ns)) is None
    stop = stop_reason(dataclasses.replace(erroring, now_ns=last_ok + limit_ns + 1))
    assert stop is not None
    assert (stop.status, stop.exit_code, stop.reason) == ("failed", FAILED, "the server has been unreachable for 5 s")
    # an error at the very instant of the last success does not outweigh it
    same_instant = state(last_ok_ns=last_ok, last_connection_error_ns=last_ok, end_ns=100 * S)
    assert stop_reason(dataclasses.replace(same_instant, now_ns=last_ok + 2 * limit_ns)) is None
    # a success after the last connection error means the server answers again
    recovered = state(last_ok_ns=last_ok + 2 * S, last_connection_error_ns=last_ok + S, now_ns=last_ok + 3 * limit_ns)
    assert stop_reason(dataclasses.replace(recovered, end_ns=100 * S)) is None


def test_the_first_matching_rule_wins() -> None:
    """A Ctrl-C at the end is still an interruption; a stop request beats a dead server."""
    assert stop_reason(state(signal=15, now_ns=30 * S)).status == "interrupted"  # type: ignore[union-attr]
    assert stop_reason(state(stop_requested=True, server_exited=True)).status == "completed"  # type: ignore[union-attr]
    # a run whose directory cannot be written has failed, whatever else ends it
    assert stop_reason(state(write_error="full", signal=2, stop_requested=True)).status == "failed"  # type: ignore[union-attr]


# -- the shared run control ------------------------------------------------------------------------------
def test_run_control_admits_until_stopping_or_out_of_budget() -> None:
    from loadtest.engine.control import RunControl
    from loadtest.recording.recorder import Recorder

    recorder = Recorder(highest_us=1_000_000)
    control = RunControl(recorder, environment=None, max_requests=2)
    assert control.may_send()  # warm-up: free
    recorder.start_measuring(0)
    assert [control.may_send() for _ in range(3)] == [True, True, False]
    assert control.budget.exhausted
    unlimited = RunControl(recorder, environment=None)
    assert unlimited.may_send()
    unlimited.stopping = True
    assert not unlimited.may_send()


def test_run_control_closes_every_client_past_failures() -> None:
    from loadtest.engine.control import RunControl
    from loadtest.recording.recorder import Recorder

    control = RunControl(Recorder(highest_us=1_000_000), environment=None)
    closed: list[int] = []

    def failing() -> None:
        raise OSError("already gone")

    control.closers += [lambda: closed.append(1), failing, lambda: closed.append(3)]
    errors = control.close_clients()
    assert closed == [1, 3]
    assert [str(e) for e in errors] == ["already gone"]


# -- stalls ----------------------------------------------------------------------------------------------
def test_a_stall_starts_at_the_last_completion_once_two_intervals_pass_without_one() -> None:
    tracker = StallTracker(threshold_s=2.0)
    assert tracker.threshold_ns == 2 * S and tracker.stalls == [] and tracker.current is None
    assert tracker.update(now_ns=2 * S - 1, in_flight=3, last_completion_ns=0) is None  # one ns short
    started = tracker.update(now_ns=2 * S, in_flight=3, last_completion_ns=0)
    assert started is not None and started.start_ns == 0 and started.end_ns is None
    assert tracker.current is started
    assert tracker.update(now_ns=3 * S, in_flight=3, last_completion_ns=0) is None  # reported once
    ended = tracker.update(now_ns=6 * S, in_flight=3, last_completion_ns=5 * S)
    assert ended is started and ended.end_ns == 5 * S
    assert tracker.current is None
    assert tracker.stalls == [started]


def test_a_stall_lasts_while_requests_stay_in_flight_and_ends_when_none_are() -> None:
    tracker = StallTracker(threshold_s=0.5)
    started = tracker.update(now_ns=10 * S, in_flight=1, last_completion_ns=9 * S)
    assert started is not None and started.start_ns == 9 * S
    assert tracker.update(now_ns=11 * S, in_flight=1, last_completion_ns=9 * S) is None  # no completion yet
    assert tracker.current is started and started.end_ns is None
    ended = tracker.update(now_ns=12 * S, in_flight=0, last_completion_ns=9 * S)  # the request timed out
    assert ended is started and ended.end_ns == 12 * S
    assert tracker.update(now_ns=30 * S, in_flight=0, last_completion_ns=9 * S) is None  # idle is no stall
    assert tracker.update(now_ns=31 * S, in_flight=1, last_completion_ns=31 * S - S // 4) is None  # recent answer


def test_closing_at_the_end_closes_the_stall_going_on_and_no_earlier_one() -> None:
    tracker = StallTracker(threshold_s=1.0)
    for start_s in (0, 10, 20):  # two stalls that ended, then one that lasts
        tracker.update(now_ns=(start_s + 1) * S, in_flight=1, last_completion_ns=start_s * S)
        if start_s < 20:
            tracker.update(now_ns=(start_s + 3) * S, in_flight=1, last_completion_ns=(start_s + 2) * S)
    tracker.close(now_ns=25 * S)
    assert [(s.start_ns // S, s.end_ns // S) for s in tracker.stalls] == [(0, 2), (10, 12), (20, 25)]  # type: ignore[operator]


def test_no_stall_without_requests_in_flight_and_one_that_lasts_to_the_end_is_closed() -> None:
    tracker = StallTracker(threshold_s=2.0)
    assert tracker.update(now_ns=10 * S, in_flight=0, last_completion_ns=0) is None  # idle is not a stall
    assert tracker.stalls == []
    assert tracker.update(now_ns=12 * S, in_flight=1, last_completion_ns=9 * S) is not None
    assert tracker.update(now_ns=13 * S, in_flight=0, last_completion_ns=9 * S).end_ns == 13 * S  # type: ignore[union-attr]
    tracker.close(now_ns=14 * S)  # nothing going on: closes nothing
    assert tracker.update(now_ns=20 * S, in_flight=2, last_completion_ns=13 * S) is not None
    tracker.close(now_ns=21 * S)
    assert [(s.start_ns, s.end_ns) for s in tracker.stalls] == [(9 * S, 13 * S), (13 * S, 21 * S)]
    assert tracker.current is None


def test_a_threshold_rounds_to_the_nearest_nanosecond() -> None:
    assert StallTracker(threshold_s=0.3).threshold_ns == 300_000_000


# -- generator saturation ------------------------------------------------------------------------------
FIX = "spread the load over more generator processes or machines, or use fewer users per process"


@pytest.mark.parametrize(
    ("cpu_util", "lag_us", "late", "reasons"),
    [
        (0.2, 500.0, None, None),
        (GENERATOR_CPU_LIMIT - 0.001, None, None, None),
        (GENERATOR_CPU_LIMIT, 500.0, None, "its CPU use is 90% of one core"),
        (0.5, LOOP_LAG_LIMIT_US + 1.0, None, "its event loop runs 50 ms late (p99)"),
        (0.5, 2_000_000.0, None, "its event loop runs 2000 ms late (p99)"),
        (0.5, LOOP_LAG_LIMIT_US, None, None),  # at the bound: fine
        (0.5, None, LATE_SHARE_LIMIT, None),  # at the bound: fine
        (0.5, None, 0.25, "25.0% of sends started late"),
        (
            0.95,
            60_000.0,
            0.5,
            "its CPU use is 95% of one core; its event loop runs 60 ms late (p99); 50.0% of sends started late",
        ),
    ],
)
def test_generator_verdict(cpu_util: float, lag_us: float | None, late: float | None, reasons: str | None) -> None:
    verdict = generator_verdict(cpu_util, lag_us, late)
    if reasons is None:
        assert (verdict.saturated, verdict.reason) == (False, None)
    else:
        assert verdict.saturated is True
        assert verdict.reason == f"the load generator is saturated ({reasons}): {FIX}"  # says what to do


# -- late sends: which count against the generator (one rule for intervals, runs and sweep steps) ------
@pytest.mark.parametrize(
    ("intervals", "kept_up", "share", "saturated"),
    [
        ([], True, None, False),  # nothing sent
        ([(1000, 5, 2, 64)], True, 0.005, False),  # a busy second: a few late sends are not saturation
        ([(1000, int(LATE_SHARE_LIMIT * 1000), 2, 64)], True, LATE_SHARE_LIMIT, False),  # at the limit: fine
        ([(1000, 150, 10, 64)], True, 0.15, True),  # free workers, yet late: the generator's fault
        ([(1000, 900, 58, 64)], True, None, False),  # 58 >= 0.9 x 64 in flight: held by max_in_flight
        ([(1000, 900, 57, 64)], True, 0.9, True),  # just under the cap: counted
        ([(1000, 900, 64, 64), (1000, 20, 3, 64)], True, 0.02, False),  # only the uncapped interval counts
        ([(1000, 300, 3, 64)], False, None, False),  # the server fell behind the offered rate: its doing
        ([(100, 20, 50, 0)], True, 0.2, True),  # workers unknown: counted
    ],
)
def test_late_sends_count_against_the_generator_only_with_a_free_worker_and_a_server_that_keeps_up(
    intervals: list[tuple[int, int, int, int]], kept_up: bool, share: float | None, saturated: bool
) -> None:
    late = LateSends()
    for sent, late_count, in_flight, workers in intervals:
        late.add(sent, late_count, in_flight, workers)
    assert late.share(server_kept_up=kept_up) == share
    assert generator_verdict(0.2, None, late.share(server_kept_up=kept_up)).saturated is saturated


def test_the_cap_is_hit_at_its_share_of_the_workers() -> None:
    assert CAP_HIT_SHARE == 0.9
    late = LateSends()
    late.add(10, 10, 9, 10)  # 9 of 10 workers busy: capped, left out
    late.add(10, 1, 8, 10)
    assert (late.sent, late.late) == (10, 1)


@pytest.mark.parametrize(
    ("achieved", "offered", "pct", "kept_up"),
    [(180.0, 200.0, 90.0, True), (179.9, 200.0, 90.0, False), (0.0, None, 90.0, True), (96.0, 100.0, 95.0, True)],
)
def test_server_kept_up(achieved: float, offered: float | None, pct: float, kept_up: bool) -> None:
    assert server_kept_up(achieved, offered, pct) is kept_up


@pytest.mark.parametrize(("throughput_rps", "saturated", "share"), [(99.0, True, 0.15), (60.0, False, None)])
def test_run_summary_applies_the_late_rule_to_the_whole_run(
    throughput_rps: float, saturated: bool, share: float | None
) -> None:
    late = LateSends()
    late.add(1000, 150, 2, 64)
    overall = {"requests": 1000, "late_sends": 150, "throughput_rps": throughput_rps}
    generator = run_summary(1.0, 10.0, LagProbe(), overall, late, 100.0, 0)
    assert (generator["saturated"], generator["late_share"]) == (saturated, share)
    closed = run_summary(1.0, 10.0, LagProbe(), overall, None, None, 0)  # closed loop: no intended times
    assert closed["saturated"] is False and closed["late_share"] is None


def test_late_sends_add_up_over_intervals_and_a_lone_busy_worker_hit_the_cap() -> None:
    late = LateSends()
    late.add(10, 1, 0, 4)
    late.add(20, 2, 1, 4)
    assert (late.sent, late.late) == (30, 3)  # every interval counts, not only the last
    assert late.share() == 0.1  # the server kept up unless told otherwise
    alone = LateSends()
    alone.add(10, 5, 1, 1)  # the only worker was busy: its sends waited for the server
    assert (alone.sent, alone.late) == (0, 0) and alone.share() is None
