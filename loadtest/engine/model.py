"""The engine's data: what one run executes, resolved once from the scenario and the plan.

Owns the types the engine passes around: :class:`ClientOptions` (how to reach one model),
:class:`TrafficEntry` (one traffic entry, as its users run it), :class:`EmbeddedOptions` and
:class:`RunConfig`. Built by ``loadtest.engine.config``; read by the session, the users and the
preflight. Never imports Locust or gevent, never starts anything, never reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from loadtest.engine.patterns import Pattern
from loadtest.slo import Slo


@dataclass(frozen=True)
class ClientOptions:
    """How to reach one model: a resolved URL (never a placeholder), its protocol, timeouts and secrets."""

    url: str
    protocol: str
    """``"http"`` or ``"grpc"``, as the scenario resolved it for the target."""
    model: str
    version: str | None = None
    init_timeout_s: float = 60.0
    inference_timeout_s: float = 60.0
    access_token: str | None = field(default=None, repr=False)
    tls: Mapping[str, Any] = field(default_factory=dict)
    """``tls_ca_file``, ``tls_cert_file``, ``tls_key_file``, ``tls_verify`` as the clients take them."""

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments every client class takes."""
        extra: dict[str, Any] = dict(self.tls)
        if self.access_token:
            extra["access_token"] = self.access_token
        return {"init_timeout_s": self.init_timeout_s, "inference_timeout_s": self.inference_timeout_s, **extra}


class PayloadSource(Protocol):
    """Hands out input dicts; pre-generated, so ``next`` costs nothing on the hot path."""

    def next(self) -> dict[str, np.ndarray]: ...


@dataclass
class TrafficEntry:
    """One traffic entry as the engine runs it: what its users send, how, and how many of them."""

    name: str
    pattern: Pattern
    method: str
    client: ClientOptions
    payloads: PayloadSource
    parameters: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    in_flight: int = 1
    """Closed loop, concurrent patterns: requests (or streams) each user keeps outstanding."""
    pacing_s: float = 0.0
    users: int = 0
    """Closed loop: fixed user count. Open loop: worker count (this entry's share of the in-flight cap)."""
    weight: float = 1.0
    arrivals: Any = None
    """Open loop: ``n -> intended start of request n`` (s after the run start), None when done."""
    info: dict[str, Any] = field(default_factory=dict)
    """Shown in summary.json next to the numbers (pattern, model, protocol, ...)."""
    model_config: Any = None
    """The model config read by the preflight; spares every user its own fetch."""
    fast_path: bool = False
    """Users send each payload pre-encoded (the pattern allows it and the scenario did not turn it off)."""

    @property
    def open_loop(self) -> bool:
        """Whether this entry's requests follow an arrival schedule."""
        return self.arrivals is not None

    def call_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the next request: the next payload, parameters and headers."""
        kwargs: dict[str, Any] = dict(self.payloads.next())
        if self.parameters:
            kwargs["parameters"] = dict(self.parameters)
        if self.headers:
            kwargs["headers"] = dict(self.headers)
        return kwargs


@dataclass(frozen=True)
class EmbeddedOptions:
    """The embedded server a run starts and stops."""

    models: Sequence[str] | None = None
    model_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    startup_timeout_s: float = 60.0


@dataclass
class RunConfig:
    """Everything a run session needs, with every endpoint resolved; built by ``loadtest.engine.config``."""

    name: str
    scenario_yaml: str
    scenario_hash: str
    seed: int
    traffic: list[TrafficEntry]
    open_loop: bool
    staged: bool
    """Closed-loop stages: the user count follows ``stage_users`` (a Locust load shape)."""
    spawn_rate: float
    warmup_s: float
    duration_s: float
    max_requests: int | None = None
    grace_s: float = 5.0
    """At the end, how long requests in flight may still take before they count as unfinished."""
    interval_s: float = 1.0
    percentiles: Sequence[float] = (50.0, 90.0, 95.0, 99.0, 99.9)
    stage_users: Any = None
    """Closed-loop stages: ``elapsed s -> (users, spawn rate)``, None when done."""
    slos: Sequence[Slo] = ()
    load_info: dict[str, Any] = field(default_factory=dict)
    metrics_urls: Sequence[str] = ()
    """Prometheus metrics pages to snapshot every interval."""

    @property
    def in_flight_wait_s(self) -> float:
        """How long a stop waits for requests in flight: the longest inference timeout, plus a second."""
        return max((t.client.inference_timeout_s for t in self.traffic), default=10.0) + 1.0

    @property
    def total_users(self) -> int:
        """Users (closed loop) or workers (open loop) over every entry."""
        return sum(t.users for t in self.traffic)


__all__ = ["ClientOptions", "EmbeddedOptions", "PayloadSource", "RunConfig", "TrafficEntry"]
