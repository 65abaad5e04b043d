"""Constructor arguments (pure): defaults, checks, and that tokens never show."""

from __future__ import annotations

import pytest

from pytriton_client._core import make_settings, merge_headers
from pytriton_client.exceptions import PyTritonClientInvalidUrlError, PyTritonClientValueError

SECRET = "s3cr3t-t0ken"


def settings(**kwargs: object) -> object:
    base: dict[str, object] = {"init_timeout_s": None, "inference_timeout_s": None, "access_token": None}
    base.update(kwargs)
    url = base.pop("url", "grpc://localhost")
    return make_settings(url, "M", None, **base)  # type: ignore[arg-type]


def test_default_timeouts_are_300_and_60_seconds() -> None:
    s = settings()
    assert (s.init_timeout_s, s.inference_timeout_s) == (300.0, 60.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [0, -1, "5", True])
def test_bad_timeouts_are_rejected(value: object) -> None:
    with pytest.raises(PyTritonClientValueError, match="inference_timeout_s must be a positive number"):
        settings(inference_timeout_s=value)


def test_token_goes_to_the_scheme_specific_header_and_never_into_repr() -> None:
    grpc = settings(access_token=SECRET)
    http = settings(access_token=SECRET, url="http://localhost")
    assert grpc.auth_headers == {"triton-grpc-protocol-triton-access-token": SECRET}  # type: ignore[attr-defined]
    assert http.auth_headers == {"triton-access-token": SECRET}  # type: ignore[attr-defined]
    assert SECRET not in repr(grpc) and "***" in repr(grpc)


def test_empty_token_is_rejected() -> None:
    with pytest.raises(PyTritonClientValueError, match="access_token must be a non-empty string"):
        settings(access_token="")


def test_tls_options_need_a_tls_url_and_files(tmp_path: object) -> None:
    with pytest.raises(PyTritonClientValueError, match="not a readable file"):
        settings(url="grpcs://h", tls_ca_file="/nonexistent/ca.pem")
    with pytest.raises(PyTritonClientValueError, match="is not TLS; use https:// or grpcs://"):
        settings(url="grpc://h", tls_verify=False)
    with pytest.raises(PyTritonClientValueError, match="not supported over gRPC"):
        settings(url="grpcs://h", tls_verify=False)
    with pytest.raises(PyTritonClientValueError, match="go together"):
        settings(url="https://h", tls_cert_file=__file__)


def test_invalid_url_fails_at_construction() -> None:
    with pytest.raises(PyTritonClientInvalidUrlError):
        settings(url="ftp://h")


def test_per_call_headers_override_the_token() -> None:
    base = {"triton-access-token": "a"}
    assert merge_headers(base, None) == base
    assert merge_headers(None, None) is None
    assert merge_headers(base, {"triton-access-token": "b", "x": 1}) == {"triton-access-token": "b", "x": 1}


def test_auth_helpers() -> None:
    from pytriton_client.auth import create_auth_headers, extract_access_token_from_headers

    assert create_auth_headers("t", "HTTP") == {"triton-access-token": "t"}
    assert create_auth_headers("t", "grpc") == {"triton-grpc-protocol-triton-access-token": "t"}
    for token, protocol in (("", "http"), (None, "http"), ("t", "ftp")):
        with pytest.raises(ValueError):
            create_auth_headers(token, protocol)
    assert extract_access_token_from_headers(None) is None
    assert extract_access_token_from_headers({"triton-grpc-protocol-triton-access-token": "g"}) == "g"
    with pytest.raises(ValueError, match="Conflicting"):
        extract_access_token_from_headers({"triton-access-token": "a", "triton-grpc-protocol-triton-access-token": "b"})
