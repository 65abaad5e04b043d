"""Rules for payload inputs: which generator takes which keys and which dtypes, and their defaults.

Owns the generator parameter table, the generator/dtype compatibility rules, range checks and the
size limit of a pool. Pure: checks the scenario's text only; file contents are read (and checked)
when ``loadtest.plan.payloads`` generates the pools.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path as FsPath

import numpy as np

from loadtest._dtypes import is_float, is_integer, is_numeric
from loadtest.scenario._model import InputSpec
from loadtest.scenario._parts import Finding, Parts, missing_file_problem, resolve_file
from loadtest.scenario._problems import Path

GENERATOR_PARAMETERS: dict[str, tuple[str, ...]] = {
    "zeros": (),
    "constant": ("value",),
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "sequence": ("start", "step"),
    "prompts": ("prompts",),
    "file": ("path", "key"),
}
"""Generator -> the keys it takes (besides generator, dtype and shape)."""
REQUIRED_PARAMETERS = {"constant": "value", "prompts": "prompts", "file": "path"}
ALL_PARAMETERS = tuple(sorted({p for params in GENERATOR_PARAMETERS.values() for p in params}))
MAX_POOL_BYTES = 1 << 30
"""Largest pool of generated arrays (1 GiB), checked before anything is allocated."""
MAX_RANK = 32
"""Most dimensions of one input (numpy's limit)."""
BYTES_ELEMENT_SIZE = 8
"""Memory of one element of a bytes tensor (an object array holds one pointer per element)."""


def check_payloads(parts: Parts) -> Iterator[Finding]:
    for (name, input_name), spec in parts.inputs.items():
        yield from _check_input(("payloads", name, "inputs", input_name), spec, parts.base_dir)
    for name, payload in parts.payloads.items():
        path: Path = ("payloads", name)
        if not payload.inputs:
            yield (*path, "inputs"), "no inputs; add one per model input"
        total_bytes = 0
        for input_name, spec in payload.inputs.items():
            if spec.shape is not None and len(spec.shape) > MAX_RANK:
                where = (*path, "inputs", input_name, "shape")
                yield where, f"{len(spec.shape)} dimensions; a tensor has at most {MAX_RANK}"
            elif spec.shape is not None and spec.dtype is not None:
                total_bytes += math.prod(spec.shape) * _element_bytes(spec.dtype)
        if total_bytes * payload.pool_size > MAX_POOL_BYTES:
            size = _size_text(total_bytes * payload.pool_size)
            yield (*path, "pool_size"), f"the pool would take {size} (limit 1024 MiB); lower it or the shapes"


def _size_text(n_bytes: int) -> str:
    return "more than 1 PiB" if n_bytes >= 1 << 50 else f"{n_bytes / (1 << 20):.0f} MiB"


def _element_bytes(dtype: str) -> int:
    """Memory per element of a generated array; a bytes element is a reference to a shared object."""
    return BYTES_ELEMENT_SIZE if dtype == "bytes" else int(np.dtype(dtype).itemsize)


def _check_input(path: Path, spec: InputSpec, base_dir: FsPath) -> Iterator[Finding]:
    allowed = GENERATOR_PARAMETERS[spec.generator]
    for key in ALL_PARAMETERS:
        if key not in allowed and getattr(spec, key) is not None:
            takes = f"its parameters: {', '.join(allowed)}" if allowed else "it takes no parameters"
            yield (*path, key), f"not a parameter of generator {spec.generator!r} ({takes})"
    required = REQUIRED_PARAMETERS.get(spec.generator)
    if required is not None and getattr(spec, required) is None:
        yield (*path, required), f"required by generator {spec.generator!r}"
    if spec.generator != "file":
        for key in ("dtype", "shape"):
            if getattr(spec, key) is None:
                yield (*path, key), f"required by generator {spec.generator!r}"
    dtype = spec.dtype
    if dtype is not None:
        yield from _check_generator_dtype(path, spec, dtype)
    if spec.generator == "file" and spec.path is not None:
        file = resolve_file(base_dir, spec.path)
        if file.suffix not in (".npy", ".npz"):
            yield (*path, "path"), f"expected a .npy or .npz file, got {spec.path!r}"
        elif (problem := missing_file_problem(file)) is not None:
            yield (*path, "path"), problem
        elif spec.key is not None and file.suffix == ".npy":
            yield (*path, "key"), "key selects an array inside a .npz file; a .npy holds one array"


def _check_generator_dtype(path: Path, spec: InputSpec, dtype: str) -> Iterator[Finding]:
    generator = spec.generator
    if generator in ("uniform", "sequence") and not is_numeric(dtype):
        yield (*path, "dtype"), f"generator {generator!r} needs a numeric dtype, not {dtype}"
    elif generator == "normal" and not is_float(dtype):
        yield (*path, "dtype"), f"generator 'normal' needs a float dtype, not {dtype} (use uniform for integers)"
    elif generator == "prompts" and dtype != "bytes":
        yield (*path, "dtype"), f"generator 'prompts' needs dtype bytes, not {dtype}"
    elif generator == "constant" and spec.value is not None:
        problem = _constant_problem(spec.value, dtype)
        if problem:
            yield (*path, "value"), problem
    if generator == "uniform" and is_numeric(dtype):
        low, high = uniform_bounds(spec, dtype)
        if not high > low:
            yield (*path, "high"), f"must be above low ({low:g}), got {high:g}"
        if is_integer(dtype):
            info = np.iinfo(dtype)
            if low != int(low) or high != int(high):
                yield (*path, "low"), f"integer dtype {dtype} needs whole-number bounds"
            elif low < info.min or high > info.max + 1:
                yield (*path, "low"), f"bounds [{low:g}, {high:g}) do not fit {dtype} [{info.min}, {info.max}]"
    if generator == "sequence" and is_integer(dtype):
        start, step = sequence_params(spec)
        if start != int(start) or step != int(step):
            yield (*path, "step"), f"integer dtype {dtype} needs whole-number start and step"


def _constant_problem(value: object, dtype: str) -> str | None:
    if dtype == "bytes":
        return None if isinstance(value, str) else f"dtype bytes needs a text value, got {value!r}"
    if dtype == "bool":
        return None if isinstance(value, bool) else f"dtype bool needs true or false, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"dtype {dtype} needs a number, got {value!r}"
    if is_integer(dtype):
        info = np.iinfo(dtype)
        if value != int(value) or not info.min <= value <= info.max:
            return f"{value!r} is not a whole number within {dtype} [{info.min}, {info.max}]"
    return None


def uniform_bounds(spec: InputSpec, dtype: str) -> tuple[float, float]:
    """The ``[low, high)`` of a uniform generator with defaults applied."""
    low = 0.0 if spec.low is None else spec.low
    if spec.high is not None:
        return low, spec.high
    if is_integer(dtype):
        return low, float(min(int(np.iinfo(dtype).max), 2**31 - 1) + 1)
    return low, 1.0


def sequence_params(spec: InputSpec) -> tuple[float, float]:
    """The ``(start, step)`` of a sequence generator with defaults applied."""
    return (0.0 if spec.start is None else spec.start), (1.0 if spec.step is None else spec.step)


# -- traffic ----------------------------------------------------------------------------------
