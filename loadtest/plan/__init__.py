"""The plan of a run: who sends what, when, and how many requests to expect. Pure.

Owns the split of users among traffic entries (fixed users first, then weights by largest
remainder, at least one user per weighted entry), each entry's share of an open-loop rate, the
timeline (warm-up and stages), and the expected request counts where they can be known (open loop;
an upper bound for paced closed loops; ``max_requests`` caps both). Never starts anything, never
reads a clock; ``tritonload plan`` prints :meth:`Plan.render`, the runner reads the numbers.

Usage::

    plan = make_plan(scenario)
    plan.entries[0].users            # users of the first traffic entry, per stage
    plan.schedule.tick(elapsed_s)    # load wanted now (see loadtest.plan.shapes)
    print(plan.render())
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loadtest.plan._text import render_plan
from loadtest.plan.shapes import ArrivalSchedule, Stage, StageSchedule
from loadtest.scenario import Scenario, is_open_loop


@dataclass(frozen=True)
class EntryPlan:
    """What one traffic entry does during the run."""

    name: str
    pattern: str
    method: str
    target: str
    endpoint: str
    """The target's URL, or ``"embedded"``."""
    protocol: str
    model: str
    payload: str
    stream: int
    """Index of the entry in ``traffic``: seeds its arrival stream."""
    users: tuple[int, ...]
    """Closed loop: this entry's users in each stage (one value for kind closed); empty in open loop."""
    rate_share: float | None
    """Open loop: this entry's fraction of the arrival rate; None in closed loop."""
    in_flight: int | None
    """futures/asyncio in closed loop: requests each user keeps outstanding."""
    expected_requests: int | None
    """Measured requests to expect (open loop), or at most (paced closed loop); None when unknowable."""


@dataclass(frozen=True)
class Phase:
    """One row of the timeline: warm-up or a stage, with the load it runs."""

    stage: int
    warmup: bool
    start_s: float
    end_s: float
    users: int | None
    spawn_rate: float | None
    rate_per_s: float | None
    users_by_entry: tuple[int, ...] | None
    """Closed loop: users of each traffic entry (in ``traffic`` order)."""


@dataclass(frozen=True)
class Plan:
    """The resolved plan of a scenario (see :func:`make_plan`)."""

    scenario: Scenario
    kind: str
    open_loop: bool
    schedule: StageSchedule
    entries: tuple[EntryPlan, ...]
    timeline: tuple[Phase, ...]
    expected_requests: int | None
    """Measured requests to expect in total (open loop, capped by ``max_requests``); None when unknowable."""
    requests_upper_bound: int | None
    """Closed loop with pacing: at most this many measured requests (capped by ``max_requests``)."""

    @property
    def warmup_s(self) -> float:
        """Warm-up before measuring."""
        return self.schedule.warmup_s

    @property
    def duration_s(self) -> float:
        """Measured duration after the warm-up."""
        return self.schedule.duration_s

    @property
    def total_s(self) -> float:
        """Warm-up plus measured duration."""
        return self.schedule.total_s

    def entry(self, name: str) -> EntryPlan:
        """The plan of traffic entry ``name`` (KeyError when there is none)."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def arrival_schedule(self, name: str) -> ArrivalSchedule:
        """The open-loop arrival stream of traffic entry ``name`` (seeded by the scenario seed and entry index).

        Raises:
            ValueError: the load is not open loop.
        """
        entry = self.entry(name)
        if entry.rate_share is None:
            raise ValueError("arrival schedules exist only for open-loop load")
        arrival = self.scenario.load.arrival or "constant"
        return ArrivalSchedule(
            self.schedule, arrival=arrival, seed=self.scenario.seed, share=entry.rate_share, stream=entry.stream
        )

    def users_by_entry(self, elapsed_s: float) -> dict[str, int] | None:
        """Closed loop: each entry's users at ``elapsed_s``; None in open loop or once the run is over."""
        segment = self.schedule.segment_at(elapsed_s)
        if segment is None or self.open_loop:
            return None
        return {entry.name: entry.users[segment.stage] for entry in self.entries}

    def stage_users(self, elapsed_s: float) -> tuple[int, float] | None:
        """Closed loop: ``(users, spawn_rate)`` wanted at ``elapsed_s`` (a Locust shape's tick); None when done.

        Raises:
            ValueError: the load is open loop (it has rates, not users).
        """
        if self.open_loop:
            raise ValueError("open-loop load has arrival rates, not user counts")
        tick = self.schedule.tick(elapsed_s)
        if tick is None or tick.users is None:
            return None
        return tick.users, tick.spawn_rate if tick.spawn_rate is not None else float(tick.users)

    def render(self, env: Mapping[str, str] | None = None) -> str:
        """The plan as text for the terminal; with ``env``, says whether access tokens are set."""
        return render_plan(self, env)


