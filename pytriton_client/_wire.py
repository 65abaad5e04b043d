"""Wire forms of inference requests: encoded once, sent many times (the fast request path).

Owns turning a planned :class:`~pytriton_client._transport.InferRequest` into the exact bytes Triton
receives, and reading an answer only as far as a caller needs:

- HTTP: one message, request line and headers included (``Host``, ``Content-Length``,
  ``Inference-Header-Content-Length``, the request's headers), then the JSON inference header and the
  input tensors in Triton's binary-tensor extension; outputs are asked for in binary form;
- gRPC: a serialized ``inference.ModelInferRequest`` with the tensors in ``raw_input_contents``.

The sync transports use the same encoders and decoders for every request (built from the arrays each
time), and ``ModelClient.infer_encoded`` sends one encoded message many times; an
:class:`EncodedRequest` carries no request id. Pure: never does I/O and never imports a transport
module (``tritonclient.utils`` only, for its dtype tables and BYTES decoding); ``grpc_message``
imports tritonclient's generated protobuf classes on first use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
from tritonclient.utils import deserialize_bytes_tensor, triton_to_np_dtype

from pytriton_client._inputs import PreparedInput, payload_bytes
from pytriton_client._transport import InferRequest
from pytriton_client.exceptions import PyTritonClientValueError

HEADER_LENGTH = "Inference-Header-Content-Length"
"""Triton's HTTP header giving the size of the JSON part of a binary-tensor body."""
USER_AGENT = "pytriton-client"


@dataclass(frozen=True, slots=True)
class EncodedRequest:
    """One inference request in its wire form, ready to be sent as it is (any number of times).

    Made by ``ModelClient.encode_sample`` / ``encode_batch``; sent by ``ModelClient.infer_encoded`` of a
    client with the same URL, protocol and model.
    """

    protocol: str
    """``"http"`` or ``"grpc"``: the wire form below."""
    model_name: str
    message: bytes
    """HTTP: the whole request message (head and body). gRPC: the serialized ``ModelInferRequest``."""
    bytes_sent: int
    """Bytes of input tensor data (BYTES elements counted by length), as the observer reports them."""
    method: str
    """``"infer_sample"`` or ``"infer_batch"``: what the observer's record says."""
    debatch: bool
    """Decoded outputs lose their batch axis (``infer_sample`` on a batching model)."""
    metadata: tuple[tuple[str, str], ...] = ()
    """gRPC: the call's metadata (the token and the request's headers); HTTP carries them in ``message``."""


def tensor_bytes(array: np.ndarray[Any, Any], datatype: str) -> bytes:
    """One tensor's raw contents as Triton's binary form has them (BYTES: 4-byte little-endian lengths)."""
    if datatype != "BYTES":
        return np.ascontiguousarray(array).tobytes()
    parts = []
    for item in array.reshape(-1):
        data = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(len(data).to_bytes(4, "little"))
        parts.append(data)
    return b"".join(parts)


def http_infer_path(model_name: str, model_version: str) -> str:
    """The inference endpoint of a model version (``""``: the server's choice)."""
    if model_version:
        return f"/v2/models/{quote(model_name)}/versions/{quote(model_version)}/infer"
    return f"/v2/models/{quote(model_name)}/infer"


def http_body(
    inputs: list[PreparedInput], parameters: Mapping[str, Any] | None, request_id: str = ""
) -> tuple[bytes, int]:
    """The binary-tensor body of an inference request and the length of its JSON header."""
    tensors = []
    raw = []
    for name, array, datatype in inputs:
        data = tensor_bytes(array, datatype)
        tensors.append(
            {
                "name": name,
                "shape": [int(d) for d in array.shape],
                "datatype": datatype,
                "parameters": {"binary_data_size": len(data)},
            }
        )
        raw.append(data)
    document: dict[str, Any] = {"id": request_id} if request_id else {}
    document["inputs"] = tensors
    document["parameters"] = {"binary_data_output": True, **(parameters or {})}
    header = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return header + b"".join(raw), len(header)


def _header_line(name: str, value: Any) -> str:
    text = str(value)  # as geventhttpclient writes a value tritonclient hands it
    if any(ch in name + text for ch in "\r\n\0") or not name or ":" in name:
        raise PyTritonClientValueError(f"Header {name!r} cannot be sent over HTTP (control characters or ':').")
    return f"{name}: {text}\r\n"


