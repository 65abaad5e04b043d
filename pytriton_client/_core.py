"""Client settings and the small pure rules every front shares.

Owns: constructor argument checks and defaults (timeouts, model version, access token, TLS
options) for the model clients and ``ServerClient`` alike, request ``parameters``/``headers``
rules, header merging, the batch-axis removal on outputs, the tensor and parameter type aliases
of the public signatures, and ``with`` support for the blocking clients. Pure: no I/O and no
transport imports (``_inputs``, ``_flow`` and ``_base`` hold the rest of the core).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from pytriton_client._url import TritonUrl
from pytriton_client.auth import create_auth_headers
from pytriton_client.exceptions import PyTritonClientValueError
from pytriton_client.observer import RequestObserver

Array = np.ndarray[Any, Any]
"""An input or output tensor."""
Params = dict[str, str | int | bool]
"""Request ``parameters`` and ``headers``: ``str`` keys, ``str``, ``int`` or ``bool`` values."""

DEFAULT_INIT_TIMEOUT_S = 300.0
DEFAULT_INFERENCE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TlsOptions:
    """TLS settings for ``https://`` and ``grpcs://`` URLs (system trust store by default)."""

    ca_file: str | None = None
    """PEM bundle of certificate authorities to trust instead of the system store."""
    cert_file: str | None = None
    """PEM client certificate (mutual TLS); needs ``key_file``."""
    key_file: str | None = None
    """PEM private key of ``cert_file``."""
    verify: bool = True
    """``False`` turns server certificate verification off (HTTPS only; never in production)."""


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client was configured with, checked once at construction."""

    url: TritonUrl
    model_name: str
    model_version: str
    """``""`` means the server's latest version."""
    init_timeout_s: float
    inference_timeout_s: float
    auth_headers: dict[str, str] | None = field(default=None, repr=False)
    tls: TlsOptions = field(default_factory=TlsOptions)
    observer: RequestObserver | None = None

    def __repr__(self) -> str:  # never shows the access token
        token = ", access_token=***" if self.auth_headers else ""
        return (
            f"ClientSettings(url={self.url.with_scheme!r}, model={self.model_name!r}, "
            f"version={self.model_version!r}, init_timeout_s={self.init_timeout_s:g}, "
            f"inference_timeout_s={self.inference_timeout_s:g}{token})"
        )


def _path(value: str | os.PathLike[str] | None, name: str) -> str | None:
    if value is None:
        return None
    path = os.fspath(value)
    if not os.path.isfile(path):
        raise PyTritonClientValueError(f"{name}={path!r} is not a readable file; give the path of a PEM file.")
    return path


