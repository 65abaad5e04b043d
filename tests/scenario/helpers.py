"""Small builders shared by the scenario tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from loadtest.scenario import Scenario, load_scenario

REMOTE_BASE = """\
version: 1
targets:
  remote: {{url: "grpc://triton.example.com:8001", model: m}}
payloads:
  p:
    seed: {seed}
    pool_size: {pool_size}
    inputs:
{inputs}
traffic:
  - {{name: a, pattern: sync, target: remote, payload: p, method: {method}}}
load: {{users: 1}}
duration_s: 5
"""


def write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    """Write ``text`` (dedented) to ``folder/name`` and return the path."""
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def remote_payload_scenario(
    folder: Path, inputs: str, *, seed: int = 3, pool_size: int = 4, method: str = "infer_sample"
) -> Scenario:
    """Load a one-entry scenario against a remote target whose payload ``p`` has ``inputs`` (YAML lines)."""
    body = textwrap.indent(textwrap.dedent(inputs).strip(), " " * 6)
    text = REMOTE_BASE.format(inputs=body, seed=seed, pool_size=pool_size, method=method)
    return load_scenario(write(folder, text), env={})
