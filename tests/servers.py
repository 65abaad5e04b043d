"""Embedded servers a test starts for itself (a clean model state, or a process to pause or kill)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from loadtest.embedded import EmbeddedTriton


@contextlib.contextmanager
def own_server(**options: Any) -> Iterator[EmbeddedTriton]:
    """An ``EmbeddedTriton(**options)``, started, and killed when the block ends.

    Killed rather than stopped: Triton's own shutdown unloads every model and looks once a second whether
    they are gone (3-6 s), and by then the test has what it needs. Tests of the stop itself use the
    server's context manager.
    """
    server = EmbeddedTriton(**options).start()
    try:
        yield server
    finally:
        server.stop(grace_s=0)
