"""Inputs → request plan: argument mapping, dtype and rank rules, batch axis, string encoding.

Owns turning the arrays a caller passes to ``infer_sample``/``infer_batch`` into the list of
``(name, array, datatype)`` a transport sends, checking them against the model configuration first.
Pure: no I/O, no transport imports. Every rejection is a ``PyTritonClientValueError`` naming the
input and saying expected vs given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pytriton_client.exceptions import PyTritonClientValueError
from pytriton_client.model_config import NUMPY_TO_TRITON, TensorSpec, TritonModelConfig

PreparedInput = tuple[str, np.ndarray[Any, Any], str]
"""``(input name, array to send, Triton datatype)``."""


def build_tensors(tensor_class: Callable[[str, Any, str], Any], prepared: Sequence[PreparedInput]) -> list[Any]:
    """tritonclient input tensors (``tensor_class`` is the protocol's ``InferInput``) for prepared inputs."""
    tensors = []
    for name, array, datatype in prepared:
        tensor = tensor_class(name, array.shape, datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def check_convention(args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Inputs go all by position or all by keyword, and at least one is given."""
    if not args and not kwargs:
        raise PyTritonClientValueError("Provide input data: pass numpy arrays positionally or by input name.")
    if args and kwargs:
        raise PyTritonClientValueError(
            "Use either positional or keyword arguments for inputs, not both "
            f"(got {len(args)} positional and keywords {sorted(kwargs)})."
        )


def encode_strings(array: np.ndarray[Any, Any], name: str) -> np.ndarray[Any, Any]:
    """UTF-8 encode a ``str`` array or an object array holding ``str``; bytes pass through."""
    kind = array.dtype.kind
    if kind == "U":
        return np.char.encode(array, "utf-8")
    if kind == "S":
        return array
    if kind != "O":
        raise PyTritonClientValueError(f"Input {name!r} expects bytes or str, got dtype {array.dtype}.")
    flat = array.reshape(-1)
    if all(type(item) is bytes for item in flat):
        return array
    encoded = np.empty(array.shape, dtype=object)
    out = encoded.reshape(-1)
    for index, item in enumerate(flat):
        if isinstance(item, bytes):
            out[index] = item
        elif isinstance(item, str):
            out[index] = item.encode("utf-8")
        else:
            raise PyTritonClientValueError(
                f"Input {name!r} is an object array; its elements must be bytes or str, "
                f"got {type(item).__name__} at flat index {index}."
            )
    return encoded


def _shape_text(shape: Sequence[int]) -> str:
    text = ", ".join("batch" if d == -2 else "?" if d < 0 else str(d) for d in shape)
    return f"({text},)" if len(shape) == 1 else f"({text})"


class _InputRule:
    """How one declared input is checked and prepared."""

    __slots__ = ("batching", "datatype", "dtype", "fixed", "is_bytes", "model", "name", "rank", "shape")

    def __init__(self, spec: TensorSpec, model: str, batching: bool) -> None:
        self.name = spec.name
        self.model = model
        self.batching = batching
        self.datatype = spec.datatype or "BYTES"
        self.is_bytes = self.datatype == "BYTES"
        self.dtype = np.dtype(spec.dtype) if not self.is_bytes else None
        self.shape = spec.shape
        offset = 1 if batching else 0
        self.rank = len(spec.shape) + offset
        self.fixed = tuple((i + offset, d) for i, d in enumerate(spec.shape) if d >= 0)

    def prepare(self, array: Any, add_batch_axis: bool) -> PreparedInput:
        if not isinstance(array, np.ndarray):
            raise PyTritonClientValueError(
                f"Input {self.name!r} is not a numpy array. Got {type(array).__name__} instead; "
                "wrap it with np.asarray(...)."
            )
        if self.is_bytes:
            array = encode_strings(array, self.name)
        elif array.dtype is not self.dtype and array.dtype != self.dtype:
            raise PyTritonClientValueError(
                f"Input {self.name!r} of model {self.model!r} expects {self.dtype} ({self.datatype}), "
                f"got {array.dtype}; convert it with array.astype(np.{self.dtype})."
            )
        if add_batch_axis:
            array = array[np.newaxis]
        shape = array.shape
        if len(shape) != self.rank:
            self._raise_shape(shape, add_batch_axis)
        for index, size in self.fixed:
            if shape[index] != size:
                self._raise_shape(shape, add_batch_axis)
        return self.name, array, self.datatype

    def _raise_shape(self, shape: tuple[int, ...], added_axis: bool) -> None:
        if added_axis:
            given, expected = shape[1:], _shape_text(self.shape)
            how = "per sample (infer_sample)"
        elif self.batching:
            given, expected = shape, _shape_text((-2, *self.shape))
            how = "for a batch (infer_batch); the first axis is the batch"
        else:
            given, expected = shape, _shape_text(self.shape)
            how = "(the model does not batch)"
        raise PyTritonClientValueError(
            f"Input {self.name!r} of model {self.model!r} expects shape {expected} {how}, got {tuple(given)}."
        )


class RequestPlanner:
    """Checks and prepares inputs for one model; built once per model configuration."""

    def __init__(self, config: TritonModelConfig) -> None:
        self.model_name = config.model_name
        self.batching = config.batching
        specs = config.inputs or []
        self._rules = {spec.name: _InputRule(spec, config.model_name, config.batching) for spec in specs}
        self._rule_list = list(self._rules.values())
        self._order = [spec.name for spec in specs]
        self._required = [spec.name for spec in specs if not spec.optional]
        self._declared = bool(specs)

    def prepare(self, args: Sequence[Any], kwargs: Mapping[str, Any], *, sample: bool) -> list[PreparedInput]:
        """Map and check inputs; ``sample`` adds the batch axis when the model batches."""
        add_axis = sample and self.batching
        if not self._declared:
            return self._prepare_undeclared(args, kwargs, add_axis)
        rules = self._rules
        if len(args) == len(self._rule_list):  # the common case: every input, in config order
            return [rule.prepare(array, add_axis) for rule, array in zip(self._rule_list, args, strict=True)]
        if args:
            if len(args) > len(self._order):
                raise PyTritonClientValueError(
                    f"Model {self.model_name!r} takes {len(self._order)} input(s) {self._order}, "
                    f"but {len(args)} positional arrays were given."
                )
            named: Any = zip(self._order, args, strict=False)
            if len(args) < len(self._required) or any(n not in self._order[: len(args)] for n in self._required):
                missing = [n for n in self._required if n not in self._order[: len(args)]]
                raise PyTritonClientValueError(
                    f"Model {self.model_name!r} requires input(s) {missing}; inputs in order: {self._order}."
                )
        else:
            named = kwargs.items()
            unknown = [n for n in kwargs if n not in rules]
            if unknown:
                raise PyTritonClientValueError(
                    f"Model {self.model_name!r} has no input named {unknown[0]!r}; its inputs are {self._order}."
                )
            if len(kwargs) < len(self._required) or any(n not in kwargs for n in self._required):
                missing = [n for n in self._required if n not in kwargs]
                raise PyTritonClientValueError(
                    f"Model {self.model_name!r} requires input(s) {missing}; got {sorted(kwargs)}."
                )
        prepared = []
        for name, array in named:
            rule = rules.get(name)
            if rule is None:
                raise PyTritonClientValueError(
                    f"Model {self.model_name!r} has no input named {name!r}; its inputs are {self._order}."
                )
            prepared.append(rule.prepare(array, add_axis))
        return prepared

    def _prepare_undeclared(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], add_axis: bool
    ) -> list[PreparedInput]:
        if args:
            raise PyTritonClientValueError(
                f"The configuration of model {self.model_name!r} lists no inputs; pass inputs by name."
            )
        prepared = []
        for name, given in kwargs.items():
            if not isinstance(given, np.ndarray):
                raise PyTritonClientValueError(f"Input {name!r} is not a numpy array. Got {type(given).__name__}.")
            if given.dtype.kind in "USO":
                array, datatype = encode_strings(given, name), "BYTES"
            else:
                array, datatype = given, NUMPY_TO_TRITON.get(given.dtype.name, "")
                if not datatype:
                    raise PyTritonClientValueError(f"Input {name!r} has unsupported dtype {array.dtype}.")
            prepared.append((name, array[np.newaxis, ...] if add_axis else array, datatype))
        return prepared


def payload_bytes(prepared: Sequence[PreparedInput]) -> int:
    """Bytes of tensor data in a prepared request (BYTES elements counted by length)."""
    total = 0
    for _, array, datatype in prepared:
        total += sum(len(x) for x in array.reshape(-1)) if datatype == "BYTES" else array.nbytes
    return total


def outputs_bytes(outputs: Mapping[str, Any]) -> int:
    """Bytes of tensor data in decoded outputs (object elements counted by length)."""
    total = 0
    for array in outputs.values():
        if array is None:
            continue
        total += sum(len(x) for x in array.reshape(-1)) if array.dtype.kind == "O" else array.nbytes
    return total


__all__ = ["PreparedInput", "RequestPlanner", "check_convention", "encode_strings", "outputs_bytes", "payload_bytes"]
