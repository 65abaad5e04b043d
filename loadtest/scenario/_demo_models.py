"""What the embedded server's demo models accept, read from their ``config.pbtxt`` files.

Owns the reading of the demo models' configs (inputs, batching, decoupled policy, parameter names)
so a scenario aimed at the embedded server is checked before any server starts. Reads only the
package's own model files; never starts a server or imports server code beyond its constants.
The configs use a small, regular subset of protobuf text format; a test reads every demo model.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from loadtest._dtypes import canonical_dtype
from loadtest.embedded.server import DEMO_MODELS, MODELS_DIR

_INPUT_BLOCK = re.compile(r"^\s*input\s*\[", re.MULTILINE)
_ENTRY = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r'name:\s*"([^"]+)"')
_DATA_TYPE = re.compile(r"data_type:\s*TYPE_(\w+)")
_DIMS = re.compile(r"dims:\s*\[([^\]]*)\]")
_MAX_BATCH = re.compile(r"^\s*max_batch_size:\s*(\d+)", re.MULTILINE)
_DECOUPLED = re.compile(r"decoupled:\s*true")
_PARAMETER = re.compile(r'parameters\s*\{\s*key:\s*"([^"]+)"')


@dataclass(frozen=True)
class DemoInput:
    """One input of a demo model: name, canonical dtype and dims (-1 = any size; no batch axis)."""

    name: str
    dtype: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class DemoModel:
    """The parts of a demo model's config a scenario is checked against."""

    name: str
    max_batch_size: int
    decoupled: bool
    inputs: tuple[DemoInput, ...]
    parameters: tuple[str, ...]


@functools.cache
def demo_model(name: str) -> DemoModel | None:
    """The config of demo model ``name``; None when it is not a demo model."""
    if name not in DEMO_MODELS:
        return None
    text = (MODELS_DIR / name / "config.pbtxt").read_text(encoding="utf-8")
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    max_batch = _MAX_BATCH.search(text)
    return DemoModel(
        name=name,
        max_batch_size=int(max_batch.group(1)) if max_batch else 0,
        decoupled=bool(_DECOUPLED.search(text)),
        inputs=tuple(_inputs(text)),
        parameters=tuple(_PARAMETER.findall(text)),
    )


def _inputs(text: str) -> list[DemoInput]:
    block = _INPUT_BLOCK.search(text)
    if block is None:
        return []
    depth, end = 1, block.end()
    while depth and end < len(text):
        depth += {"[": 1, "]": -1}.get(text[end], 0)
        end += 1
    inputs = []
    for entry in _ENTRY.findall(text[block.end() : end]):
        name, data_type, dims = _NAME.search(entry), _DATA_TYPE.search(entry), _DIMS.search(entry)
        if name is None or data_type is None or dims is None:
            raise ValueError(f"cannot read an input of a demo model config: {entry.strip()!r}")
        shape = tuple(int(d) for d in dims.group(1).replace(",", " ").split())
        inputs.append(DemoInput(name.group(1), canonical_dtype(data_type.group(1)), shape))
    return inputs


def shape_matches(dims: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """True when a concrete ``shape`` fits config ``dims`` (where -1 matches any size)."""
    return len(dims) == len(shape) and all(d in (-1, s) for d, s in zip(dims, shape, strict=True))
