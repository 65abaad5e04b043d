"""The terminal text of a plan (``tritonload plan``). Pure formatting; never computes plan numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from loadtest.scenario import InputSpec

if TYPE_CHECKING:
    from loadtest.plan import Plan

_GENERATOR_KEYS = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "sequence": ("start", "step"),
    "file": ("path", "key"),
}


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns (the first row is the header), two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_plan(plan: Plan, env: Mapping[str, str] | None) -> str:
    """The plan as text: scenario, load, time, requests, targets, traffic, timeline, payloads, SLOs."""
    scenario = plan.scenario
    lines = [
        f"Scenario  {scenario.name}  ({scenario.source}, sha256 {scenario.scenario_hash[:12]})",
        f"Load      {_load_text(plan)}",
        f"Time      {_s(plan.warmup_s)} warm-up + {_s(plan.duration_s)} measured = {_s(plan.total_s)}",
        f"Requests  {_requests_text(plan)}",
        "",
        "Targets",
        *table([["name", "where", "protocol", "model", "version", "access token"], *_target_rows(plan, env)]),
        "",
        "Traffic",
        *table(
            [
                [
                    "name",
                    "pattern",
                    "method",
                    "target",
                    "payload",
                    "rate share" if plan.open_loop else "users",
                    "in flight",
                    "requests",
                ],
                *_traffic_rows(plan),
            ]
        ),
        "",
        "Timeline",
        *table([["phase", "start_s", "end_s", "users", "spawn/s", "rate/s", "users per entry"], *_timeline_rows(plan)]),
        "",
        "Payloads",
        *_payload_lines(plan),
    ]
    slos = scenario.all_slos()
    lines += ["", "SLOs"]
    lines += table([[slo.traffic or "(all traffic)", slo.text] for slo in slos]) if slos else ["  (none)"]
    return "\n".join(lines) + "\n"


def _load_text(plan: Plan) -> str:
    load = plan.scenario.load
    if plan.kind == "closed":
        pacing = f"pacing {_s(load.pacing_s or 0.0)}" if load.pacing_s else "no pacing"
        return f"closed loop: {load.users} users, spawn {load.spawn_rate:g}/s, {pacing}"
    arrival = f"{load.arrival} arrivals, at most {load.max_in_flight} in flight"
    if plan.kind == "sweep":
        unit = "requests/s" if plan.open_loop else "users"
        levels = ", ".join(f"{level:g}" for level in load.levels or [])
        return (
            f"sweep over {load.variable}: {levels} {unit}; each step {_s(load.step_warmup_s or 0.0)} warm-up, then "
            f"{_s(load.window_s or 0.0)} windows until {load.windows} agree within ±{load.stability_pct:g} % "
            f"(at most {load.max_windows}); shown below: the first step (run it with `tritonload sweep`)"
        )
    if plan.kind == "open":
        return f"open loop: {load.rate:g} requests/s, {arrival}"
    what = f"open loop, {arrival}" if plan.open_loop else "closed loop"
    return f"{len(load.stages or [])} stages ({what})"


def _requests_text(plan: Plan) -> str:
    cap = plan.scenario.max_requests
    known = plan.expected_requests if plan.expected_requests is not None else plan.requests_upper_bound
    capped = ""
    if cap is not None:
        capped = f" (capped by max_requests {cap})" if known == cap else f" (max_requests {cap} not reached)"
    if plan.expected_requests is not None:
        return f"about {plan.expected_requests} measured{capped}"
    if plan.requests_upper_bound is not None:
        return f"at most {plan.requests_upper_bound} measured (pacing){capped}"
    limit = f"; stops at max_requests {cap}" if cap is not None else ""
    return f"depend on response times (closed loop){limit}"


def _target_rows(plan: Plan, env: Mapping[str, str] | None) -> list[list[str]]:
    rows = []
    for name, target in plan.scenario.targets.items():
        token = "-"
        if target.access_token_env:
            state = "" if env is None else (" (set)" if env.get(target.access_token_env) else " (NOT SET)")
            token = f"${target.access_token_env}{state}"
        where = target.url or "embedded"
        rows.append([name, where, target.protocol or "", target.model, target.version or "latest", token])
    return rows


def _traffic_rows(plan: Plan) -> list[list[str]]:
    rows = []
    for entry in plan.entries:
        if plan.open_loop:
            share = f"{entry.rate_share:.0%}" if entry.rate_share is not None else "-"
        else:
            share = "/".join(str(u) for u in entry.users)
        requests = "-" if entry.expected_requests is None else str(entry.expected_requests)
        in_flight = str(entry.in_flight) if entry.in_flight is not None else "-"
        rows.append([entry.name, entry.pattern, entry.method, entry.target, entry.payload, share, in_flight, requests])
    return rows


def _timeline_rows(plan: Plan) -> list[list[str]]:
    names = [entry.name for entry in plan.entries]
    rows = []
    for phase in plan.timeline:
        per_entry = "-"
        if phase.users_by_entry is not None:
            per_entry = ", ".join(f"{n} {u}" for n, u in zip(names, phase.users_by_entry, strict=True))
        rows.append(
            [
                "warm-up" if phase.warmup else f"stage {phase.stage + 1}",
                f"{phase.start_s:g}",
                f"{phase.end_s:g}",
                _opt(phase.users),
                _opt(phase.spawn_rate),
                _opt(phase.rate_per_s),
                per_entry,
            ]
        )
    return rows


def _payload_lines(plan: Plan) -> list[str]:
    lines = []
    for name, payload in plan.scenario.payloads.items():
        lines.append(f"  {name}: pool {payload.pool_size}, seed {payload.seed}")
        for input_name, spec in payload.inputs.items():
            lines.append(f"    {input_name}: {_input_text(spec)}")
    return lines


def _input_text(spec: InputSpec) -> str:
    dtype = spec.dtype or "(from file)"
    shape = spec.shape if spec.shape is not None else "(from file)"
    args = ", ".join(
        f"{key}={getattr(spec, key)!r}" if isinstance(getattr(spec, key), str) else f"{key}={getattr(spec, key):g}"
        for key in _GENERATOR_KEYS.get(spec.generator, ())
        if getattr(spec, key) is not None and not isinstance(getattr(spec, key), bool)
    )
    if spec.generator == "prompts":
        args = f"{len(spec.prompts or [])} prompts"
    return f"{dtype} {shape} {spec.generator}({args})"


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _s(seconds: float) -> str:
    return f"{seconds:g} s"
