"""Tensor data type names: numpy names and Triton names, mapped to one canonical spelling.

Owns the table of data types a scenario may name and their numpy dtypes. Pure: no I/O, no models.
The canonical spelling is the numpy name (``float32``); Triton spellings (``FP32``, ``TYPE_FP32``)
are accepted in any letter case. ``bytes`` tensors are numpy ``object`` arrays holding ``bytes``.
"""

from __future__ import annotations

import numpy as np

from pytriton_client.model_config import NUMPY_TO_TRITON

TRITON_NAMES: dict[str, str] = {**NUMPY_TO_TRITON, "bytes": "BYTES"}
"""Canonical (numpy) name -> Triton name, for every data type a payload may use."""

_ALIASES: dict[str, str] = {
    **{name: name for name in TRITON_NAMES},
    **{triton.lower(): name for name, triton in TRITON_NAMES.items()},
    **{f"type_{triton.lower()}": name for name, triton in TRITON_NAMES.items()},
    "string": "bytes",
    "type_string": "bytes",
    "object": "bytes",
}


def canonical_dtype(name: str) -> str:
    """Return the canonical name of a data type given by its numpy or Triton name.

    Raises:
        ValueError: the name is not a supported data type (the message lists the supported ones).
    """
    canonical = _ALIASES.get(name.strip().lower())
    if canonical is None:
        known = ", ".join(TRITON_NAMES)
        raise ValueError(f"unknown dtype {name!r}; known: {known} (or their Triton names, e.g. FP32)")
    return canonical


def numpy_dtype(canonical: str) -> np.dtype[np.generic]:
    """The numpy dtype used for arrays of a canonical data type (``object`` for ``bytes``)."""
    return np.dtype(object) if canonical == "bytes" else np.dtype(canonical)


def is_integer(canonical: str) -> bool:
    """True for the signed and unsigned integer types."""
    return canonical.startswith(("int", "uint"))


def is_float(canonical: str) -> bool:
    """True for the floating-point types."""
    return canonical.startswith("float")


def is_numeric(canonical: str) -> bool:
    """True for integer and floating-point types (not ``bool``, not ``bytes``)."""
    return is_integer(canonical) or is_float(canonical)
