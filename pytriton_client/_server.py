"""``ServerClient``: what a Triton server says about itself, over the model clients' own connection code.

Owns the blocking calls about the server rather than one model's inferences: health, server
metadata, a model's raw configuration and Triton's statistics extension, each bounded by one
``timeout_s`` and answered in the HTTP API's JSON form over HTTP and gRPC alike. URL rules, TLS,
access tokens and error translation are the model clients' (``_core``, ``_transport``); nothing
here is protocol-specific. Never runs inferences and never records latencies.
"""

from __future__ import annotations

import os
from typing import Any

from pytriton_client import _transport
from pytriton_client._core import DEFAULT_INFERENCE_TIMEOUT_S, ClosingContext, server_settings
from pytriton_client.exceptions import PyTritonClientClosedError, PyTritonClientValueError


class ServerClient(ClosingContext):
    """Blocking client for a Triton server's health, metadata, model configurations and statistics.

    Answers are JSON-like dicts in the form of Triton's HTTP API, whatever the protocol (gRPC
    answers are converted: same keys, numbers as ``int``, default values present), so code reading
    them works over both. Every call is bounded by ``timeout_s``. Not thread-safe, and over HTTP bound
    to the thread that first uses it (as ``ModelClient``).

    Usage::

        with ServerClient("grpc://localhost:8001") as server:
            print(server.server_metadata()["version"])
            stats = server.model_statistics("Linear")
            print(stats["model_stats"][0]["inference_stats"]["success"]["count"])

    Args:
        url: ``http://``, ``https://``, ``grpc://`` or ``grpcs://`` address; no scheme means HTTP.
        access_token: token sent on every call (for servers with restricted APIs).
        tls_ca_file: PEM CA bundle for ``https``/``grpcs`` (system trust store when ``None``).
        tls_cert_file: PEM client certificate for mutual TLS (with ``tls_key_file``).
        tls_key_file: PEM private key of ``tls_cert_file``.
        tls_verify: ``False`` disables certificate verification (HTTPS only).
        timeout_s: deadline of each call (60 s).

    Raises:
        PyTritonClientInvalidUrlError: the URL cannot be used.
        PyTritonClientValueError: another argument is invalid.
    """

    def __init__(
        self,
        url: str,
        *,
        access_token: str | None = None,
        tls_ca_file: str | os.PathLike[str] | None = None,
        tls_cert_file: str | os.PathLike[str] | None = None,
        tls_key_file: str | os.PathLike[str] | None = None,
        tls_verify: bool = True,
        timeout_s: float = DEFAULT_INFERENCE_TIMEOUT_S,
    ) -> None:
        self._settings = server_settings(
            url,
            timeout_s=timeout_s,
            access_token=access_token,
            tls_ca_file=tls_ca_file,
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            tls_verify=tls_verify,
        )
        self._timeout_s = self._settings.inference_timeout_s
        self._closed = False
        self._transport = _transport.make_sync_transport(self._settings)

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"ServerClient(url={self._settings.url.with_scheme!r}{state})"

    @property
    def url(self) -> str:
        """The server's URL with its scheme (``grpc://host:8001``)."""
        return self._settings.url.with_scheme

    @property
    def protocol(self) -> str:
        """``"http"`` or ``"grpc"``."""
        return self._settings.url.protocol

    def _open(self) -> _transport.SyncTransport:
        if self._closed:
            raise PyTritonClientClosedError("ServerClient is closed")
        return self._transport

    def is_server_live(self) -> bool:
        """Whether the server answers its liveness check.

        Raises:
            PyTritonClientConnectionError: the server cannot be reached.
            PyTritonClientTimeoutError: no answer within ``timeout_s``.
        """
        return self._open().server_live(self._timeout_s)

    def is_server_ready(self) -> bool:
        """Whether the server is live and ready (raises as :meth:`is_server_live`)."""
        return self._open().server_ready(self._timeout_s)

    def server_metadata(self) -> dict[str, Any]:
        """The server's metadata: ``{"name": ..., "version": ..., "extensions": [...]}``."""
        return self._open().server_metadata(self._timeout_s)

    def model_config(self, model: str, version: str | None = None) -> dict[str, Any]:
        """The model's configuration as Triton's HTTP API returns it (``{"name": ..., "input": [...], ...}``).

        Raises:
            PyTritonClientValueError: ``model`` is not a non-empty string.
            PyTritonClientInferenceServerError: the server does not know the model (or another server error).
        """
        return self._open().model_config(*_model(model, version, allow_all=False), self._timeout_s)

    def model_statistics(self, model: str, version: str | None = None) -> dict[str, Any]:
        """Triton's statistics extension for ``model`` (every version unless ``version``; ``""``: every model).

        The answer is ``{"model_stats": [...]}`` with one entry per model version: ``name``,
        ``version``, ``last_inference``, ``inference_count``, ``execution_count``,
        ``inference_stats`` (``success``, ``fail``, ``queue``, ``compute_input``, ``compute_infer``,
        ``compute_output``, ... each ``{"count": int, "ns": int}``) and ``batch_stats``.

        Raises:
            PyTritonClientInferenceServerError: the server does not know the model (or another server error).
        """
        return self._open().model_statistics(*_model(model, version, allow_all=True), self._timeout_s)

    def close(self) -> None:
        """Close the connection; idempotent. Later calls raise :class:`PyTritonClientClosedError`."""
        if not self._closed:
            self._closed = True
            self._transport.close()


def _model(model: str, version: str | None, *, allow_all: bool) -> tuple[str, str]:
    if not isinstance(model, str) or not (model or allow_all):
        raise PyTritonClientValueError(f"model must be a non-empty string, got {model!r}.")
    if version is not None and not isinstance(version, str):
        raise PyTritonClientValueError(f"version must be a string such as '1' or None, got {version!r}.")
    return model, version or ""


__all__ = ["ServerClient"]
