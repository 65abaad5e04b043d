"""The scenario's dtype table (loadtest._dtypes): every name, its numpy dtype and its kind."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest._dtypes import TRITON_NAMES, canonical_dtype, is_float, is_integer, is_numeric, numpy_dtype

# canonical name, Triton name, numpy dtype, integer, float
TABLE = [
    ("bool", "BOOL", np.dtype(np.bool_), False, False),
    ("uint8", "UINT8", np.dtype(np.uint8), True, False),
    ("uint16", "UINT16", np.dtype(np.uint16), True, False),
    ("uint32", "UINT32", np.dtype(np.uint32), True, False),
    ("uint64", "UINT64", np.dtype(np.uint64), True, False),
    ("int8", "INT8", np.dtype(np.int8), True, False),
    ("int16", "INT16", np.dtype(np.int16), True, False),
    ("int32", "INT32", np.dtype(np.int32), True, False),
    ("int64", "INT64", np.dtype(np.int64), True, False),
    ("float16", "FP16", np.dtype(np.float16), False, True),
    ("float32", "FP32", np.dtype(np.float32), False, True),
    ("float64", "FP64", np.dtype(np.float64), False, True),
    ("bytes", "BYTES", np.dtype(object), False, False),
]


def test_the_table_is_complete() -> None:
    assert {name: triton for name, triton, *_ in TABLE} == TRITON_NAMES


@pytest.mark.parametrize(("name", "triton", "dtype", "integer", "floating"), TABLE)
def test_each_dtype(name: str, triton: str, dtype: np.dtype[np.generic], integer: bool, floating: bool) -> None:
    for spelling in (name, name.upper(), triton, triton.lower(), f"TYPE_{triton}", f" {name} "):
        assert canonical_dtype(spelling) == name
    assert numpy_dtype(name) == dtype
    assert (is_integer(name), is_float(name), is_numeric(name)) == (integer, floating, integer or floating)


@pytest.mark.parametrize("spelling", ["string", "STRING", "type_string", "TYPE_STRING", "object", "Object"])
def test_string_spellings_are_bytes(spelling: str) -> None:
    assert canonical_dtype(spelling) == "bytes"


def test_an_unknown_dtype_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as caught:
        canonical_dtype("bf16")
    assert str(caught.value) == (
        "unknown dtype 'bf16'; known: bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, "
        "float16, float32, float64, bytes (or their Triton names, e.g. FP32)"
    )