def _timeout(value: float | None, default: float, name: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise PyTritonClientValueError(f"{name} must be a positive number of seconds, got {value!r}.")
    return float(value)


def _connection(
    url: str | TritonUrl,
    access_token: str | None,
    tls_ca_file: str | os.PathLike[str] | None,
    tls_cert_file: str | os.PathLike[str] | None,
    tls_key_file: str | os.PathLike[str] | None,
    tls_verify: bool,
) -> tuple[TritonUrl, dict[str, str] | None, TlsOptions]:
    """The URL, token header and TLS options every client (model or server) checks the same way."""
    parsed = url if isinstance(url, TritonUrl) else TritonUrl.from_url(url)
    if access_token is not None and (not isinstance(access_token, str) or not access_token):
        raise PyTritonClientValueError("access_token must be a non-empty string (or None for no token).")
    if (tls_cert_file is None) != (tls_key_file is None):
        raise PyTritonClientValueError("tls_cert_file and tls_key_file go together: give both or neither.")
    tls = TlsOptions(
        ca_file=_path(tls_ca_file, "tls_ca_file"),
        cert_file=_path(tls_cert_file, "tls_cert_file"),
        key_file=_path(tls_key_file, "tls_key_file"),
        verify=bool(tls_verify),
    )
    if (tls != TlsOptions()) and not parsed.tls:
        raise PyTritonClientValueError(
            f"TLS options were given but the URL {parsed.with_scheme!r} is not TLS; use https:// or grpcs://."
        )
    if not tls.verify and parsed.protocol == "grpc":
        raise PyTritonClientValueError(
            "tls_verify=False is not supported over gRPC; pass tls_ca_file with the server's CA certificate."
        )
    headers = create_auth_headers(access_token, parsed.protocol) if access_token else None
    return parsed, headers, tls


def make_settings(
    url: str | TritonUrl,
    model_name: str,
    model_version: str | None,
    *,
    init_timeout_s: float | None,
    inference_timeout_s: float | None,
    access_token: str | None,
    tls_ca_file: str | os.PathLike[str] | None = None,
    tls_cert_file: str | os.PathLike[str] | None = None,
    tls_key_file: str | os.PathLike[str] | None = None,
    tls_verify: bool = True,
    observer: RequestObserver | None = None,
) -> ClientSettings:
    """Check constructor arguments and build :class:`ClientSettings`; raises ``PyTritonClientValueError``."""
    parsed = url if isinstance(url, TritonUrl) else TritonUrl.from_url(url)
    if not isinstance(model_name, str) or not model_name:
        raise PyTritonClientValueError(f"model_name must be a non-empty string, got {model_name!r}.")
    if model_version is not None and not isinstance(model_version, str):
        raise PyTritonClientValueError(f"model_version must be a string such as '1' or None, got {model_version!r}.")
    parsed, headers, tls = _connection(parsed, access_token, tls_ca_file, tls_cert_file, tls_key_file, tls_verify)
    if observer is not None and not callable(observer):
        raise PyTritonClientValueError(f"observer must be callable, got {type(observer).__name__}.")
    return ClientSettings(
        url=parsed,
        model_name=model_name,
        model_version=model_version or "",
        init_timeout_s=_timeout(init_timeout_s, DEFAULT_INIT_TIMEOUT_S, "init_timeout_s"),
        inference_timeout_s=_timeout(inference_timeout_s, DEFAULT_INFERENCE_TIMEOUT_S, "inference_timeout_s"),
        auth_headers=headers,
        tls=tls,
        observer=observer,
    )


def server_settings(
    url: str,
    *,
    timeout_s: float | None,
    access_token: str | None,
    tls_ca_file: str | os.PathLike[str] | None,
    tls_cert_file: str | os.PathLike[str] | None,
    tls_key_file: str | os.PathLike[str] | None,
    tls_verify: bool,
) -> ClientSettings:
    """Settings of a client of the server itself (no model): one ``timeout_s`` bounds every call."""
    parsed, headers, tls = _connection(url, access_token, tls_ca_file, tls_cert_file, tls_key_file, tls_verify)
    limit_s = _timeout(timeout_s, DEFAULT_INFERENCE_TIMEOUT_S, "timeout_s")
    return ClientSettings(parsed, "", "", limit_s, limit_s, auth_headers=headers, tls=tls)


def check_parameters(value: Any, what: str) -> None:
    """``parameters``/``headers``: ``None`` or a dict of ``str`` → ``str``/``int``/``bool``."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise PyTritonClientValueError(f"{what} must be a dictionary (or None), got {type(value).__name__}.")
    for key, item in value.items():
        if not isinstance(key, str):
            raise PyTritonClientValueError(f"{what} key must be a string, got {key!r}.")
        if not isinstance(item, str | int | bool):
            raise PyTritonClientValueError(
                f"{what} value must be a string, integer or boolean; {key!r} is {type(item).__name__}."
            )


def merge_headers(base: Mapping[str, str] | None, call: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Client headers (the access token) overlaid by per-call headers; ``None`` when both are empty."""
    if not call:
        return dict(base) if base else None
    if not base:
        return dict(call)
    return {**base, **call}


def debatch(outputs: dict[str, Any]) -> dict[str, Any]:
    """Drop the leading batch axis of every output (``infer_sample`` on a batching model)."""
    return {name: array[0] for name, array in outputs.items()}


_Closing = TypeVar("_Closing", bound="ClosingContext")


class ClosingContext:
    """``with`` support for the blocking clients: leaving the block calls ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Closing) -> _Closing:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def within(awaitable: Any, timeout_s: float) -> Any:
    """Await ``awaitable`` with a deadline (``asyncio.timeout`` where available: no extra task)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout_s):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout_s)  # pragma: no cover - Python 3.10


__all__ = [
    "DEFAULT_INFERENCE_TIMEOUT_S",
    "DEFAULT_INIT_TIMEOUT_S",
    "Array",
    "ClientSettings",
    "ClosingContext",
    "Params",
    "TlsOptions",
    "check_parameters",
    "debatch",
    "make_settings",
    "merge_headers",
    "server_settings",
    "within",
]
