"""Locust users, one thin class per traffic pattern, built on ``pytriton_client``.

Owns the user classes and :func:`make_user_class`, which makes the concrete class of one traffic
entry from the base its pattern names in the registry (``loadtest.engine.patterns``). How each
pattern waits without blocking the gevent hub is in ``_blocking`` and ``_concurrent``; what every
user shares (lifecycle, tickets, recording) in ``_base``.
"""

from __future__ import annotations

import importlib
from typing import Any

from locust import constant, constant_pacing

from loadtest.engine.control import RunControl
from loadtest.engine.model import TrafficEntry
from loadtest.engine.users._base import TritonUser
from loadtest.engine.users._blocking import DecoupledUser, SyncUser
from loadtest.engine.users._concurrent import AsyncioDecoupledUser, AsyncioUser, FuturesUser


def user_base(path: str) -> type[TritonUser]:
    """The user base class named ``module:Class`` in the pattern registry."""
    module_name, _, class_name = path.partition(":")
    base = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(base, type) and issubclass(base, TritonUser)):
        raise TypeError(f"{path} is not a TritonUser")
    return base


def make_user_class(
    traffic: TrafficEntry, control: RunControl, *, fixed_count: int = 0, weight: float = 1
) -> type[TritonUser]:
    """A concrete Locust user class for one traffic entry."""
    base = user_base(traffic.pattern.user)
    safe = "".join(ch if ch.isalnum() else "_" for ch in traffic.name)
    attrs: dict[str, Any] = {
        "traffic": traffic,
        "control": control,
        "fixed_count": fixed_count,
        "weight": weight,
        "abstract": False,
        "__module__": __name__,
        "wait_time": constant_pacing(traffic.pacing_s) if traffic.pacing_s > 0 else constant(0),
    }
    pattern = "".join(ch if ch.isalnum() else "_" for ch in traffic.pattern.name)
    return type(f"{safe}_{pattern}_user", (base,), attrs)


__all__ = [
    "AsyncioDecoupledUser",
    "AsyncioUser",
    "DecoupledUser",
    "FuturesUser",
    "SyncUser",
    "TritonUser",
    "make_user_class",
    "user_base",
]
