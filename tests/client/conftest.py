"""Fixtures of the client tests: every front over both protocols, against the session server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtest.embedded import EmbeddedTriton
from tests.client.fronts import FRONTS, Fronts


@pytest.fixture(params=["http", "grpc"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(triton_server: EmbeddedTriton, protocol: str) -> str:
    return triton_server.http_url if protocol == "http" else triton_server.grpc_url


@pytest.fixture(params=FRONTS)
def fronts(request: pytest.FixtureRequest) -> Iterator[Fronts]:
    made = Fronts(str(request.param))
    yield made
    made.close()


@pytest.fixture(params=["sync", "asyncio"])
def direct_fronts(request: pytest.FixtureRequest) -> Iterator[Fronts]:
    """Fronts that take a ``model_config`` and count request ids per client (not the futures pool)."""
    made = Fronts(str(request.param))
    yield made
    made.close()
