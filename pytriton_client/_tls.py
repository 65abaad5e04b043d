"""TLS material: building SSL contexts from ``TlsOptions`` and checking the PEM files early.

Owns reading the CA bundle, client certificate and key into standard-library or gevent SSL contexts.
Reads local files only; never opens a network connection.
"""

from __future__ import annotations

import ssl
from typing import Any

from pytriton_client._core import TlsOptions
from pytriton_client.exceptions import PyTritonClientValueError


def _configure(context: ssl.SSLContext, tls: TlsOptions) -> ssl.SSLContext:
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def ssl_context(tls: TlsOptions, url: str) -> ssl.SSLContext:
    """A standard-library client context (system trust store unless ``ca_file``).

    Raises:
        PyTritonClientValueError: a file is not a PEM certificate or key.
    """
    try:
        return _configure(ssl.create_default_context(cafile=tls.ca_file), tls)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise PyTritonClientValueError(
            f"Cannot set up TLS for {url}: {exc}. Check tls_ca_file, tls_cert_file and tls_key_file (PEM files)."
        ) from exc


def gevent_context_factory(tls: TlsOptions) -> Any:
    """A factory of gevent SSL contexts for geventhttpclient (which passes its own CA bundle; ours wins)."""
    import gevent.ssl

    def factory(cafile: str | None = None) -> Any:
        return _configure(gevent.ssl.create_default_context(cafile=tls.ca_file), tls)

    return factory


__all__ = ["gevent_context_factory", "ssl_context"]