def http_message(request: InferRequest, host: str) -> bytes:
    """``request`` as one HTTP/1.1 message for the server at ``host`` (``host:port``, the ``Host`` header).

    Raises:
        PyTritonClientValueError: a header cannot be written on an HTTP request line.
    """
    body, header_length = http_body(request.inputs, request.parameters, request.request_id)
    lines = [
        f"POST {http_infer_path(request.model_name, request.model_version)} HTTP/1.1\r\n",
        f"Host: {host}\r\n",
        f"User-Agent: {USER_AGENT}\r\n",
        f"Content-Length: {len(body)}\r\n",
        f"{HEADER_LENGTH}: {header_length}\r\n",
    ]
    reserved = {"host", "content-length", HEADER_LENGTH.lower(), "transfer-encoding", "connection"}
    for name, value in (request.headers or {}).items():
        if name.lower() in reserved:
            raise PyTritonClientValueError(f"Header {name!r} is set by the client and cannot be given.")
        lines.append(_header_line(name, value))
    head = "".join(lines) + "\r\n"
    return head.encode("latin-1") + body


def _set_parameter(message: Any, key: str, value: Any) -> None:
    parameter = message.parameters[key]
    if isinstance(value, bool):
        parameter.bool_param = value
    elif isinstance(value, int):
        parameter.int64_param = value
    elif isinstance(value, float):
        parameter.double_param = value
    else:
        parameter.string_param = str(value)


def grpc_message(request: InferRequest) -> bytes:
    """``request`` as a serialized ``inference.ModelInferRequest`` (tensors in ``raw_input_contents``)."""
    from tritonclient.grpc import service_pb2

    message = service_pb2.ModelInferRequest(model_name=request.model_name, model_version=request.model_version)
    if request.request_id:
        message.id = request.request_id
    for name, array, datatype in request.inputs:
        tensor = message.inputs.add()
        tensor.name = name
        tensor.datatype = datatype
        tensor.shape.extend(int(d) for d in array.shape)
        message.raw_input_contents.append(tensor_bytes(array, datatype))
    for key, value in (request.parameters or {}).items():
        _set_parameter(message, key, value)
    data: bytes = message.SerializeToString()
    return data


def grpc_metadata(request: InferRequest) -> tuple[tuple[str, str], ...]:
    """The request's headers as gRPC metadata (keys lower-case, as gRPC requires)."""
    return tuple((name.lower(), str(value)) for name, value in (request.headers or {}).items())


def encoded(request: InferRequest, protocol: str, message: bytes, method: str, *, debatch: bool) -> EncodedRequest:
    """The :class:`EncodedRequest` of ``request`` with its wire ``message``."""
    metadata = grpc_metadata(request) if protocol == "grpc" else ()
    bytes_sent = payload_bytes(request.inputs)
    return EncodedRequest(protocol, request.model_name, message, bytes_sent, method, debatch, metadata)


def parse_json(data: bytes) -> Any:
    """A JSON document from an answer's bytes."""
    return json.loads(data)


def _tensor(datatype: str, shape: list[int], raw: bytes | memoryview) -> np.ndarray[Any, Any]:
    if datatype == "BYTES":
        array = deserialize_bytes_tensor(bytes(raw)) if len(raw) else np.empty(0, dtype=object)
    else:
        array = np.frombuffer(raw, dtype=triton_to_np_dtype(datatype))
    return array.reshape(shape)


def http_outputs_of(header_length: int | None, body: bytes) -> dict[str, np.ndarray[Any, Any]]:
    """The outputs of an HTTP inference answer (JSON header, then binary tensors), in answer order,
    decoded as tritonclient decodes them (binary tensors, or JSON ``data``)."""
    document = json.loads(body[:header_length] if header_length is not None else body)
    view = memoryview(body)
    offset = header_length or 0
    outputs: dict[str, np.ndarray[Any, Any]] = {}
    for output in document.get("outputs") or ():
        datatype, shape = output["datatype"], output["shape"]
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is None:
            outputs[output["name"]] = np.array(output["data"], dtype=triton_to_np_dtype(datatype)).reshape(shape)
            continue
        outputs[output["name"]] = _tensor(datatype, shape, view[offset : offset + size])
        offset += size
    return outputs


def grpc_outputs_of(response: Any) -> dict[str, np.ndarray[Any, Any]]:
    """The outputs of a ``ModelInferResponse``, in answer order, decoded as tritonclient decodes them."""
    raw = response.raw_output_contents
    outputs: dict[str, np.ndarray[Any, Any]] = {}
    for index, output in enumerate(response.outputs):
        shape = list(output.shape)
        if index < len(raw):
            outputs[output.name] = _tensor(output.datatype, shape, raw[index])
        elif len(output.contents.bytes_contents):
            outputs[output.name] = np.array(output.contents.bytes_contents).reshape(shape)
        else:
            outputs[output.name] = np.empty(0, dtype=triton_to_np_dtype(output.datatype)).reshape(shape)
    return outputs


__all__ = [
    "HEADER_LENGTH",
    "EncodedRequest",
    "encoded",
    "grpc_message",
    "grpc_metadata",
    "grpc_outputs_of",
    "http_body",
    "http_infer_path",
    "http_message",
    "http_outputs_of",
    "parse_json",
    "tensor_bytes",
]
