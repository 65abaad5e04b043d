"""URL rules (pure): schemes, default ports, IPv6, TLS schemes, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytriton_client._url import TritonUrl
from pytriton_client.exceptions import PyTritonClientInvalidUrlError, PyTritonClientValueError


@pytest.mark.parametrize(
    ("url", "expected", "protocol", "tls"),
    [
        ("localhost", "http://localhost:8000", "http", False),
        ("localhost:8001", "http://localhost:8001", "http", False),  # no scheme means HTTP whatever the port
        ("grpc://localhost", "grpc://localhost:8001", "grpc", False),
        ("GRPC://Host:1/path?q=1", "grpc://host:1", "grpc", False),
        ("http://user:pw@example.com:81/x", "http://example.com:81", "http", False),
        ("https://triton.example", "https://triton.example:443", "http", True),
        ("grpcs://triton.example", "grpcs://triton.example:8001", "grpc", True),
        ("[::1]:8001", "http://[::1]:8001", "http", False),
        ("grpc://[::1]", "grpc://[::1]:8001", "grpc", False),
        ("  localhost:9000  ", "http://localhost:9000", "http", False),
    ],
)
def test_url_table(url: str, expected: str, protocol: str, tls: bool) -> None:
    parsed = TritonUrl.from_url(url)
    assert parsed.with_scheme == expected
    assert parsed.protocol == protocol
    assert parsed.tls is tls
    assert parsed.without_scheme == expected.split("://", 1)[1]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://h", "unsupported scheme 'ftp'; use http, https, grpc or grpcs"),
        ("unix:///tmp/s", "unsupported scheme 'unix'"),
        ("http://h:abc", "port must be a number"),
        ("h:99999", "port must be a number"),
        ("h:0", "port must be a number"),
        ("grpc:localhost", "port must be a number"),
        ("", "give the server address"),
        ("http://:80", "no host name"),
        (None, "url must be a string"),
        (8000, "url must be a string"),
        (["localhost"], "url must be a string"),
    ],
)
def test_invalid_urls_say_what_to_change(url: object, message: str) -> None:
    with pytest.raises(PyTritonClientInvalidUrlError, match=message) as caught:
        TritonUrl.from_url(url)
    assert isinstance(caught.value, PyTritonClientValueError)


def test_bad_port_keeps_the_parser_error_as_cause() -> None:
    with pytest.raises(PyTritonClientInvalidUrlError) as caught:
        TritonUrl.from_url("http://h:abc")
    assert isinstance(caught.value.__cause__, ValueError)


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)


@given(scheme=st.sampled_from(["http", "https", "grpc", "grpcs"]), host=hosts, port=st.integers(1, 65535))
def test_parse_and_print_round_trip(scheme: str, host: str, port: int) -> None:
    parsed = TritonUrl.from_url(f"{scheme}://{host}:{port}")
    assert (parsed.scheme, parsed.hostname, parsed.port) == (scheme, host, port)
    assert TritonUrl.from_url(parsed.with_scheme) == parsed
