"""The one TLS context the gateway's clients share still verifies servers."""

from __future__ import annotations

import ssl

import httpx

from adapters.http import tls_context


def test_the_shared_context_verifies_certificates_and_host_names() -> None:
    context = tls_context()
    assert context is tls_context()  # built once per process
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded


def test_the_tests_clients_made_with_the_defaults_share_it() -> None:
    """``tests/conftest.py`` hands the shared context to every client made without TLS
    settings (one per ``httpx.get``): this fails if httpx stops building its clients'
    contexts through the name the conftest replaces."""
    with httpx.Client() as default, httpx.Client(trust_env=False) as other:
        assert _context(default) is tls_context()
        assert _context(other) is not tls_context()  # other settings: built as httpx builds it
        assert _context(other).verify_mode is ssl.CERT_REQUIRED


def _context(client: httpx.Client) -> ssl.SSLContext:
    transport = client._transport
    assert isinstance(transport, httpx.HTTPTransport)
    context: ssl.SSLContext = transport._pool._ssl_context
    return context
