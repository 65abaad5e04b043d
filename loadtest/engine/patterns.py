"""The traffic patterns: each one declared once, with what the rest of tritonload needs to know of it.

Owns the registry of patterns (``sync``, ``futures``, ``asyncio``, ``decoupled``, ``asyncio-decoupled``):
which client and Locust user class carry it, whether its responses stream, whether a user keeps
several requests in flight, and which runtime its blocking parts need. The scenario checks, the plan,
the run configuration and the users read these facts from here instead of naming patterns.

Pure data: importing this module never imports Locust, gevent or a client. Adding a pattern means one
entry here and one user class (see ``docs/design.md``, "Where to change what").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Runtime = Literal["hub", "threads", "asyncio"]
"""Where a pattern's requests wait: the gevent hub itself (gevent-native HTTP), gevent's native thread
pool (blocking calls), or the process's asyncio loop thread."""


@dataclass(frozen=True)
class Pattern:
    """Facts about one traffic pattern."""

    name: str
    client: str
    """The ``pytriton_client`` class its users drive."""
    user: str
    """The Locust user base class, as ``module:Class`` (imported by the engine, not here)."""
    streams: bool
    """Responses arrive as a stream (decoupled models): records time to first response, gaps, counts."""
    concurrent: bool
    """A user keeps ``in_flight`` requests outstanding at once (closed loop)."""
    runtime: Runtime
    """Where requests wait (``sync`` over HTTP stays in the hub whatever this says, see ``user_runtime``)."""
    grpc_only: bool = False
    """Only gRPC carries it (streams need gRPC's bidirectional stream)."""
    fast_path: bool = False
    """Its users can send each payload pre-encoded (``ModelClient.encode_sample`` + ``infer_encoded``)."""
    summary: str = ""


_USERS = "loadtest.engine.users"

REGISTRY: dict[str, Pattern] = {
    pattern.name: pattern
    for pattern in (
        Pattern(
            "sync",
            client="ModelClient",
            user=f"{_USERS}:SyncUser",
            streams=False,
            concurrent=False,
            runtime="threads",
            fast_path=True,
            summary="one blocking request at a time per user",
        ),
        Pattern(
            "futures",
            client="FuturesModelClient",
            user=f"{_USERS}:FuturesUser",
            streams=False,
            concurrent=True,
            runtime="threads",
            summary="in_flight requests outstanding per user through a thread pool",
        ),
        Pattern(
            "asyncio",
            client="AsyncioModelClient",
            user=f"{_USERS}:AsyncioUser",
            streams=False,
            concurrent=True,
            runtime="asyncio",
            summary="in_flight coroutines outstanding per user on the asyncio loop thread",
        ),
        Pattern(
            "decoupled",
            client="DecoupledModelClient",
            user=f"{_USERS}:DecoupledUser",
            streams=True,
            concurrent=False,
            runtime="threads",
            grpc_only=True,
            summary="one gRPC stream at a time per user, consumed in a native thread",
        ),
        Pattern(
            "asyncio-decoupled",
            client="AsyncioDecoupledModelClient",
            user=f"{_USERS}:AsyncioDecoupledUser",
            streams=True,
            concurrent=True,
            runtime="asyncio",
            grpc_only=True,
            summary="in_flight concurrent gRPC streams per user on the asyncio loop thread",
        ),
    )
}
"""Every pattern by name, in documentation order."""

NAMES: tuple[str, ...] = tuple(REGISTRY)


def pattern_of(name: str) -> Pattern:
    """The pattern called ``name``.

    Raises:
        KeyError: there is no such pattern.
    """
    return REGISTRY[name]


def uses_thread_pool(name: str, protocol: str) -> bool:
    """Whether each user of pattern ``name`` over ``protocol`` holds a native thread while it waits."""
    pattern = REGISTRY[name]
    if pattern.runtime != "threads" or pattern.concurrent:
        return False
    return not (name == "sync" and protocol == "http")  # tritonclient's HTTP client is gevent-native


__all__ = ["NAMES", "REGISTRY", "Pattern", "Runtime", "pattern_of", "uses_thread_pool"]
