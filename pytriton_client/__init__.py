"""PyTriton-compatible clients for NVIDIA Triton Inference Server, built on ``tritonclient``.

Code written for ``pytriton.client`` runs after changing the import to ``pytriton_client``. Importing
this package loads no transport: ``tritonclient.http`` (and gevent) or ``tritonclient.grpc`` (and
grpc) are imported when the first client of that protocol is created.

Usage::

    from pytriton_client import ModelClient

    with ModelClient("localhost:8000", "Linear") as client:
        print(client.infer_batch(np.zeros((4, 2), dtype=np.float32)))
"""

from pytriton_client._asyncio import AsyncioDecoupledModelClient, AsyncioModelClient
from pytriton_client._decoupled import DecoupledModelClient
from pytriton_client._futures import FuturesModelClient
from pytriton_client._server import ServerClient
from pytriton_client._sync import ModelClient
from pytriton_client._wire import EncodedRequest
from pytriton_client.exceptions import (
    ERROR_KINDS,
    PyTritonClientAuthorizationError,
    PyTritonClientCancelledError,
    PyTritonClientClosedError,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientInferenceServerError,
    PyTritonClientInvalidUrlError,
    PyTritonClientModelDoesntSupportBatchingError,
    PyTritonClientModelUnavailableError,
    PyTritonClientQueueFullError,
    PyTritonClientTimeoutError,
    PyTritonClientValueError,
)
from pytriton_client.model_config import TensorSpec, TritonModelConfig
from pytriton_client.observer import RequestObserver, RequestRecord

__all__ = [
    "ERROR_KINDS",
    "AsyncioDecoupledModelClient",
    "AsyncioModelClient",
    "DecoupledModelClient",
    "EncodedRequest",
    "FuturesModelClient",
    "ModelClient",
    "PyTritonClientAuthorizationError",
    "PyTritonClientCancelledError",
    "PyTritonClientClosedError",
    "PyTritonClientConnectionError",
    "PyTritonClientError",
    "PyTritonClientInferenceServerError",
    "PyTritonClientInvalidUrlError",
    "PyTritonClientModelDoesntSupportBatchingError",
    "PyTritonClientModelUnavailableError",
    "PyTritonClientQueueFullError",
    "PyTritonClientTimeoutError",
    "PyTritonClientValueError",
    "RequestObserver",
    "RequestRecord",
    "ServerClient",
    "TensorSpec",
    "TritonModelConfig",
]
