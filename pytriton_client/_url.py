"""URL rules: scheme, host, port and TLS of a Triton endpoint.

Owns parsing a user's URL into the ``host:port`` that ``tritonclient`` takes plus the protocol and
whether TLS is used. Pure: never resolves names or opens sockets.

Rules: ``http``, ``https``, ``grpc`` and ``grpcs`` (any case); no scheme means ``http`` whatever the
port; default ports are 8000 (http), 443 (https) and 8001 (grpc, grpcs); path, query and user info
are dropped; the host is lower-cased; IPv6 hosts keep their brackets in ``host:port``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from pytriton_client.exceptions import PyTritonClientInvalidUrlError

DEFAULT_PORTS: dict[str, int] = {"http": 8000, "https": 443, "grpc": 8001, "grpcs": 8001}
_PROTOCOLS: dict[str, str] = {"http": "http", "https": "http", "grpc": "grpc", "grpcs": "grpc"}


@dataclass(frozen=True)
class TritonUrl:
    """A parsed Triton endpoint URL."""

    scheme: str
    """``http``, ``https``, ``grpc`` or ``grpcs``."""
    hostname: str
    """Host name or address, lower-cased, without IPv6 brackets."""
    port: int
    """TCP port."""

    @property
    def protocol(self) -> str:
        """``"http"`` or ``"grpc"``."""
        return _PROTOCOLS[self.scheme]

    @property
    def tls(self) -> bool:
        """Whether the scheme asks for TLS (``https``, ``grpcs``)."""
        return self.scheme in ("https", "grpcs")

    @property
    def without_scheme(self) -> str:
        """``host:port`` as ``tritonclient`` expects it (IPv6 hosts in brackets)."""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{host}:{self.port}"

    @property
    def with_scheme(self) -> str:
        """``scheme://host:port``."""
        return f"{self.scheme}://{self.without_scheme}"

    def __str__(self) -> str:
        return self.with_scheme

    @classmethod
    def from_url(cls, url: object) -> TritonUrl:
        """Parse ``url``; raises :class:`PyTritonClientInvalidUrlError` naming what to change."""
        if not isinstance(url, str):
            raise PyTritonClientInvalidUrlError(
                f"Invalid url {url!r}: url must be a string such as 'http://localhost:8000' or 'grpc://localhost:8001'."
            )
        text = url.strip()
        if not text:
            raise PyTritonClientInvalidUrlError("Invalid url '': give the server address, e.g. 'localhost:8000'.")
        if "://" not in text:
            text = f"http://{text}"
        try:
            parts = urllib.parse.urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise PyTritonClientInvalidUrlError(
                f"Invalid url {url!r}: the port must be a number from 1 to 65535 ({exc})."
            ) from exc
        scheme = parts.scheme.lower()
        if scheme not in _PROTOCOLS:
            raise PyTritonClientInvalidUrlError(
                f"Invalid url {url!r}: unsupported scheme {parts.scheme!r}; use http, https, grpc or grpcs."
            )
        if not parts.hostname:
            raise PyTritonClientInvalidUrlError(f"Invalid url {url!r}: no host name; e.g. '{scheme}://localhost'.")
        if port == 0:
            raise PyTritonClientInvalidUrlError(f"Invalid url {url!r}: the port must be a number from 1 to 65535.")
        return cls(scheme=scheme, hostname=parts.hostname.lower(), port=port or DEFAULT_PORTS[scheme])


__all__ = ["DEFAULT_PORTS", "TritonUrl"]
