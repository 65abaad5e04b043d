"""From a validated scenario to what the runner executes.

Owns the mapping of the scenario language (``loadtest.scenario``, ``loadtest.plan``,
``loadtest.plan.payloads``) onto the runner's :class:`~loadtest.engine.session.RunConfig`: targets become client
options (TLS files resolved, the access token read from its environment variable), traffic entries
become user specs with their payload pools, the plan gives user counts, arrival schedules and stage
ticks. Pure apart from reading the environment; never starts anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from loadtest.engine.session import EmbeddedOptions, RunConfig, TrafficRun
from loadtest.engine.targets import ClientOptions
from loadtest.engine.users import TrafficSpec
from loadtest.plan import Plan, make_plan
from loadtest.plan.payloads import PayloadPool
from loadtest.scenario import Scenario, Target

EMBEDDED_URL = "embedded+{protocol}://"
"""Placeholder URL of an embedded target until the server has started and has ports."""


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


def client_options(scenario: Scenario, target_name: str, environ: Mapping[str, str] | None = None) -> ClientOptions:
    """Client options of one target (an embedded target gets a placeholder URL until bound)."""
    target = scenario.targets[target_name]
    url = EMBEDDED_URL.format(protocol=target.protocol) if target.embedded else str(target.url)
    return ClientOptions(
        url=url,
        model=target.model,
        version=target.version,
        init_timeout_s=target.timeouts.init_s,
        inference_timeout_s=target.timeouts.inference_s,
        access_token=scenario.access_token(target_name, environ),
        tls=_tls_kwargs(scenario, target),
    )


def _bind_embedded(traffic: list[TrafficRun]) -> Any:
    def bind(server: Any) -> None:
        for run in traffic:
            options = run.spec.client
            if options.url.startswith("embedded+"):
                url = server.grpc_url if options.url.startswith("embedded+grpc") else server.http_url
                run.spec.client = ClientOptions(
                    url=url,
                    model=options.model,
                    version=options.version,
                    init_timeout_s=options.init_timeout_s,
                    inference_timeout_s=options.inference_timeout_s,
                    access_token=options.access_token,
                    tls=options.tls,
                )
                run.info["url"] = url

    return bind


def _workers(max_in_flight: int, share: float) -> int:
    return max(1, math.ceil(max_in_flight * share))


def build_run_config(
    scenario: Scenario,
    pools: Mapping[str, PayloadPool],
    *,
    plan: Plan | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """The runner's configuration for ``scenario`` (validated) with its generated payload ``pools``.

    Raises:
        ScenarioError: an access token's environment variable is unset.
    """
    plan = plan or make_plan(scenario)
    load = scenario.load
    open_loop = plan.open_loop
    max_in_flight = load.max_in_flight or 64
    traffic: list[TrafficRun] = []
    for entry_plan, entry in zip(plan.entries, scenario.traffic, strict=True):
        options = client_options(scenario, entry.target, environ)
        spec = TrafficSpec(
            name=entry.name,
            pattern=entry.pattern,
            method=entry.method,
            client=options,
            payloads=pools[entry.payload],
            parameters=dict(entry.parameters) or None,
            headers=dict(entry.headers) or None,
            in_flight=entry_plan.in_flight or 1,
            pacing_s=load.pacing_s or 0.0,
        )
        info: dict[str, Any] = {
            "pattern": entry.pattern,
            "method": entry.method,
            "model": options.model,
            "version": options.version or "",
            "protocol": entry_plan.protocol,
            "target": entry.target,
            "url": options.url,
            "batch_size": (pools[entry.payload].batch_size or 1) if entry.method == "infer_batch" else 1,
        }
        if open_loop:
            share = entry_plan.rate_share or 0.0
            users = _workers(max_in_flight, share)
            arrivals = plan.arrival_schedule(entry.name).intended_start_s
            info.update({"rate_share": share, "workers": users})
        else:
            users = max(entry_plan.users) if entry_plan.users else 0
            arrivals = None
            info.update({"users": users, "in_flight": spec.in_flight if entry.pattern in ("futures", "asyncio") else 1})
        info["concurrency"] = users * (spec.in_flight if not open_loop else 1)
        traffic.append(TrafficRun(spec=spec, users=users, weight=entry.weight or 1.0, arrivals=arrivals, info=info))
    closed_stages = plan.kind == "stages" and not open_loop
    if closed_stages:
        # Locust spreads a shape's users over the classes by weight: use each entry's planned share.
        final_split = plan.timeline[-1].users_by_entry or ()
        for run, users in zip(traffic, final_split, strict=False):
            run.weight = max(float(users), 1e-6)
    embedded = None
    if any(scenario.targets[t.target].embedded for t in scenario.traffic):
        settings = scenario.embedded
        embedded = EmbeddedOptions(
            models=settings.models if settings else None,
            model_parameters={k: dict(v) for k, v in (settings.model_parameters if settings else {}).items()},
            startup_timeout_s=settings.startup_timeout_s if settings else 60.0,
        )
    load_info: dict[str, Any] = {"kind": plan.kind, "open_loop": open_loop}
    if open_loop:
        load_info.update({"rate": load.rate, "arrival": load.arrival or "constant", "max_in_flight": max_in_flight})
    else:
        load_info.update({"users": load.users, "spawn_rate": load.spawn_rate, "pacing_s": load.pacing_s})
    if load.stages:
        load_info["stages"] = [stage.model_dump(exclude_none=True) for stage in load.stages]
    metrics_urls = sorted({t.metrics_url for t in scenario.targets.values() if t.metrics_url})
    return RunConfig(
        name=scenario.name or "run",
        metrics_urls=metrics_urls,
        scenario_yaml=scenario.to_yaml(),
        scenario_hash=scenario.scenario_hash,
        seed=scenario.seed,
        traffic=traffic,
        load_kind="open" if open_loop else ("stages" if closed_stages else "closed"),
        spawn_rate=float(load.spawn_rate or sum(t.users for t in traffic) or 1),
        warmup_s=plan.warmup_s,
        duration_s=plan.duration_s,
        max_requests=scenario.max_requests,
        interval_s=scenario.recording.interval_s,
        percentiles=tuple(float(p) for p in scenario.recording.percentiles),
        stage_users=plan.stage_users if closed_stages else None,
        embedded=embedded,
        bind_embedded=_bind_embedded(traffic),
        slos=scenario.all_slos(),
        load_info=load_info,
    )
