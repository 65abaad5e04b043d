"""ServerClient: health, metadata, raw model configs and statistics, in one form over HTTP and gRPC.

Against the session server (both protocols) and, for the client's own rules (timeouts passed on,
errors surfacing, closing), over the in-memory transport.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton, free_port
from pytriton_client import (
    ModelClient,
    PyTritonClientAuthorizationError,
    PyTritonClientClosedError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInvalidUrlError,
    PyTritonClientModelUnavailableError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
    ServerClient,
)
from tests.client.fake import STATISTICS, FakeServer, install

PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")


def test_health_and_metadata(url: str, protocol: str) -> None:
    with ServerClient(url) as server:
        assert server.is_server_live() and server.is_server_ready()
        metadata = server.server_metadata()
        assert server.protocol == protocol and server.url == url
    assert metadata["name"] == "triton"
    assert "statistics" in metadata["extensions"]
    assert isinstance(metadata["version"], str)


def _success_count(statistics: dict[str, Any]) -> int:
    return int(statistics["model_stats"][0]["inference_stats"]["success"]["count"])


def test_statistics_count_what_was_served_in_the_http_form(url: str) -> None:
    with ServerClient(url) as server, ModelClient(url, "AddSubNB") as client:
        before = server.model_statistics("AddSubNB")
        a = np.ones(3, dtype=np.float32)
        for _ in range(3):
            client.infer_sample(a, a)
        # Triton counts a request once its response is released, which may be just after the client has
        # the answer (seen on a busy box: 2 of 3 counted at once): wait, bounded, for the third to count.
        deadline = time.monotonic() + 10
        after = server.model_statistics("AddSubNB", "1")
        while _success_count(after) - _success_count(before) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            after = server.model_statistics("AddSubNB", "1")
    [entry] = after["model_stats"]
    assert (entry["name"], entry["version"]) == ("AddSubNB", "1")
    for phase in PHASES:
        assert set(entry["inference_stats"][phase]) == {"count", "ns"}
        assert all(type(value) is int for value in entry["inference_stats"][phase].values())
    assert _success_count(after) - _success_count(before) == 3
    assert type(entry["inference_count"]) is int and type(entry["execution_count"]) is int
    assert isinstance(entry["batch_stats"], list)


def test_http_and_grpc_give_the_same_documents(triton_server: EmbeddedTriton) -> None:
    """gRPC answers are converted to the HTTP API's form: the same dicts, key for key."""
    with ServerClient(triton_server.http_url) as http, ServerClient(triton_server.grpc_url) as grpc:
        assert http.server_metadata() == grpc.server_metadata()
        for model in ("Linear", "AddSub", "streaming_bot", "StreamVersions", "Echo"):
            assert http.model_config(model) == grpc.model_config(model), model
            assert http.model_statistics(model) == grpc.model_statistics(model), model
        assert http.model_config("StreamVersions", "2") == grpc.model_config("StreamVersions", "2")


def test_raw_config_keeps_every_field_of_the_http_answer(triton_server: EmbeddedTriton) -> None:
    with ServerClient(triton_server.grpc_url) as server:
        config = server.model_config("streaming_bot")
    assert config["max_batch_size"] == 4
    assert config["input"][0]["dims"] == [1] and config["input"][0]["data_type"] == "TYPE_STRING"
    assert config["model_transaction_policy"] == {"decoupled": True}
    assert config["platform"] == "" and config["batch_input"] == []
    assert config["parameters"]["token_delay_ms"] == {"string_value": "0"}


