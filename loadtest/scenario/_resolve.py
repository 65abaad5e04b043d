"""Fill in the defaults that depend on other fields, on a scenario that passed every check.

Owns the resolved form: target protocols from their URLs, payload seeds from the scenario seed,
generator parameters, traffic weights and ``in_flight``, the load fields of the chosen kind, the
duration of stage loads, sorted percentiles, lower-case header names. Never validates (the checks
ran before) and never changes a value the user gave.
"""

from __future__ import annotations

from loadtest.engine.patterns import pattern_of
from loadtest.scenario._checks import DEFAULT_MAX_IN_FLIGHT, is_open_loop
from loadtest.scenario._model import (
    URL_SCHEMES,
    InputSpec,
    Load,
    LoadStage,
    Payload,
    Recording,
    Scenario,
    Target,
    Traffic,
)
from loadtest.scenario._payload_rules import sequence_params, uniform_bounds


def resolve(scenario: Scenario, default_name: str) -> Scenario:
    """``scenario`` with every applicable default filled in (see docs/scenario.md, "Defaults")."""
    open_loop = is_open_loop(scenario.load)
    load = _load(scenario.load, scenario.traffic)
    duration_s = scenario.duration_s
    if duration_s is None and load.stages:
        duration_s = sum(stage.duration_s for stage in load.stages)
    if duration_s is None and load.kind == "sweep":  # the shortest a step measures
        duration_s = (load.windows or 3) * (load.window_s or 5.0)
    return scenario.model_copy(
        update={
            "name": scenario.name or default_name,
            "targets": {name: _target(target) for name, target in scenario.targets.items()},
            "payloads": {name: _payload(payload, scenario.seed) for name, payload in scenario.payloads.items()},
            "traffic": [_traffic(traffic, open_loop) for traffic in scenario.traffic],
            "load": load,
            "duration_s": duration_s,
            "recording": Recording(
                interval_s=scenario.recording.interval_s, percentiles=sorted(set(scenario.recording.percentiles))
            ),
        }
    )


def _target(target: Target) -> Target:
    if target.protocol is not None or target.scheme is None:
        return target
    return target.model_copy(update={"protocol": URL_SCHEMES[target.scheme]})


def _payload(payload: Payload, seed: int) -> Payload:
    inputs = {name: _input(spec) for name, spec in payload.inputs.items()}
    return payload.model_copy(update={"seed": seed if payload.seed is None else payload.seed, "inputs": inputs})


def _input(spec: InputSpec) -> InputSpec:
    if spec.generator == "uniform" and spec.dtype is not None:
        low, high = uniform_bounds(spec, spec.dtype)
        return spec.model_copy(update={"low": low, "high": high})
    if spec.generator == "normal":
        return spec.model_copy(update={"mean": spec.mean or 0.0, "std": 1.0 if spec.std is None else spec.std})
    if spec.generator == "sequence":
        start, step = sequence_params(spec)
        return spec.model_copy(update={"start": start, "step": step})
    return spec


def _traffic(traffic: Traffic, open_loop: bool) -> Traffic:
    update: dict[str, object] = {"headers": {name.lower(): value for name, value in traffic.headers.items()}}
    if traffic.users is None and traffic.weight is None:
        update["weight"] = 1.0
    if pattern_of(traffic.pattern).concurrent and not open_loop and traffic.in_flight is None:
        update["in_flight"] = 1
    return traffic.model_copy(update=update)


def _load(load: Load, traffic: list[Traffic]) -> Load:
    if load.kind == "closed":
        users = load.users if load.users is not None else sum(t.users or 0 for t in traffic)
        return load.model_copy(
            update={
                "users": users,
                "spawn_rate": load.spawn_rate if load.spawn_rate is not None else float(users),
                "pacing_s": load.pacing_s if load.pacing_s is not None else 0.0,
            }
        )
    if load.kind == "open":
        return load.model_copy(update=_open_defaults(load))
    if load.kind == "sweep":
        return load.model_copy(update=_sweep_defaults(load))
    stages = load.stages or []
    if any(stage.rate is not None for stage in stages):
        return load.model_copy(update=_open_defaults(load))
    peak = max(stage.users or 0 for stage in stages)
    default_spawn = load.spawn_rate if load.spawn_rate is not None else float(peak)
    resolved: list[LoadStage] = [
        stage if stage.spawn_rate is not None else stage.model_copy(update={"spawn_rate": default_spawn})
        for stage in stages
    ]
    return load.model_copy(update={"stages": resolved, "pacing_s": load.pacing_s if load.pacing_s is not None else 0.0})


def _sweep_defaults(load: Load) -> dict[str, object]:
    sweep: dict[str, object] = {
        "window_s": load.window_s if load.window_s is not None else 5.0,
        "windows": load.windows if load.windows is not None else 3,
        "stability_pct": load.stability_pct if load.stability_pct is not None else 10.0,
        "max_windows": load.max_windows if load.max_windows is not None else 10,
        "step_warmup_s": load.step_warmup_s if load.step_warmup_s is not None else 2.0,
        "early_stop": load.early_stop if load.early_stop is not None else True,
    }
    if load.variable == "rate":
        sweep.update(_open_defaults(load))
    else:
        sweep["pacing_s"] = load.pacing_s if load.pacing_s is not None else 0.0
    return sweep


def _open_defaults(load: Load) -> dict[str, object]:
    return {
        "arrival": load.arrival or "constant",
        "max_in_flight": load.max_in_flight if load.max_in_flight is not None else DEFAULT_MAX_IN_FLIGHT,
    }
