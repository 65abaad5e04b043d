"""Model configuration parsing (pure): HTTP and gRPC JSON forms, dims, dtypes, versions, decoupled flag."""

from __future__ import annotations

import numpy as np

from pytriton_client.model_config import TensorSpec, parse_model_config

HTTP_FORM = {
    "name": "Stream",
    "max_batch_size": 4,
    "model_transaction_policy": {"decoupled": True},
    "input": [{"name": "scalar", "data_type": "TYPE_BF16", "dims": []}],
    "output": [{"name": "text", "data_type": "TYPE_STRING", "dims": [1]}],
    "parameters": {"token_delay_ms": {"string_value": "5"}},
}


def test_http_form() -> None:
    config = parse_model_config(HTTP_FORM, "3")
    assert (config.model_name, config.model_version, config.max_batch_size) == ("Stream", 3, 4)
    assert config.batching and config.decoupled
    assert config.inputs == [TensorSpec("scalar", (), np.float32, False, "BF16")]
    assert config.outputs == [TensorSpec("text", (1,), np.bytes_, False, "BYTES")]
    assert config.parameters == {"token_delay_ms": "5"}


def test_grpc_form_has_string_dims_and_a_wrapper() -> None:
    config = parse_model_config(
        {"config": {"name": "M", "input": [{"name": "x", "data_type": "TYPE_INT8", "dims": ["-1", "3"]}]}}
    )
    assert config.model_version == 1
    assert config.max_batch_size == 0 and not config.batching and not config.decoupled
    assert config.inputs == [TensorSpec("x", (-1, 3), np.int8, False, "INT8")]
