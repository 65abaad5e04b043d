"""One behaviour suite for every front (sync, futures, asyncio) over HTTP and gRPC, against real Triton.

Covers the parity checklist of the reference (client-spec Part A §3) as amended by Part B: where we
fixed a reference bug, the test asserts the fixed behaviour (see docs/divergences.md).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton, free_port
from pytriton_client import (
    PyTritonClientClosedError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientModelDoesntSupportBatchingError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
    RequestRecord,
)
from tests.client.fronts import Fronts

WEIGHTS = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)
BIAS = np.array([0.1, 0.2, 0.3], dtype=np.float32)


def test_linear_sample_and_batch_compute_the_model(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Linear")
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    batch = client.infer_batch(x)
    np.testing.assert_allclose(batch["OUTPUT_1"], x @ WEIGHTS + BIAS, rtol=1e-6)
    sample = client.infer_sample(x[0])
    assert sample["OUTPUT_1"].shape == (3,)
    np.testing.assert_allclose(sample["OUTPUT_1"], x[0] @ WEIGHTS + BIAS, rtol=1e-6)


def test_positional_inputs_follow_config_order_and_keywords_match_names(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "AddSub")
    a, b = np.array([3.0, 4.0], dtype=np.float32), np.array([1.0, 1.0], dtype=np.float32)
    positional = client.infer_sample(a, b)
    keyword = client.infer_sample(b=b, a=a)
    assert positional["add"].tolist() == keyword["add"].tolist() == [4.0, 5.0]
    assert positional["sub"].tolist() == keyword["sub"].tolist() == [2.0, 3.0]
    assert list(positional) == ["add", "sub"]


def test_too_many_positional_inputs_are_rejected_not_dropped(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "AddSub")
    a = np.ones(2, dtype=np.float32)
    with pytest.raises(PyTritonClientValueError, match=r"takes 2 input\(s\) \['a', 'b'\], but 3 positional"):
        client.infer_sample(a, a, a)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bogus": np.ones(2, np.float32)}, "has no input named 'bogus'; its inputs are \\['a', 'b'\\]"),
        ({"a": np.ones(2, np.float32)}, "requires input\\(s\\) \\['b'\\]"),
    ],
)
def test_unknown_or_missing_input_names_are_named_before_any_request(
    fronts: Fronts, url: str, kwargs: dict[str, np.ndarray], message: str
) -> None:
    client = fronts.make(url, "AddSub")
    with pytest.raises(PyTritonClientValueError, match=message):
        client.infer_sample(**kwargs)


def test_float64_for_fp32_input_is_a_clear_value_error(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Linear")
    started = time.monotonic()
    with pytest.raises(PyTritonClientValueError) as caught:
        client.infer_sample(np.ones(2, dtype=np.float64))
    assert time.monotonic() - started < 5
    assert "'INPUT_1'" in str(caught.value)
    assert "expects float32 (FP32), got float64" in str(caught.value)
    assert "astype(np.float32)" in str(caught.value)
    assert caught.value.kind == "invalid_input"


def test_rank_and_fixed_dimension_mismatches_name_the_expected_shape(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Linear")
    with pytest.raises(PyTritonClientValueError, match=r"expects shape \(2,\) per sample.*got \(3, 2\)"):
        client.infer_sample(np.ones((3, 2), dtype=np.float32))
    with pytest.raises(PyTritonClientValueError, match=r"expects shape \(batch, 2\).*got \(4, 3\)"):
        client.infer_batch(np.ones((4, 3), dtype=np.float32))


def test_sample_adds_batch_axis_only_for_batching_models(fronts: Fronts, url: str) -> None:
    batching = fronts.make(url, "AddSub")
    a = np.array([1.0], dtype=np.float32)
    assert batching.infer_sample(a, a)["add"].shape == (1,)
    flat = fronts.make(url, "AddSubNB")
    out = flat.infer_sample(np.array([1.0, 2.0, 3.0], np.float32), np.array([1.0, 1.0, 1.0], np.float32))
    assert out["add"].tolist() == [2.0, 3.0, 4.0]
    assert out["sub"].shape == (3,)


def test_infer_batch_on_non_batching_model_is_refused(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "AddSubNB")
    a = np.ones(2, dtype=np.float32)
    with pytest.raises(PyTritonClientModelDoesntSupportBatchingError, match="AddSubNB doesn't support batching"):
        client.infer_batch(a, a)


def test_no_inputs_or_mixed_conventions_are_rejected(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "AddSub")
    a = np.ones(2, dtype=np.float32)
    with pytest.raises(PyTritonClientValueError, match="Provide input data"):
        client.infer_sample()
    with pytest.raises(PyTritonClientValueError, match="either positional or keyword"):
        client.infer_sample(a, b=a)


@pytest.mark.parametrize(
    "bad",
    [{"x": 1.5}, {1: "a"}, {"x": [1]}, {"x": None}, ["x"]],
    ids=["float", "int-key", "list", "none", "not-dict"],
)
def test_invalid_parameters_and_headers_are_rejected(fronts: Fronts, url: str, bad: object) -> None:
    client = fronts.make(url, "Linear")
    x = np.ones(2, dtype=np.float32)
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(x, parameters=bad)
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(x, headers=bad)


def test_str_inputs_are_utf8_encoded_and_bytes_outputs_are_object_arrays(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Echo")
    unicode_out = client.infer_sample(np.array(["zażółć", "b"]))
    assert unicode_out["text"].dtype == object
    assert unicode_out["text"].tolist() == ["zażółć".encode(), b"b"]
    objects_out = client.infer_sample(np.array(["x", b"y"], dtype=object))
    assert objects_out["text"].tolist() == [b"x", b"y"]
    bytes_out = client.infer_batch(np.array([[b"p", b"q"]], dtype=np.bytes_))
    assert bytes_out["text"].tolist() == [[b"p", b"q"]]
    empty_out = client.infer_sample(np.array([], dtype=object))
    assert empty_out["text"].shape == (0,)


def test_object_array_with_non_string_elements_is_rejected(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Echo")
    with pytest.raises(PyTritonClientValueError, match="elements must be bytes or str, got int"):
        client.infer_sample(np.array([b"a", 3], dtype=object))


def test_parameters_and_headers_reach_the_model(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Echo")
    out = client.infer_sample(
        np.array([b"a"]), parameters={"s": "text", "i": 7, "flag": True}, headers={"x-echo-user": "alice"}
    )
    seen = json.loads(out["parameters"][0])
    assert seen["s"] == "text"
    assert seen["i"] == 7
    assert seen["flag"] is True
    assert seen["x-echo-user"] == "alice"


def test_request_ids_count_from_zero_per_client(direct_fronts: Fronts, url: str) -> None:
    client = direct_fronts.make(url, "Echo")
    ids = [client.infer_sample(np.array([b"a"]))["request_id"][0] for _ in range(3)]
    assert ids == [b"0", b"1", b"2"]


def test_model_error_is_an_inference_server_error(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Fail")
    with pytest.raises(PyTritonClientInferenceServerError, match="injected failure") as caught:
        client.infer_sample(np.ones(2, dtype=np.float32), parameters={"failure_rate": 1})
    assert caught.value.kind == "server"
    assert caught.value.__cause__ is not None


def test_inference_timeout_raises_timeout_error(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Sleep", inference_timeout_s=0.5)
    client.wait_for_model(30)
    started = time.monotonic()
    with pytest.raises(PyTritonClientTimeoutError) as caught:
        client.infer_sample(np.ones(1, dtype=np.float32), parameters={"latency_ms": 3000})
    assert 0.3 < time.monotonic() - started < 2.9
    assert caught.value.kind == "timeout"
    # the client stays usable after a timeout
    assert client.infer_sample(np.ones(1, dtype=np.float32), parameters={"latency_ms": 1})["OUTPUT"].tolist() == [1.0]


def test_model_name_typo_is_reported_at_once_with_the_served_models(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Linaer", init_timeout_s=60)
    started = time.monotonic()
    with pytest.raises(PyTritonClientModelUnavailableError) as caught:
        client.infer_sample(np.ones(2, dtype=np.float32))
    assert time.monotonic() - started < 1.0
    assert "Did you mean 'Linear'?" in str(caught.value)
    assert "Linear" in str(caught.value).split("Models it serves:")[1]
    assert caught.value.kind == "model_unavailable"


def test_unknown_version_is_reported_with_the_versions_served(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Linear", model_version="7", init_timeout_s=60)
    with pytest.raises(PyTritonClientModelUnavailableError, match=r"has no version '7'.*versions: 1"):
        client.infer_sample(np.ones(2, dtype=np.float32))


def test_decoupled_model_in_coupled_client_names_the_right_client(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "streaming_bot")
    with pytest.raises(PyTritonClientInferenceServerError, match=r"decoupled. Use .*DecoupledModelClient"):
        client.infer_sample(np.array([b"hi"]))


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_closed_port_is_a_connection_error_naming_the_url(fronts: Fronts, scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{free_port()}"
    client = fronts.make(url, "Linear", init_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(PyTritonClientConnectionError) as caught:
        client.infer_sample(np.ones(2, dtype=np.float32))
    assert time.monotonic() - started < 5
    assert url in str(caught.value)
    assert "refused" in str(caught.value).lower()
    assert caught.value.kind == "connection"


def test_closed_port_at_inference_is_a_connection_error_not_a_timeout(
    triton_server: EmbeddedTriton, direct_fronts: Fronts, protocol: str
) -> None:
    known = direct_fronts.make(triton_server.http_url, "Linear").model_config
    url = f"{protocol}://127.0.0.1:{free_port()}"
    client = direct_fronts.make(url, "Linear", model_config=known, ensure_model_is_ready=False)
    with pytest.raises(PyTritonClientConnectionError, match=r"127.0.0.1"):
        client.infer_sample(np.ones(2, dtype=np.float32))


def test_model_config_describes_the_model(fronts: Fronts, url: str) -> None:
    config = fronts.make(url, "AddSub").model_config
    assert config.model_name == "AddSub"
    assert config.max_batch_size == 16
    assert config.batching is True
    assert config.decoupled is False
    assert [(t.name, t.shape, t.dtype) for t in config.inputs] == [("a", (-1,), np.float32), ("b", (-1,), np.float32)]
    assert [t.name for t in config.outputs] == ["add", "sub"]


def test_close_is_idempotent_and_use_after_close_raises_closed(fronts: Fronts, url: str) -> None:
    client = fronts.make(url, "Linear")
    client.infer_sample(np.ones(2, dtype=np.float32))
    client.close()
    client.close()
    with pytest.raises(PyTritonClientClosedError) as caught:
        client.infer_sample(np.ones(2, dtype=np.float32))
    assert caught.value.kind == "closed"


def test_observer_sees_every_request_with_its_outcome(fronts: Fronts, url: str, protocol: str) -> None:
    records: list[RequestRecord] = []
    client = fronts.make(url, "Fail", observer=records.append)
    x = np.ones(4, dtype=np.float32)
    client.infer_sample(x, parameters={"failure_rate": 0})
    with pytest.raises(PyTritonClientError):
        client.infer_batch(x[np.newaxis, :], parameters={"failure_rate": 1})
    assert [r.method for r in records] == ["infer_sample", "infer_batch"]
    ok, failed = records
    assert ok.ok and ok.error is None
    assert ok.model_name == "Fail" and ok.protocol == protocol and ok.model_version == ""
    assert ok.bytes_sent == 16 and ok.bytes_received == 16
    assert ok.end_ns > ok.start_ns
    assert not failed.ok and failed.error is not None and failed.error.kind == "server"  # type: ignore[attr-defined]


def test_observer_also_sees_calls_that_fail_before_sending(fronts: Fronts, url: str) -> None:
    records: list[RequestRecord] = []
    missing = fronts.make(url, "Linaer", observer=records.append)
    with pytest.raises(PyTritonClientModelUnavailableError):
        missing.infer_sample(np.ones(2, dtype=np.float32))
    client = fronts.make(url, "Linear", observer=records.append)
    with pytest.raises(PyTritonClientValueError):
        client.infer_sample(np.ones(2, dtype=np.float64))
    assert [r.error.kind for r in records] == ["model_unavailable", "invalid_input"]  # type: ignore[union-attr]
    assert all(r.bytes_sent is None and not r.ok for r in records)