def split_users(total: int, fixed: Sequence[int | None], weights: Sequence[float | None]) -> list[int]:
    """Split ``total`` users among entries: fixed counts first, the rest by weight.

    Entries with a fixed count (``fixed[i]`` not None) get exactly that; the remaining users are
    shared by the other entries in proportion to ``weights[i]`` (None counts as 1) by largest
    remainder (ties go to the earlier entry), and every weighted entry gets at least one user
    (taken from the entry with the most).

    Raises:
        ValueError: the fixed counts exceed ``total``, or too few users are left for the weighted entries.
    """
    if len(fixed) != len(weights):
        raise ValueError("fixed and weights must have the same length")
    counts = [f if f is not None else 0 for f in fixed]
    weighted = [i for i, f in enumerate(fixed) if f is None]
    left = total - sum(counts)
    if left < len(weighted) or left < 0:
        raise ValueError(f"{total} users cannot hold fixed users {sum(counts)} plus one per weighted entry")
    if not weighted:
        return counts
    shares = [float(w) if (w := weights[i]) is not None else 1.0 for i in weighted]
    quotas = [share * left / sum(shares) for share in shares]
    given = [math.floor(q + 1e-9) for q in quotas]
    order = sorted(range(len(weighted)), key=lambda j: (-(quotas[j] - given[j]), j))
    for j in order[: left - sum(given)]:
        given[j] += 1
    for j in range(len(given)):
        if given[j] == 0:
            donor = max(range(len(given)), key=lambda k: (given[k], -k))
            given[donor] -= 1
            given[j] = 1
    for j, i in enumerate(weighted):
        counts[i] = given[j]
    return counts


def make_plan(scenario: Scenario) -> Plan:
    """The plan of a loaded (validated and resolved) scenario.

    Raises:
        ValueError: the scenario was not resolved (build it with ``load_scenario``/``parse_scenario``).
    """
    load = scenario.load
    open_loop = is_open_loop(load)
    schedule = _schedule(scenario)
    traffic = scenario.traffic
    fixed = [t.users for t in traffic]
    weights = [t.weight for t in traffic]
    per_stage = [split_users(s.users, fixed, weights) if s.users is not None else None for s in schedule.stages]
    total_weight = sum(w or 0.0 for w in weights)
    shares = [(t.weight or 0.0) / total_weight if open_loop else None for t in traffic]
    expected = [_expected(schedule, per_stage, index, shares[index], load.pacing_s) for index in range(len(traffic))]
    known = [e for e in expected if e is not None]
    total = sum(known) if known else None
    cap = scenario.max_requests
    scale = cap / total if cap is not None and total is not None and total > cap else 1.0
    capped = None if total is None else round(total * scale)
    entries = tuple(
        EntryPlan(
            name=t.name,
            pattern=t.pattern,
            method=t.method,
            target=t.target,
            endpoint=scenario.targets[t.target].url or "embedded",
            protocol=scenario.targets[t.target].protocol or "",
            model=scenario.targets[t.target].model,
            payload=t.payload,
            stream=index,
            users=tuple(users[index] for users in per_stage if users is not None),
            rate_share=shares[index],
            in_flight=t.in_flight,
            expected_requests=None if (e := expected[index]) is None else round(e * scale),
        )
        for index, t in enumerate(traffic)
    )
    timeline = tuple(
        Phase(
            stage=segment.stage,
            warmup=segment.warmup,
            start_s=segment.start_s,
            end_s=segment.end_s,
            users=segment.load.users,
            spawn_rate=segment.load.spawn_rate,
            rate_per_s=segment.load.rate_per_s,
            users_by_entry=tuple(users) if (users := per_stage[segment.stage]) is not None else None,
        )
        for segment in schedule.segments
    )
    return Plan(
        scenario=scenario,
        kind=load.kind,
        open_loop=open_loop,
        schedule=schedule,
        entries=entries,
        timeline=timeline,
        expected_requests=capped if open_loop else None,
        requests_upper_bound=None if open_loop else capped,
    )


def _schedule(scenario: Scenario) -> StageSchedule:
    load = scenario.load
    duration_s = scenario.duration_s
    if duration_s is None:
        raise ValueError("the scenario has no duration_s; load it with load_scenario()")
    if load.kind == "closed":
        stages = [Stage(duration_s, users=load.users, spawn_rate=load.spawn_rate)]
    elif load.kind == "open":
        stages = [Stage(duration_s, rate_per_s=load.rate)]
    elif load.kind == "sweep":  # a sweep's plan is its first step (`tritonload sweep` runs the others)
        first = (load.levels or [1.0])[0]
        if load.variable == "rate":
            stages = [Stage(duration_s, rate_per_s=first)]
        else:
            stages = [Stage(duration_s, users=int(first), spawn_rate=float(first))]
    else:
        stages = [
            Stage(s.duration_s, users=s.users, spawn_rate=s.spawn_rate, rate_per_s=s.rate) for s in load.stages or []
        ]
    return StageSchedule(stages, warmup_s=scenario.warmup_s, duration_s=duration_s)


def _expected(
    schedule: StageSchedule,
    per_stage: list[list[int] | None],
    index: int,
    share: float | None,
    pacing_s: float | None,
) -> float | None:
    """Expected measured requests of one entry (open loop), or at most (paced closed loop)."""
    lo, hi = schedule.warmup_s, schedule.total_s
    if share is not None:
        return share * schedule.expected_arrivals(lo, hi)
    if not pacing_s:
        return None
    user_seconds = 0.0
    for segment in schedule.segments:
        users = per_stage[segment.stage]
        if users is not None:
            user_seconds += users[index] * _overlap(segment.start_s, segment.end_s, lo, hi)
    return user_seconds / pacing_s


def _overlap(start_s: float, end_s: float, lo: float, hi: float) -> float:
    return max(0.0, min(end_s, hi) - max(start_s, lo))
