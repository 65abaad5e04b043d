"""Access-token headers for Triton's restricted endpoints.

Owns the header names a token travels in (HTTP header / gRPC metadata key). Pure. Tokens are
never logged or put into messages.
"""

from __future__ import annotations

from collections.abc import Mapping

HTTP_TOKEN_HEADER = "triton-access-token"
GRPC_TOKEN_HEADER = "triton-grpc-protocol-triton-access-token"


def create_auth_headers(access_token: str | None, protocol: str) -> dict[str, str]:
    """Headers carrying ``access_token`` for ``protocol`` (``"http"`` or ``"grpc"``, any case).

    Raises:
        ValueError: the token is empty or the protocol unknown.
    """
    if not access_token:
        raise ValueError("access_token must be a non-empty string")
    key = protocol.lower()
    if key == "http":
        return {HTTP_TOKEN_HEADER: access_token}
    if key == "grpc":
        return {GRPC_TOKEN_HEADER: access_token}
    raise ValueError(f"protocol must be 'http' or 'grpc', not {protocol!r}")


def extract_access_token_from_headers(headers: Mapping[str, str] | None) -> str | None:
    """The access token found in ``headers`` (HTTP or gRPC form), or ``None``.

    Raises:
        ValueError: both forms are present with different values.
    """
    if not headers:
        return None
    http_token = headers.get(HTTP_TOKEN_HEADER)
    grpc_token = headers.get(GRPC_TOKEN_HEADER)
    if http_token and grpc_token and http_token != grpc_token:
        raise ValueError("Conflicting authentication headers: the HTTP and gRPC access tokens differ")
    return http_token or grpc_token


__all__ = ["GRPC_TOKEN_HEADER", "HTTP_TOKEN_HEADER", "create_auth_headers", "extract_access_token_from_headers"]
