"""The fast request path: requests encoded once (``encode_sample``/``encode_batch``), sent by ``infer_encoded``.

The encoders are checked against tritonclient's own encoding of the same inputs; the exchange against
the session server over HTTP and gRPC: same outputs, same errors, same observer records as the
ordinary path.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import _utils as grpc_utils
from tritonclient.grpc import service_pb2
from tritonclient.http import _utils as http_utils

from loadtest.embedded import EmbeddedTriton
from pytriton_client import ModelClient
from pytriton_client._transport import InferRequest
from pytriton_client._wire import (
    grpc_message,
    grpc_metadata,
    grpc_outputs_of,
    http_body,
    http_infer_path,
    http_message,
    http_outputs_of,
    tensor_bytes,
)
from pytriton_client.exceptions import PyTritonClientError, PyTritonClientTimeoutError, PyTritonClientValueError
from pytriton_client.observer import RequestRecord

X = np.array([0.5, -1.5], dtype=np.float32)
CASES: list[tuple[list[tuple[str, np.ndarray[Any, Any], str]], dict[str, Any] | None]] = [
    ([("INPUT_1", X[np.newaxis], "FP32")], None),
    (
        [
            ("ids", np.arange(6, dtype=np.int64).reshape(2, 3), "INT64"),
            ("text", np.array([[b"zaz\xc3\xb3\xc5\x82", b""]], dtype=object), "BYTES"),
            ("mask", np.array([True, False]), "BOOL"),
        ],
        {"s": "text", "i": 7, "flag": True, "f": 0.25},
    ),
]


def _request(inputs: list[tuple[str, np.ndarray[Any, Any], str]], parameters: dict[str, Any] | None) -> InferRequest:
    return InferRequest("Model", "", inputs, "", parameters, {"x-echo-user": "alice"})


def _tritonclient_inputs(module: Any, inputs: list[tuple[str, np.ndarray[Any, Any], str]]) -> list[Any]:
    tensors = []
    for name, array, datatype in inputs:
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


@pytest.mark.parametrize(("inputs", "parameters"), CASES)
def test_http_body_matches_tritonclient(inputs: Any, parameters: Any) -> None:
    ours, header_length = http_body(inputs, parameters)
    theirs, their_length = http_utils._get_inference_request(
        inputs=_tritonclient_inputs(httpclient, inputs),
        request_id="",
        outputs=None,
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        custom_parameters=parameters,
    )
    assert json.loads(ours[:header_length]) == json.loads(theirs[:their_length])
    assert ours[header_length:] == theirs[their_length:]  # the tensors, byte for byte


@pytest.mark.parametrize(("inputs", "parameters"), CASES)
def test_grpc_message_matches_tritonclient(inputs: Any, parameters: Any) -> None:
    ours = service_pb2.ModelInferRequest.FromString(grpc_message(_request(inputs, parameters)))
    theirs = grpc_utils._get_inference_request(
        model_name="Model",
        inputs=_tritonclient_inputs(grpcclient, inputs),
        model_version="",
        request_id="",
        outputs=None,
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        parameters=parameters,
    )
    assert ours == theirs


def test_http_message_carries_the_headers_triton_needs() -> None:
    message = http_message(_request(*CASES[0]), "127.0.0.1:8000")
    head, _, body = message.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "POST /v2/models/Model/infer HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["Host"] == "127.0.0.1:8000"
    assert int(fields["Content-Length"]) == len(body)
    assert body[int(fields["Inference-Header-Content-Length"]) :] == X.tobytes()
    assert fields["x-echo-user"] == "alice"
    assert http_infer_path("a b", "2") == "/v2/models/a%20b/versions/2/infer"
    assert grpc_metadata(_request(*CASES[0])) == (("x-echo-user", "alice"),)


@pytest.mark.parametrize("header", [{"x-bad": "a\r\nInjected: 1"}, {"Content-Length": "3"}])
def test_http_message_refuses_headers_it_cannot_send(header: dict[str, str]) -> None:
    request = InferRequest("Model", "", CASES[0][0], "", None, header)
    with pytest.raises(PyTritonClientValueError):
        http_message(request, "127.0.0.1:8000")


OUTPUTS: list[tuple[str, np.ndarray[Any, Any], str]] = [
    ("scores", np.arange(6, dtype=np.float32).reshape(2, 3), "FP32"),
    ("text", np.array([[b"zaz\xc3\xb3\xc5\x82", b""]], dtype=object), "BYTES"),
    ("empty", np.zeros((0, 2), dtype=np.int64), "INT64"),
]


def _assert_same_outputs(ours: dict[str, Any], theirs: Any) -> None:
    assert list(ours) == [name for name, _, _ in OUTPUTS]
    for name, array in ours.items():
        expected = theirs.as_numpy(name)
        assert array.dtype == expected.dtype and array.shape == expected.shape
        assert array.tolist() == expected.tolist()


def test_http_outputs_decode_like_tritonclient() -> None:
    tensors, raw = [], []
    for name, array, datatype in OUTPUTS:
        data = tensor_bytes(array, datatype)
        tensors.append({"name": name, "datatype": datatype, "shape": list(array.shape)})
        tensors[-1]["parameters"] = {"binary_data_size": len(data)}
        raw.append(data)
    tensors.append({"name": "json", "datatype": "INT32", "shape": [2], "data": [1, 2]})  # not binary
    header = json.dumps({"model_name": "M", "outputs": tensors}).encode()
    body = header + b"".join(raw)
    ours = http_outputs_of(len(header), body)
    theirs = httpclient.InferResult.from_response_body(body, header_length=len(header))
    assert ours.pop("json").tolist() == theirs.as_numpy("json").tolist() == [1, 2]
    _assert_same_outputs(ours, theirs)


def test_grpc_outputs_decode_like_tritonclient() -> None:
    response = service_pb2.ModelInferResponse(model_name="M")
    for name, array, datatype in OUTPUTS:
        tensor = response.outputs.add()
        tensor.name, tensor.datatype = name, datatype
        tensor.shape.extend(array.shape)
        response.raw_output_contents.append(tensor_bytes(array, datatype))
    _assert_same_outputs(grpc_outputs_of(response), grpcclient.InferResult(response))


# -- against the server ---------------------------------------------------------------------------------
def _client(url: str, model: str, records: list[RequestRecord]) -> ModelClient:
    return ModelClient(url, model, lazy_init=False, observer=records.append)


def test_encoded_request_gives_the_ordinary_outputs_and_record(url: str) -> None:
    records: list[RequestRecord] = []
    with _client(url, "Linear", records) as client:
        assert client.can_encode
        expected = client.infer_sample(X)
        encoded = client.encode_sample(X)
        assert client.infer_encoded(encoded) is None  # not decoded unless asked
        decoded = client.infer_encoded(encoded, decode=True)
        assert decoded is not None
        assert decoded.keys() == expected.keys()
        np.testing.assert_array_equal(decoded["OUTPUT_1"], expected["OUTPUT_1"])
        batch = client.encode_batch(np.stack([X, X]))
        batch_out = client.infer_encoded(batch, decode=True)
        assert batch_out is not None and batch_out["OUTPUT_1"].shape == (2, 3)
    ordinary, fast, fast_decoded, fast_batch = records
    for record in (fast, fast_decoded):
        assert (record.method, record.model_name, record.protocol) == ("infer_sample", "Linear", ordinary.protocol)
        assert record.ok and record.duration_ns > 0
        assert (record.bytes_sent, record.bytes_received) == (ordinary.bytes_sent, ordinary.bytes_received)
    assert fast_batch.method == "infer_batch" and fast_batch.bytes_received == 2 * ordinary.bytes_received


def test_an_unmeasured_answer_is_recorded_without_its_size(url: str) -> None:
    records: list[RequestRecord] = []
    with _client(url, "Linear", records) as client:
        encoded = client.encode_sample(X)
        assert client.infer_encoded(encoded, measure=False) is None
        decoded = client.infer_encoded(encoded, decode=True, measure=False)  # decoded: its size is known anyway
    unmeasured, decoded_record = records
    assert unmeasured.ok and unmeasured.duration_ns > 0 and unmeasured.bytes_received is None
    assert unmeasured.bytes_sent == decoded_record.bytes_sent and decoded_record.bytes_received == 12
    assert decoded is not None and decoded["OUTPUT_1"].shape == (3,)


def test_parameters_and_headers_of_an_encoded_request_reach_the_model(url: str) -> None:
    with ModelClient(url, "Echo") as client:
        encoded = client.encode_sample(np.array([b"a"]), parameters={"i": 7}, headers={"x-echo-user": "alice"})
        first = client.infer_encoded(encoded, decode=True)
        again = client.infer_encoded(encoded, decode=True)
    assert first is not None and again is not None
    seen = json.loads(first["parameters"][0])
    assert seen["i"] == 7 and seen["x-echo-user"] == "alice"
    assert first["text"].tolist() == again["text"].tolist() == [b"a"]


def test_a_failed_encoded_request_raises_and_records_what_the_ordinary_path_does(url: str) -> None:
    ordinary_records: list[RequestRecord] = []
    fast_records: list[RequestRecord] = []
    ones = np.ones(2, dtype=np.float32)
    with _client(url, "Fail", ordinary_records) as ordinary, _client(url, "Fail", fast_records) as fast:
        with pytest.raises(PyTritonClientError) as expected:
            ordinary.infer_sample(ones, parameters={"failure_rate": 1})
        encoded = fast.encode_sample(ones, parameters={"failure_rate": 1})
        with pytest.raises(PyTritonClientError) as caught:
            fast.infer_encoded(encoded)
        assert fast.infer_encoded(fast.encode_sample(ones, parameters={"failure_rate": 0}), decode=True) is not None
    assert type(caught.value) is type(expected.value)
    assert caught.value.kind == expected.value.kind
    assert "injected failure" in str(caught.value)
    [failed, succeeded] = fast_records
    assert failed.error is caught.value and succeeded.ok


def test_an_encoded_request_fits_only_a_client_of_its_model_and_protocol(triton_server: EmbeddedTriton) -> None:
    http = ModelClient(triton_server.http_url, "Linear")
    grpc = ModelClient(triton_server.grpc_url, "Linear")
    other = ModelClient(triton_server.http_url, "Fail")
    try:
        with pytest.raises(PyTritonClientValueError, match="over http"):
            grpc.infer_encoded(http.encode_sample(X))
        with pytest.raises(PyTritonClientValueError, match="'Linear'"):
            other.infer_encoded(http.encode_sample(X))
    finally:
        for client in (http, grpc, other):
            client.close()


def test_encoding_checks_inputs_like_infer_sample(url: str) -> None:
    with ModelClient(url, "Linear") as client, pytest.raises(PyTritonClientValueError, match="expects"):
        client.encode_sample(X.astype(np.float64))


def test_an_encoded_request_keeps_its_deadline_and_the_client_stays_usable(url: str) -> None:
    records: list[RequestRecord] = []
    with ModelClient(url, "Sleep", inference_timeout_s=0.5, observer=records.append) as client:
        client.wait_for_model(30)
        slow = client.encode_sample(np.ones(1, dtype=np.float32), parameters={"latency_ms": 3000})
        started = time.monotonic()
        with pytest.raises(PyTritonClientTimeoutError) as caught:
            client.infer_encoded(slow)
        assert 0.3 < time.monotonic() - started < 2.9  # the deadline ended the call, not the model
        fast = client.encode_sample(np.ones(1, dtype=np.float32), parameters={"latency_ms": 1})
        answer = client.infer_encoded(fast, decode=True)
    assert caught.value.kind == "timeout"
    assert answer is not None and answer["OUTPUT"].tolist() == [1.0]
    assert [record.error is caught.value for record in records] == [True, False]
