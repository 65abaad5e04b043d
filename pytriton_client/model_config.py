"""The model configuration a client works from: ``TritonModelConfig`` and ``TensorSpec``.

Owns parsing Triton's model configuration JSON (the HTTP ``/config`` answer, or the gRPC answer
converted with ``as_json=True``) into these types. Pure: never talks to a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytriton_client.exceptions import PyTritonClientValueError

_TRITON_TO_NUMPY: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.bytes_,
    "BF16": np.float32,  # tritonclient sends and returns BF16 tensors as float32 arrays
}

NUMPY_TO_TRITON: dict[str, str] = {
    np.dtype(numpy_type).name: datatype
    for datatype, numpy_type in _TRITON_TO_NUMPY.items()
    if datatype not in ("BYTES", "BF16")
}
"""numpy dtype name -> Triton datatype (``"float32"`` -> ``"FP32"``) for the boolean and numeric types."""


def triton_to_numpy_dtype(datatype: str) -> Any:
    """numpy type for a Triton datatype (``"FP32"`` or ``"TYPE_FP32"``); ``BYTES``/``STRING`` → ``np.bytes_``."""
    name = datatype.removeprefix("TYPE_")
    if name == "STRING":
        name = "BYTES"
    try:
        return _TRITON_TO_NUMPY[name]
    except KeyError:
        raise PyTritonClientValueError(f"Unsupported Triton datatype {datatype!r}") from None


def triton_datatype(datatype: str) -> str:
    """Wire datatype (``"FP32"``, ``"BYTES"``) of a config datatype (``"TYPE_FP32"``, ``"TYPE_STRING"``)."""
    name = datatype.removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the model configuration declares it (without the batch axis)."""

    name: str
    """Tensor name in the model configuration."""
    shape: tuple[int, ...]
    """Dimensions without the batch axis; ``-1`` is a variable dimension."""
    dtype: Any
    """numpy type (``np.float32``, ``np.bytes_`` for BYTES/STRING, ...)."""
    optional: bool = False
    """Inputs only: the model may be called without this input."""
    datatype: str = ""
    """Triton wire datatype (``"FP32"``, ``"BYTES"``)."""


@dataclass(frozen=True)
class TritonModelConfig:
    """What a client needs from a model's configuration.

    ``max_batch_size == 0`` means the model does not batch: ``infer_sample`` sends arrays unchanged
    and ``infer_batch`` is refused.
    """

    model_name: str
    """Model name."""
    model_version: int = 1
    """Requested version as a number; 1 when the latest was requested."""
    max_batch_size: int = 0
    """Largest batch the model accepts; 0 when it does not batch."""
    batching: bool = False
    """``max_batch_size > 0``."""
    decoupled: bool = False
    """The model streams any number of responses per request (decoupled transaction policy)."""
    inputs: list[TensorSpec] | None = None
    """Inputs in configuration order; ``None`` when the configuration lists none."""
    outputs: list[TensorSpec] | None = None
    """Outputs in configuration order; ``None`` when the configuration lists none."""
    backend: str = ""
    """Triton backend (``"python"``, ``"onnxruntime"``, ...), when the configuration names one."""
    platform: str = ""
    """Triton platform (``"ensemble"``, ...), when the configuration names one."""
    parameters: dict[str, str] = field(default_factory=dict)
    """The configuration's ``parameters`` as strings (their ``string_value``)."""


def _tensors(entries: Any) -> list[TensorSpec] | None:
    if not entries:
        return None
    specs = []
    for entry in entries:
        name = str(entry["name"])
        datatype = str(entry.get("data_type", ""))
        specs.append(
            TensorSpec(
                name=name,
                shape=tuple(int(d) for d in entry.get("dims", ())),
                dtype=triton_to_numpy_dtype(datatype),
                optional=bool(entry.get("optional", False)),
                datatype=triton_datatype(datatype),
            )
        )
    return specs


def parse_model_config(config: Mapping[str, Any], model_version: str | None = None) -> TritonModelConfig:
    """Build a :class:`TritonModelConfig` from Triton's configuration JSON (HTTP or gRPC ``as_json``).

    ``model_version`` is the requested version (``None`` or ``""`` for latest, recorded as 1).
    """
    if "config" in config and "name" not in config:  # gRPC answer: {"config": {...}}
        config = config["config"]
    max_batch_size = int(config.get("max_batch_size", 0) or 0)
    policy = config.get("model_transaction_policy") or {}
    params = {k: str(v.get("string_value", "")) for k, v in (config.get("parameters") or {}).items()}
    return TritonModelConfig(
        model_name=str(config.get("name", "")),
        model_version=int(model_version) if model_version and model_version.isdigit() else 1,
        max_batch_size=max_batch_size,
        batching=max_batch_size > 0,
        decoupled=bool(policy.get("decoupled", False)),
        inputs=_tensors(config.get("input")),
        outputs=_tensors(config.get("output")),
        backend=str(config.get("backend", "")),
        platform=str(config.get("platform", "")),
        parameters=params,
    )


__all__ = ["TensorSpec", "TritonModelConfig", "parse_model_config", "triton_datatype", "triton_to_numpy_dtype"]
