"""Input planning rule by rule, with the full error texts a user sees (pure, no server)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytriton_client._inputs import (
    RequestPlanner,
    build_tensors,
    check_convention,
    encode_strings,
    outputs_bytes,
    payload_bytes,
)
from pytriton_client.exceptions import PyTritonClientValueError
from pytriton_client.model_config import TensorSpec, TritonModelConfig, parse_model_config

BATCHING = parse_model_config(
    {
        "name": "Batcher",
        "max_batch_size": 8,
        "input": [
            {"name": "grid", "data_type": "TYPE_FP32", "dims": [2, -1]},
            {"name": "text", "data_type": "TYPE_STRING", "dims": [1]},
        ],
    }
)
PLAIN = parse_model_config({"name": "Plain", "input": [{"name": "x", "data_type": "TYPE_INT32", "dims": [2]}]})
OPTIONAL_FIRST = parse_model_config(
    {
        "name": "Opt",
        "input": [
            {"name": "hint", "data_type": "TYPE_FP32", "dims": [1], "optional": True},
            {"name": "x", "data_type": "TYPE_FP32", "dims": [1]},
            {"name": "y", "data_type": "TYPE_FP32", "dims": [1], "optional": True},
        ],
    }
)
UNDECLARED = TritonModelConfig(model_name="Auto", max_batch_size=4, batching=True)


def _error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(PyTritonClientValueError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_convention_accepts_one_style_and_names_the_mix() -> None:
    check_convention((np.ones(1),), {})
    check_convention((), {"a": np.ones(1)})
    assert _error(check_convention, (), {}) == ("Provide input data: pass numpy arrays positionally or by input name.")
    assert _error(check_convention, (1, 2), {"b": 1, "a": 2}) == (
        "Use either positional or keyword arguments for inputs, not both (got 2 positional and keywords ['a', 'b'])."
    )


def test_strings_of_every_kind_and_shape_are_encoded() -> None:
    unicode = np.array([["ä", "b"], ["c", "dé"]])
    assert encode_strings(unicode, "t").tolist() == [["ä".encode(), b"b"], [b"c", "dé".encode()]]
    raw = np.array([b"x", b"yz"])  # numpy bytes (kind "S") pass through untouched
    assert encode_strings(raw, "t") is raw
    objects_2d = np.array([[b"a", b"b"], [b"c", b"d"]], dtype=object)
    assert encode_strings(objects_2d, "t") is objects_2d
    mixed = np.array([["a", b"b"], [b"c", "ü"]], dtype=object)
    encoded = encode_strings(mixed, "t")
    assert encoded.shape == (2, 2) and encoded.dtype == object
    assert encoded.tolist() == [[b"a", b"b"], [b"c", "ü".encode()]]
    assert mixed.tolist() == [["a", b"b"], [b"c", "ü"]]  # the caller's array is left alone


def test_an_object_array_with_another_element_type_is_refused_at_its_index() -> None:
    message = _error(encode_strings, np.array([b"a", "b", 3], dtype=object), "prompt")
    assert message == ("Input 'prompt' is an object array; its elements must be bytes or str, got int at flat index 2.")


def test_every_input_by_position_gets_the_batch_axis_for_a_sample() -> None:
    grid, text = np.zeros((2, 5), np.float32), np.array(["hi"])
    prepared = RequestPlanner(BATCHING).prepare((grid, text), {}, sample=True)
    assert [(name, array.shape, datatype) for name, array, datatype in prepared] == [
        ("grid", (1, 2, 5), "FP32"),
        ("text", (1, 1), "BYTES"),
    ]
    assert prepared[1][1].tolist() == [[b"hi"]]


def test_fixed_dimensions_are_checked_on_their_own_axis_after_the_batch_axis() -> None:
    planner = RequestPlanner(BATCHING)
    text = np.array([[b"a"]] * 3, dtype=object)
    prepared = planner.prepare((np.zeros((3, 2, 7), np.float32), text), {}, sample=False)
    assert prepared[0][1].shape == (3, 2, 7)
    message = _error(planner.prepare, (np.zeros((3, 7, 2), np.float32), text), {}, sample=False)
    assert message == (
        "Input 'grid' of model 'Batcher' expects shape (batch, 2, ?) for a batch (infer_batch); "
        "the first axis is the batch, got (3, 7, 2)."
    )


@pytest.mark.parametrize(
    ("array", "sample", "message"),
    [
        (
            np.zeros((3, 5), np.float32),
            True,
            "Input 'grid' of model 'Batcher' expects shape (2, ?) per sample (infer_sample), got (3, 5).",
        ),
        (
            np.zeros(2, np.float32),
            True,
            "Input 'grid' of model 'Batcher' expects shape (2, ?) per sample (infer_sample), got (2,).",
        ),
        (
            np.zeros((2, 5), np.float32),
            False,
            "Input 'grid' of model 'Batcher' expects shape (batch, 2, ?) for a batch (infer_batch); "
            "the first axis is the batch, got (2, 5).",
        ),
    ],
)
def test_shape_errors_say_expected_and_given(array: np.ndarray, sample: bool, message: str) -> None:
    text = np.array([b"a"], dtype=object) if sample else np.array([[b"a"]], dtype=object)
    assert _error(RequestPlanner(BATCHING).prepare, (array, text), {}, sample=sample) == message


def test_a_model_without_batching_gets_arrays_unchanged_and_says_so_in_errors() -> None:
    planner = RequestPlanner(PLAIN)
    [(_, sent, datatype)] = planner.prepare((np.array([1, 2], np.int32),), {}, sample=True)
    assert (sent.shape, datatype) == ((2,), "INT32")
    assert _error(planner.prepare, (np.array([1, 2, 3], np.int32),), {}, sample=True) == (
        "Input 'x' of model 'Plain' expects shape (2,) (the model does not batch), got (3,)."
    )


def test_a_zero_dimension_is_fixed_not_variable() -> None:
    config = parse_model_config({"name": "Z", "input": [{"name": "z", "data_type": "TYPE_FP32", "dims": [0]}]})
    planner = RequestPlanner(config)
    assert planner.prepare((np.zeros(0, np.float32),), {}, sample=False)[0][1].shape == (0,)
    assert "expects shape (0,)" in _error(planner.prepare, (np.zeros(1, np.float32),), {}, sample=False)


def test_a_wrong_dtype_is_named_with_the_fix() -> None:
    message = _error(RequestPlanner(PLAIN).prepare, (np.array([1.0, 2.0]),), {}, sample=False)
    assert message == (
        "Input 'x' of model 'Plain' expects int32 (INT32), got float64; convert it with array.astype(np.int32)."
    )


def test_an_equal_dtype_that_is_another_object_is_accepted() -> None:
    tagged = np.dtype(np.int32, metadata={"source": "h5"})  # equal to int32, not the same object
    assert tagged == np.dtype(np.int32) and tagged is not np.dtype(np.int32)
    [(_, sent, _)] = RequestPlanner(PLAIN).prepare((np.array([1, 2], dtype=tagged),), {}, sample=False)
    assert sent.shape == (2,)


def test_a_non_array_is_named_with_the_fix() -> None:
    message = _error(RequestPlanner(PLAIN).prepare, ((1, 2),), {}, sample=False)
    assert message == "Input 'x' is not a numpy array. Got tuple instead; wrap it with np.asarray(...)."


def test_a_tensor_spec_without_a_wire_datatype_is_sent_as_bytes() -> None:
    config = TritonModelConfig(model_name="Old", inputs=[TensorSpec("t", (-1,), np.bytes_)])
    [(_, sent, datatype)] = RequestPlanner(config).prepare((np.array(["a", "b"]),), {}, sample=False)
    assert (sent.tolist(), datatype) == ([b"a", b"b"], "BYTES")


def test_too_many_positional_inputs_are_counted() -> None:
    message = _error(RequestPlanner(PLAIN).prepare, (np.ones(2, np.int32), np.ones(2, np.int32)), {}, sample=False)
    assert message == "Model 'Plain' takes 1 input(s) ['x'], but 2 positional arrays were given."


def test_positional_inputs_follow_the_config_order_and_must_cover_the_required_ones() -> None:
    planner = RequestPlanner(OPTIONAL_FIRST)
    one = np.ones(1, np.float32)
    assert [p[0] for p in planner.prepare((one, one), {}, sample=False)] == ["hint", "x"]
    # one array fills the optional first input, which leaves the required one out
    assert _error(planner.prepare, (one,), {}, sample=False) == (
        "Model 'Opt' requires input(s) ['x']; inputs in order: ['hint', 'x', 'y']."
    )


def test_keyword_inputs_are_checked_by_name() -> None:
    planner = RequestPlanner(OPTIONAL_FIRST)
    one = np.ones(1, np.float32)
    assert [p[0] for p in planner.prepare((), {"y": one, "x": one}, sample=False)] == ["y", "x"]
    assert _error(planner.prepare, (), {"x": one, "z": one, "w": one}, sample=False) == (
        "Model 'Opt' has no input named 'z'; its inputs are ['hint', 'x', 'y']."
    )
    assert _error(planner.prepare, (), {"hint": one}, sample=False) == (
        "Model 'Opt' requires input(s) ['x']; got ['hint']."
    )


@pytest.mark.parametrize(
    ("array", "datatype"),
    [
        (np.array(["a"]), "BYTES"),
        (np.array([b"a"]), "BYTES"),
        (np.array([b"a"], dtype=object), "BYTES"),
        (np.array([True]), "BOOL"),
        (np.array([1], np.uint64), "UINT64"),
        (np.array([1.5], np.float16), "FP16"),
    ],
)
def test_undeclared_inputs_take_their_datatype_from_the_array(array: np.ndarray, datatype: str) -> None:
    planner = RequestPlanner(UNDECLARED)
    [(name, sample, sample_type)] = planner.prepare((), {"in": array}, sample=True)
    [(_, batch, batch_type)] = planner.prepare((), {"in": array}, sample=False)
    assert (name, sample_type, batch_type) == ("in", datatype, datatype)
    assert (sample.shape, batch.shape) == ((1, 1), (1,))
    if datatype == "BYTES":
        assert sample.reshape(-1).tolist() == [b"a"]


def test_undeclared_inputs_refuse_what_cannot_be_sent() -> None:
    planner = RequestPlanner(UNDECLARED)
    assert _error(planner.prepare, (), {"in": [1, 2]}, sample=True) == "Input 'in' is not a numpy array. Got list."
    assert _error(planner.prepare, (), {"in": np.ones(2, np.complex64)}, sample=True) == (
        "Input 'in' has unsupported dtype complex64."
    )
    assert _error(planner.prepare, (np.ones(1),), {}, sample=True) == (
        "The configuration of model 'Auto' lists no inputs; pass inputs by name."
    )


def test_payload_and_output_bytes_count_every_input_and_every_string() -> None:
    prepared = [
        ("a", np.zeros((2, 3), np.float32), "FP32"),
        ("t", np.array([[b"ab", b"c"], [b"", b"defg"]], dtype=object), "BYTES"),
        ("b", np.zeros(5, np.int8), "INT8"),
    ]
    assert payload_bytes(prepared) == 24 + 7 + 5
    outputs = {"a": np.zeros((2, 3), np.float32), "t": np.array([[b"ab"], [b"cde"]], dtype=object), "none": None}
    assert outputs_bytes(outputs) == 24 + 5
    assert outputs_bytes({"missing": None, "a": np.zeros(3, np.int16)}) == 6  # a None output is skipped, not the end
    assert outputs_bytes({}) == 0 and payload_bytes([]) == 0


def test_a_bad_string_element_names_its_input_declared_or_not() -> None:
    bad = np.array([b"ok", 3.5], dtype=object)
    declared = RequestPlanner(parse_model_config({"name": "T", "input": [{"name": "t", "data_type": "TYPE_STRING"}]}))
    for planner, name in ((declared, "t"), (RequestPlanner(UNDECLARED), "in")):
        message = _error(planner.prepare, (), {name: bad}, sample=False)
        assert message.startswith(f"Input {name!r} is an object array;")


def test_an_unknown_keyword_is_reported_before_a_missing_one() -> None:
    one = np.ones(1, np.float32)
    assert _error(RequestPlanner(OPTIONAL_FIRST).prepare, (), {"z": one}, sample=False) == (
        "Model 'Opt' has no input named 'z'; its inputs are ['hint', 'x', 'y']."
    )


class _FakeTensor:
    def __init__(self, name: str, shape: tuple[int, ...], datatype: str) -> None:
        self.name, self.shape, self.datatype = name, shape, datatype
        self.data: np.ndarray | None = None

    def set_data_from_numpy(self, array: np.ndarray) -> None:
        self.data = array


def test_build_tensors_makes_one_tensor_per_input_in_order() -> None:
    first, second = np.zeros((1, 2), np.float32), np.array([b"x"], dtype=object)
    tensors = build_tensors(_FakeTensor, [("a", first, "FP32"), ("t", second, "BYTES")])
    assert [(t.name, t.shape, t.datatype) for t in tensors] == [("a", (1, 2), "FP32"), ("t", (1,), "BYTES")]
    assert tensors[0].data is first and tensors[1].data is second
