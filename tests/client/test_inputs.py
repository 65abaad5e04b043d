"""Request planning (pure): argument mapping, dtype and rank rules, batch axis, string encoding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytriton_client._inputs import RequestPlanner, check_convention, encode_strings, payload_bytes
from pytriton_client.exceptions import PyTritonClientValueError
from pytriton_client.model_config import parse_model_config

ADDSUB = parse_model_config(
    {
        "name": "AddSub",
        "max_batch_size": 16,
        "input": [
            {"name": "a", "data_type": "TYPE_FP32", "dims": [-1]},
            {"name": "b", "data_type": "TYPE_FP32", "dims": ["2"], "optional": True},
        ],
        "output": [{"name": "add", "data_type": "TYPE_FP32", "dims": [-1]}],
    }
)
TEXT = parse_model_config(
    {"config": {"name": "T", "input": [{"name": "t", "data_type": "TYPE_STRING", "dims": ["1"]}]}}
)


def test_config_parsing_handles_grpc_json_and_optional_inputs() -> None:
    assert ADDSUB.batching and ADDSUB.max_batch_size == 16
    assert ADDSUB.inputs is not None and ADDSUB.inputs[1].optional and ADDSUB.inputs[1].shape == (2,)
    assert TEXT.model_name == "T" and not TEXT.batching
    assert TEXT.inputs is not None and TEXT.inputs[0].dtype is np.bytes_ and TEXT.inputs[0].datatype == "BYTES"
    assert TEXT.outputs is None


def test_sample_adds_a_batch_axis_without_copying() -> None:
    a = np.ones(3, dtype=np.float32)
    [(name, sent, datatype)] = RequestPlanner(ADDSUB).prepare((a,), {}, sample=True)
    assert (name, sent.shape, datatype) == ("a", (1, 3), "FP32")
    assert np.shares_memory(sent, a)


def test_optional_inputs_may_be_left_out_and_checked_when_given() -> None:
    planner = RequestPlanner(ADDSUB)
    assert [p[0] for p in planner.prepare((), {"a": np.ones((2, 3), np.float32)}, sample=False)] == ["a"]
    with pytest.raises(PyTritonClientValueError, match=r"'b'.*expects shape \(batch, 2\)"):
        planner.prepare((), {"a": np.ones((2, 3), np.float32), "b": np.ones((2, 3), np.float32)}, sample=False)


def test_missing_required_input_is_named() -> None:
    with pytest.raises(PyTritonClientValueError, match=r"requires input\(s\) \['a'\]"):
        RequestPlanner(ADDSUB).prepare((), {"b": np.ones((1, 2), np.float32)}, sample=False)


def test_non_array_input_is_named() -> None:
    with pytest.raises(PyTritonClientValueError, match=r"Input 'a' is not a numpy array. Got list"):
        RequestPlanner(ADDSUB).prepare(([1.0, 2.0],), {}, sample=True)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [((), {}, "Provide input data"), ((1,), {"a": 1}, "either positional or keyword")],
)
def test_convention(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PyTritonClientValueError, match=message):
        check_convention(args, kwargs)


def test_strings_are_encoded_and_bytes_pass_through() -> None:
    assert encode_strings(np.array(["ä"]), "t").tolist() == ["ä".encode()]
    same = np.array([b"x"], dtype=object)
    assert encode_strings(same, "t") is same
    assert encode_strings(np.array([], dtype=object), "t").shape == (0,)
    with pytest.raises(PyTritonClientValueError, match="expects bytes or str, got dtype float32"):
        encode_strings(np.ones(1, np.float32), "t")


def test_undeclared_inputs_map_numpy_dtypes_by_name() -> None:
    planner = RequestPlanner(parse_model_config({"name": "auto", "max_batch_size": 4}))
    [(name, array, datatype)] = planner.prepare((), {"x": np.ones(2, np.int16)}, sample=True)
    assert (name, array.shape, datatype) == ("x", (1, 2), "INT16")
    with pytest.raises(PyTritonClientValueError, match="lists no inputs; pass inputs by name"):
        planner.prepare((np.ones(1),), {}, sample=True)


@given(st.lists(st.text(max_size=8), max_size=6))
def test_payload_bytes_counts_utf8_lengths(texts: list[str]) -> None:
    config = parse_model_config({"name": "V", "input": [{"name": "t", "data_type": "TYPE_STRING", "dims": [-1]}]})
    [prepared] = RequestPlanner(config).prepare((np.array([*texts, "x"], dtype=object),), {}, sample=False)
    assert payload_bytes([prepared]) == sum(len(t.encode()) for t in [*texts, "x"])
