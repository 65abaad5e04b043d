"""Connection settings of one target model, shared by the users, the preflight and the stats poller.

Owns the mapping from a resolved target to ``pytriton_client`` keyword arguments. Holds the access
token in memory only; it is excluded from ``repr`` and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClientOptions:
    """How to reach one model."""

    url: str
    model: str
    version: str | None = None
    init_timeout_s: float = 60.0
    inference_timeout_s: float = 60.0
    access_token: str | None = field(default=None, repr=False)
    tls: Mapping[str, Any] = field(default_factory=dict)
    """``tls_ca_file``, ``tls_cert_file``, ``tls_key_file``, ``tls_verify`` as the clients take them."""

    @property
    def protocol(self) -> str:
        """``"grpc"`` or ``"http"`` (from the URL scheme)."""
        return "grpc" if self.url.lower().startswith(("grpc://", "grpcs://")) else "http"

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments every client class takes."""
        extra: dict[str, Any] = dict(self.tls)
        if self.access_token:
            extra["access_token"] = self.access_token
        return {"init_timeout_s": self.init_timeout_s, "inference_timeout_s": self.inference_timeout_s, **extra}
