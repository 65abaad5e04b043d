"""TLS: gRPC through Triton's own SSL options, HTTPS through a TLS-terminating forwarder; certificates made here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from loadtest.embedded import EmbeddedTriton
from pytriton_client import (
    AsyncioDecoupledModelClient,
    AsyncioModelClient,
    DecoupledModelClient,
    FuturesModelClient,
    ModelClient,
    PyTritonClientConnectionError,
    PyTritonClientError,
    PyTritonClientValueError,
    ServerClient,
)
from tests.client.tls import Certificates, TlsForwarder, make_certificates

X = np.ones(2, dtype=np.float32)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def grpc_tls_server(certs: Certificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    server = EmbeddedTriton(
        models=["Linear", "streaming_bot"],
        grpc_tls=True,
        extra_args=[
            "--grpc-use-ssl=true",
            f"--grpc-server-cert={certs.server_cert}",
            f"--grpc-server-key={certs.server_key}",
            f"--grpc-root-cert={certs.ca}",
        ],
        work_dir=tmp_path_factory.mktemp("grpc-tls"),
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def https_url(triton_server: EmbeddedTriton, certs: Certificates) -> Iterator[str]:
    forwarder = TlsForwarder(triton_server.http_port, certs).start()
    yield f"https://127.0.0.1:{forwarder.port}"
    forwarder.stop()


@pytest.fixture(scope="module")
def mtls_url(triton_server: EmbeddedTriton, certs: Certificates) -> Iterator[str]:
    forwarder = TlsForwarder(triton_server.http_port, certs, require_client_cert=True).start()
    yield f"https://127.0.0.1:{forwarder.port}"
    forwarder.stop()


def _all_fronts_work(url: str, **tls: object) -> None:
    with ModelClient(url, "Linear", **tls) as client:  # type: ignore[arg-type]
        assert client.infer_sample(X)["OUTPUT_1"].shape == (3,)
        decoded = client.infer_encoded(client.encode_sample(X), decode=True)  # the fast path's own connection
        assert decoded is not None and decoded["OUTPUT_1"].shape == (3,)
    with FuturesModelClient(url, "Linear", **tls) as futures:  # type: ignore[arg-type]
        assert futures.infer_sample(X).result(30)["OUTPUT_1"].shape == (3,)

    async def main() -> None:
        async with AsyncioModelClient(url, "Linear", **tls) as client:  # type: ignore[arg-type]
            assert (await client.infer_sample(X))["OUTPUT_1"].shape == (3,)

    asyncio.run(main())


def test_grpcs_with_the_test_ca(grpc_tls_server: EmbeddedTriton, certs: Certificates) -> None:
    assert grpc_tls_server.grpc_url.startswith("grpcs://")
    _all_fronts_work(grpc_tls_server.grpc_url, tls_ca_file=certs.ca)


def test_grpcs_decoupled_clients(grpc_tls_server: EmbeddedTriton, certs: Certificates) -> None:
    prompt = np.array([b"hi"])
    with DecoupledModelClient(grpc_tls_server.grpc_url, "streaming_bot", tls_ca_file=certs.ca) as client:
        assert len(list(client.infer_sample(prompt, parameters={"tokens": 1}))) == 2

    async def main() -> int:
        client = AsyncioDecoupledModelClient(grpc_tls_server.grpc_url, "streaming_bot", tls_ca_file=certs.ca)
        try:
            return len([r async for r in client.infer_sample(prompt, parameters={"tokens": 1})])
        finally:
            await client.close()

    assert asyncio.run(main()) == 2


def test_grpcs_with_an_untrusted_certificate_fails_clearly(grpc_tls_server: EmbeddedTriton) -> None:
    with (
        ModelClient(grpc_tls_server.grpc_url, "Linear", init_timeout_s=1) as client,
        pytest.raises(PyTritonClientConnectionError, match=r"grpcs://127\.0\.0\.1"),
    ):
        client.infer_sample(X)


def test_plain_grpc_against_a_tls_port_fails_clearly(grpc_tls_server: EmbeddedTriton) -> None:
    url = grpc_tls_server.grpc_url.replace("grpcs://", "grpc://")
    with ModelClient(url, "Linear", init_timeout_s=1) as client, pytest.raises(PyTritonClientError):
        client.infer_sample(X)


def test_https_with_the_test_ca(https_url: str, certs: Certificates) -> None:
    _all_fronts_work(https_url, tls_ca_file=certs.ca)


def test_https_without_verification_when_asked(https_url: str) -> None:
    _all_fronts_work(https_url, tls_verify=False)


def test_https_with_an_untrusted_certificate_fails_clearly(https_url: str) -> None:
    with (
        ModelClient(https_url, "Linear", init_timeout_s=1) as client,
        pytest.raises(PyTritonClientConnectionError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"),
    ):
        client.infer_sample(X)


def test_https_mutual_tls_needs_the_client_certificate(mtls_url: str, certs: Certificates) -> None:
    _all_fronts_work(mtls_url, tls_ca_file=certs.ca, tls_cert_file=certs.client_cert, tls_key_file=certs.client_key)
    with (
        ModelClient(mtls_url, "Linear", tls_ca_file=certs.ca, init_timeout_s=1) as client,
        pytest.raises(PyTritonClientConnectionError),
    ):
        client.infer_sample(X)


def test_tls_paths_are_checked_at_construction(tmp_path: Path) -> None:
    with pytest.raises(PyTritonClientError, match="not a readable file"):
        ModelClient("grpcs://127.0.0.1", "Linear", tls_ca_file=tmp_path / "missing.pem")


@pytest.mark.parametrize("scheme", ["https", "grpcs"])
def test_a_tls_file_that_is_not_pem_is_a_clear_error(tmp_path: Path, scheme: str) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(PyTritonClientValueError, match=r"Cannot set up TLS for .*Check tls_ca_file"):
        client = ModelClient(f"{scheme}://127.0.0.1:1", "Linear", tls_ca_file=bogus, init_timeout_s=0.5)
        client.infer_sample(X)


def test_server_client_over_tls(grpc_tls_server: EmbeddedTriton, https_url: str, certs: Certificates) -> None:
    for url in (grpc_tls_server.grpc_url, https_url):
        with ServerClient(url, tls_ca_file=certs.ca, timeout_s=10) as server:
            assert server.server_metadata()["name"] == "triton"
        with ServerClient(url, timeout_s=2) as untrusted, pytest.raises(PyTritonClientConnectionError):
            untrusted.server_metadata()
