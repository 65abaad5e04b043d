"""URL error texts in full (pure): what a user reads when an address is wrong."""

from __future__ import annotations

import pytest

from pytriton_client._url import TritonUrl
from pytriton_client.exceptions import PyTritonClientInvalidUrlError


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("   ", "Invalid url '': give the server address, e.g. 'localhost:8000'."),
        ("ftp://h", "Invalid url 'ftp://h': unsupported scheme 'ftp'; use http, https, grpc or grpcs."),
        ("grpc://:1", "Invalid url 'grpc://:1': no host name; e.g. 'grpc://localhost'."),
        ("h:0", "Invalid url 'h:0': the port must be a number from 1 to 65535."),
        (7, "Invalid url 7: url must be a string such as 'http://localhost:8000' or 'grpc://localhost:8001'."),
    ],
)
def test_messages(url: object, message: str) -> None:
    with pytest.raises(PyTritonClientInvalidUrlError) as caught:
        TritonUrl.from_url(url)
    assert str(caught.value) == message
