"""Shared fixtures: one embedded Triton Inference Server for the whole session, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.embedded import EmbeddedTriton

TEST_MODELS_DIR = Path(__file__).resolve().parent / "models"
# Headers named x-echo-* reach models as request parameters (the client tests check headers arrive).
HEADER_FORWARDING = ["--http-header-forward-pattern=^x-echo-.*", "--grpc-header-forward-pattern=^x-echo-.*"]


def test_model_dirs() -> list[Path]:
    """Extra models used only by tests (each a directory with a config.pbtxt)."""
    if not TEST_MODELS_DIR.is_dir():
        return []
    return sorted(p for p in TEST_MODELS_DIR.iterdir() if (p / "config.pbtxt").is_file())


@pytest.fixture(scope="session")
def triton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    """A real Triton serving every demo model (and the test models) on free ports."""
    work_dir = tmp_path_factory.mktemp("triton")
    server = EmbeddedTriton(extra_model_dirs=test_model_dirs(), work_dir=work_dir, extra_args=HEADER_FORWARDING)
    server.start()
    try:
        yield server
    finally:
        server.stop(grace_s=0)  # killed: Triton's own shutdown of every model takes ~6 s, and no test needs it
