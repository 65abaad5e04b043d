"""Model configuration parsing, field by field: defaults of missing keys and the dtype table (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytriton_client.exceptions import PyTritonClientValueError
from pytriton_client.model_config import (
    NUMPY_TO_TRITON,
    TensorSpec,
    TritonModelConfig,
    parse_model_config,
    triton_datatype,
    triton_to_numpy_dtype,
)


def test_a_minimal_config_takes_every_default() -> None:
    assert parse_model_config({}) == TritonModelConfig(
        model_name="",
        model_version=1,
        max_batch_size=0,
        batching=False,
        decoupled=False,
        inputs=None,
        outputs=None,
        backend="",
        platform="",
        parameters={},
    )


def test_every_field_is_read() -> None:
    config = parse_model_config(
        {
            "name": "resnet",
            "backend": "onnxruntime",
            "platform": "onnxruntime_onnx",
            "max_batch_size": 1,
            "model_transaction_policy": {"decoupled": False},
            "parameters": {"a": {"string_value": "1"}, "b": {}},
            "input": [{"name": "x", "data_type": "TYPE_UINT8", "dims": [224, 224, 3], "optional": True}],
            "output": [{"name": "y", "data_type": "TYPE_FP16"}],
        },
        "7",
    )
    assert (config.model_name, config.backend, config.platform, config.model_version) == (
        "resnet",
        "onnxruntime",
        "onnxruntime_onnx",
        7,
    )
    assert config.max_batch_size == 1 and config.batching  # a batch of one still has the batch axis
    assert config.decoupled is False
    assert config.parameters == {"a": "1", "b": ""}
    assert config.inputs == [TensorSpec("x", (224, 224, 3), np.uint8, True, "UINT8")]
    assert config.outputs == [TensorSpec("y", (), np.float16, False, "FP16")]


@pytest.mark.parametrize("max_batch_size", [None, 0])
def test_no_or_zero_max_batch_size_means_no_batching(max_batch_size: int | None) -> None:
    config = parse_model_config({"name": "m", "max_batch_size": max_batch_size})
    assert (config.max_batch_size, config.batching) == (0, False)


def test_a_grpc_wrapper_is_unwrapped_but_a_model_named_config_is_not_confused_with_it() -> None:
    wrapped = parse_model_config({"config": {"name": "inner", "max_batch_size": 4}})
    assert (wrapped.model_name, wrapped.max_batch_size) == ("inner", 4)
    # an HTTP answer that has both keys is read as it is
    direct = parse_model_config({"name": "outer", "config": {"name": "inner"}, "max_batch_size": 2})
    assert (direct.model_name, direct.max_batch_size) == ("outer", 2)
    # a mapping without "config" is the configuration itself, even without a name
    assert parse_model_config({"max_batch_size": 3}).max_batch_size == 3


@pytest.mark.parametrize("version", [None, "", "latest", "-1"])
def test_versions_that_are_not_a_number_read_as_one(version: str | None) -> None:
    assert parse_model_config({"name": "m"}, version).model_version == 1


def test_a_tensor_without_dims_is_a_scalar_and_one_without_datatype_is_refused() -> None:
    [spec] = parse_model_config({"name": "m", "input": [{"name": "t", "data_type": "TYPE_STRING"}]}).inputs or []
    assert spec == TensorSpec("t", (), np.bytes_, False, "BYTES")
    with pytest.raises(PyTritonClientValueError) as caught:
        parse_model_config({"name": "m", "output": [{"name": "t", "dims": [1]}]})
    assert str(caught.value) == "Unsupported Triton datatype ''"


@pytest.mark.parametrize(
    ("datatype", "numpy_type", "wire"),
    [
        ("TYPE_BOOL", np.bool_, "BOOL"),
        ("TYPE_UINT8", np.uint8, "UINT8"),
        ("UINT16", np.uint16, "UINT16"),
        ("TYPE_UINT32", np.uint32, "UINT32"),
        ("TYPE_UINT64", np.uint64, "UINT64"),
        ("TYPE_INT8", np.int8, "INT8"),
        ("TYPE_INT16", np.int16, "INT16"),
        ("INT32", np.int32, "INT32"),
        ("TYPE_INT64", np.int64, "INT64"),
        ("TYPE_FP16", np.float16, "FP16"),
        ("TYPE_FP32", np.float32, "FP32"),
        ("FP64", np.float64, "FP64"),
        ("TYPE_STRING", np.bytes_, "BYTES"),
        ("STRING", np.bytes_, "BYTES"),
        ("BYTES", np.bytes_, "BYTES"),
        ("TYPE_BF16", np.float32, "BF16"),
    ],
)
def test_dtype_table(datatype: str, numpy_type: Any, wire: str) -> None:
    assert triton_to_numpy_dtype(datatype) is numpy_type
    assert triton_datatype(datatype) == wire


def test_unknown_datatypes_are_refused_by_name() -> None:
    with pytest.raises(PyTritonClientValueError) as caught:
        triton_to_numpy_dtype("TYPE_COMPLEX64")
    assert str(caught.value) == "Unsupported Triton datatype 'TYPE_COMPLEX64'"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_numpy_names_map_back_to_every_numeric_and_boolean_datatype() -> None:
    assert NUMPY_TO_TRITON == {
        "bool": "BOOL",
        "uint8": "UINT8",
        "uint16": "UINT16",
        "uint32": "UINT32",
        "uint64": "UINT64",
        "int8": "INT8",
        "int16": "INT16",
        "int32": "INT32",
        "int64": "INT64",
        "float16": "FP16",
        "float32": "FP32",
        "float64": "FP64",
    }