def test_protobuf_answers_become_http_form_documents() -> None:
    """Pure: 64-bit ints as int, enums by name, defaults printed, unset sub-messages and oneof members left out."""
    from tritonclient.grpc import model_config_pb2, service_pb2

    from pytriton_client._protojson import message_to_dict

    config = model_config_pb2.ModelConfig(name="M", max_batch_size=0)
    config.input.add(name="x", data_type=model_config_pb2.TYPE_FP32, dims=[-1, 3])
    config.parameters["p"].string_value = "v"
    config.version_policy.latest.num_versions = 2
    document = message_to_dict(config)
    assert document["input"][0]["dims"] == [-1, 3] and document["input"][0]["data_type"] == "TYPE_FP32"
    assert document["input"][0]["format"] == "FORMAT_NONE" and document["input"][0]["optional"] is False
    assert document["max_batch_size"] == 0 and document["platform"] == "" and document["output"] == []
    assert document["parameters"] == {"p": {"string_value": "v"}}
    assert document["version_policy"] == {"latest": {"num_versions": 2}}
    assert "dynamic_batching" not in document and "model_transaction_policy" not in document
    stats = service_pb2.ModelStatisticsResponse()
    entry = stats.model_stats.add(name="M", version="1", inference_count=2**40)
    entry.inference_stats.success.count = 3
    converted = message_to_dict(stats)["model_stats"][0]
    assert converted["inference_count"] == 2**40 and converted["execution_count"] == 0
    assert converted["inference_stats"]["success"] == {"count": 3, "ns": 0}
    assert "queue" not in converted["inference_stats"]  # never set by this message, unlike the server's


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_closed_port_is_a_connection_error_naming_the_url(scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{free_port()}"
    with ServerClient(url, timeout_s=5) as server:
        started = time.monotonic()
        with pytest.raises(PyTritonClientConnectionError) as caught:
            server.model_statistics("Linear")
    assert time.monotonic() - started < 2
    assert url in str(caught.value) and "refused" in str(caught.value).lower()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_every_call_is_bounded_by_timeout_s(scheme: str, silent_port: int) -> None:
    with ServerClient(f"{scheme}://127.0.0.1:{silent_port}", timeout_s=0.4) as server:
        for call in (server.is_server_live, server.server_metadata, lambda: server.model_config("Linear")):
            started = time.monotonic()
            with pytest.raises(PyTritonClientTimeoutError, match=r"timeout 0.4 s"):
                call()
            assert 0.3 < time.monotonic() - started < 2


def test_unknown_model(url: str) -> None:
    with ServerClient(url) as server:
        with pytest.raises(PyTritonClientModelUnavailableError, match="Linaer"):
            server.model_config("Linaer")
        with pytest.raises(PyTritonClientError, match="Linaer"):
            server.model_statistics("Linaer")


def test_arguments_are_checked_at_once() -> None:
    with pytest.raises(PyTritonClientInvalidUrlError):
        ServerClient("ftp://h")
    with pytest.raises(PyTritonClientValueError, match="timeout_s must be a positive number"):
        ServerClient("grpc://h", timeout_s=0)
    with pytest.raises(PyTritonClientValueError, match="is not TLS"):
        ServerClient("http://h", tls_verify=False)
    server = ServerClient("grpc://h", access_token="s3cr3t")
    assert "s3cr3t" not in repr(server)
    with pytest.raises(PyTritonClientValueError, match="non-empty string"):
        server.model_config("")
    server.close()


# -- the client's own rules, over the in-memory transport ------------------------------------------------------
@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer()
    install(monkeypatch, server)
    return server


def test_each_call_gets_the_timeout_and_answers_pass_through(fake: FakeServer) -> None:
    with ServerClient("grpc://fake", timeout_s=3) as server:
        assert server.model_statistics("Double") is STATISTICS
        assert server.model_statistics("") is STATISTICS  # every model
        assert server.model_config("Double", "2")["name"] == "Double"
        assert server.is_server_live() and server.is_server_ready()
    assert fake.log == [
        ("model_statistics", ("Double", "", 3.0)),
        ("model_statistics", ("", "", 3.0)),
        ("model_config", ("Double", "2", 3.0)),
        ("server_live", (3.0,)),
        ("server_ready", (3.0,)),
    ]


def test_errors_surface_unchanged_and_closing_refuses_without_io(fake: FakeServer) -> None:
    server = ServerClient("http://fake")
    denied = PyTritonClientAuthorizationError("token")
    fake.fail_next("server_metadata", denied)
    with pytest.raises(PyTritonClientAuthorizationError) as caught:
        server.server_metadata()
    assert caught.value is denied
    server.close()
    server.close()
    calls = fake.calls.copy()
    for call in (server.is_server_live, server.server_metadata, lambda: server.model_statistics("Double")):
        with pytest.raises(PyTritonClientClosedError):
            call()
    assert fake.calls == calls and fake.closed == 1
