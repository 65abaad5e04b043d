"""Every Python block of docs/clients.md runs against the session server (URLs rewritten to its ports)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from loadtest.embedded import EmbeddedTriton

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
FENCE = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)


def python_blocks(text: str) -> list[str]:
    """Python blocks in order, except those preceded by a ``<!-- skip: ... -->`` line."""
    return [m.group("code") for m in FENCE.finditer(text) if not m.group("before").startswith("<!-- skip")]


def rewrite(code: str, server: EmbeddedTriton) -> str:
    http = server.http_url.removeprefix("http://")
    code = code.replace('"grpc://localhost"', f'"{server.grpc_url}"')
    code = code.replace('"localhost:8000"', f'"{http}"')
    return code.replace('"localhost"', f'"{http}"')


def test_doc_has_the_examples() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 14
    for client in (
        "ModelClient",
        "FuturesModelClient",
        "AsyncioModelClient",
        "DecoupledModelClient",
        "AsyncioDecoupledModelClient",
        "ServerClient",
    ):
        assert any(f"import {client}" in b or f", {client}" in b for b in blocks), client


def test_every_python_block_runs(
    triton_server: EmbeddedTriton, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_clients"}
    out = io.StringIO()
    for index, block in enumerate(python_blocks(DOC.read_text())):
        code = compile(rewrite(block, triton_server), f"docs/clients.md block {index}", "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    printed = out.getvalue()
    assert "(128, 3)" in printed
    assert "\nb'cat'\n" in printed
    assert "['tench', 'tench', 'tench']" in printed
    assert "['goldfish', 'goldfish', 'goldfish']" in printed
    assert "['great white shark', 'great white shark', 'great white shark']" in printed
    assert "Write a haiku about winter." in printed
    assert "b'AI answers to the question, \"What is the best way to get rid of the problem?\"\\n'" in printed
    assert "invalid_input - Input 'INPUT_1' of model 'Linear' expects float32" in printed
    assert "infer_sample grpc True" in printed
    assert printed.count("{'OUTPUT_1': [3.59") == 2  # the two predict() answers
    assert "128 ['INPUT_1']" in printed and " inferences, " in printed  # ServerClient


def test_every_test_named_in_the_divergence_list_exists() -> None:
    text = (DOC.parent / "divergences.md").read_text()
    named = re.findall(r"`(test_\w+\.py)(?:::(test_\w+))?`", text)
    assert len(named) >= 30
    here = Path(__file__).resolve().parent
    for module, test in named:
        source = (here / module).read_text()
        if test:
            assert f"def {test}(" in source, f"{module}::{test}"
