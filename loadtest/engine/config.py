"""From a resolved scenario, its plan and its payload pools to the :class:`RunConfig` a session runs.

Owns the mapping of the scenario language onto the engine's data: targets become client options
(URLs resolved — an embedded target takes the started server's URL, passed in; TLS files resolved;
the access token read from its environment variable), traffic entries become :class:`TrafficEntry`
with their payload pools, the plan gives user counts, arrival schedules and stage ticks. Defaults
were applied by the scenario resolver; nothing here invents one. Pure apart from reading the
environment for tokens; never starts anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from loadtest.engine.model import ClientOptions, EmbeddedOptions, RunConfig, TrafficEntry
from loadtest.engine.patterns import pattern_of
from loadtest.plan import Plan, make_plan
from loadtest.plan.payloads import PayloadPool
from loadtest.scenario import Embedded, Scenario, Target


def embedded_options(scenario: Scenario) -> EmbeddedOptions | None:
    """The embedded server ``scenario`` needs, or None when every target is a remote URL."""
    if not any(scenario.targets[t.target].embedded for t in scenario.traffic):
        return None
    settings = scenario.embedded or Embedded()  # the schema's defaults, not ours
    return EmbeddedOptions(
        models=settings.models,
        model_parameters={name: dict(values) for name, values in settings.model_parameters.items()},
        startup_timeout_s=settings.startup_timeout_s,
    )


def target_urls(scenario: Scenario, *, http_url: str | None = None, grpc_url: str | None = None) -> dict[str, str]:
    """Every target's URL; embedded targets take the started server's ``http_url`` / ``grpc_url``.

    Raises:
        ValueError: an embedded target's protocol has no URL (the server was not started).
    """
    urls: dict[str, str] = {}
    for name, target in scenario.targets.items():
        if not target.embedded:
            urls[name] = str(target.url)
            continue
        url = grpc_url if target.protocol == "grpc" else http_url
        if url is None:
            raise ValueError(f"target {name!r} is embedded: start the embedded server first")
        urls[name] = url
    return urls


def check_secrets(scenario: Scenario, environ: Mapping[str, str] | None = None) -> None:
    """Read every access token a traffic entry needs, so an unset variable fails before anything starts.

    Raises:
        ScenarioError: a token's environment variable is unset (the message names it, never a value).
    """
    for name in sorted({entry.target for entry in scenario.traffic}):
        scenario.access_token(name, environ)


def _tls_kwargs(scenario: Scenario, target: Target) -> dict[str, Any]:
    if target.tls is None:
        return {}
    tls = target.tls
    kwargs: dict[str, Any] = {"tls_verify": tls.verify}
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(tls, key)
        if value:
            kwargs[f"tls_{key}"] = str(scenario.resolve_path(value))
    return kwargs


def client_options(
    scenario: Scenario, target_name: str, url: str, environ: Mapping[str, str] | None = None
) -> ClientOptions:
    """Client options of one target at its resolved ``url``."""
    target = scenario.targets[target_name]
    return ClientOptions(
        url=url,
        protocol=target.protocol or "http",
        model=target.model,
        version=target.version,
        init_timeout_s=target.timeouts.init_s,
        inference_timeout_s=target.timeouts.inference_s,
        access_token=scenario.access_token(target_name, environ),
        tls=_tls_kwargs(scenario, target),
    )


def build_run_config(
    scenario: Scenario,
    pools: Mapping[str, PayloadPool],
    urls: Mapping[str, str],
    *,
    plan: Plan | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """The run configuration of ``scenario`` (loaded and resolved) with its payload ``pools``.

    Args:
        urls: every target's URL (see :func:`target_urls`).

    Raises:
        ScenarioError: an access token's environment variable is unset.
    """
    plan = plan or make_plan(scenario)
    load = scenario.load
    open_loop = plan.open_loop
    traffic: list[TrafficEntry] = []
    for entry_plan, entry in zip(plan.entries, scenario.traffic, strict=True):
        options = client_options(scenario, entry.target, urls[entry.target], environ)
        pattern = pattern_of(entry.pattern)
        pool = pools[entry.payload]
        in_flight = entry.in_flight if pattern.concurrent and entry.in_flight is not None else 1
        fast_path = scenario.fast_path and pattern.fast_path
        info: dict[str, Any] = {
            "pattern": pattern.name,
            "method": entry.method,
            "model": options.model,
            "version": options.version or "",
            "protocol": options.protocol,
            "target": entry.target,
            "url": options.url,
            "batch_size": (pool.batch_size or 1) if entry.method == "infer_batch" else 1,
            "fast_path": fast_path,
        }
        arrivals = None
        if open_loop:
            assert load.max_in_flight is not None  # the resolver sets it for open loops
            share = entry_plan.rate_share or 0.0
            users = max(1, math.ceil(load.max_in_flight * share))
            arrivals = plan.arrival_schedule(entry.name).intended_start_s
            info.update({"rate_share": share, "workers": users, "concurrency": users})
        else:
            users = max(entry_plan.users) if entry_plan.users else 0
            info.update({"users": users, "in_flight": in_flight, "concurrency": users * in_flight})
        traffic.append(
            TrafficEntry(
                name=entry.name,
                pattern=pattern,
                method=entry.method,
                client=options,
                payloads=pool,
                parameters=dict(entry.parameters) or None,
                headers=dict(entry.headers) or None,
                in_flight=in_flight,
                pacing_s=load.pacing_s or 0.0,
                users=users,
                weight=entry.weight or 1.0,
                arrivals=arrivals,
                info=info,
                fast_path=fast_path,
            )
        )
    staged = plan.kind == "stages" and not open_loop
    if staged:
        # Locust spreads a shape's users over the classes by weight: use each entry's planned share.
        final_split = plan.timeline[-1].users_by_entry or ()
        for run, users in zip(traffic, final_split, strict=False):
            run.weight = max(float(users), 1e-6)
    return RunConfig(
        name=scenario.name or "run",
        metrics_urls=sorted({t.metrics_url for t in scenario.targets.values() if t.metrics_url}),
        scenario_yaml=scenario.to_yaml(),
        scenario_hash=scenario.scenario_hash,
        seed=scenario.seed,
        traffic=traffic,
        open_loop=open_loop,
        staged=staged,
        spawn_rate=float(load.spawn_rate or sum(t.users for t in traffic) or 1),
        warmup_s=plan.warmup_s,
        duration_s=plan.duration_s,
        max_requests=scenario.max_requests,
        grace_s=scenario.grace_s,
        interval_s=scenario.recording.interval_s,
        percentiles=tuple(float(p) for p in scenario.recording.percentiles),
        stage_users=plan.stage_users if staged else None,
        slos=scenario.all_slos(),
        load_info=_load_info(scenario, plan),
    )


def _load_info(scenario: Scenario, plan: Plan) -> dict[str, Any]:
    load = scenario.load
    info: dict[str, Any] = {"kind": plan.kind, "open_loop": plan.open_loop}
    if plan.open_loop:
        info.update({"rate": load.rate, "arrival": load.arrival, "max_in_flight": load.max_in_flight})
    else:
        info.update({"users": load.users, "spawn_rate": load.spawn_rate, "pacing_s": load.pacing_s})
    if load.stages:
        info["stages"] = [stage.model_dump(exclude_none=True) for stage in load.stages]
    return info


__all__ = ["build_run_config", "check_secrets", "client_options", "embedded_options", "target_urls"]
