"""Fixtures of the plugin unit tests that run against loopback servers (tests/loopback.py)."""
from __future__ import annotations

import pytest

from loopback import Server, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA and certificates, generated once per test module (throwaway keys)."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def servers(request):
    """``servers(behave, tls=False, trusted=True)`` starts a loopback Server that answers with
    ``behave`` and records what reaches it; every server is closed after the test. ``tls=True``
    serves HTTPS with a certificate of the test CA (fixture ``pki``), or with a self-signed one
    nobody trusts when ``trusted=False``."""
    started = []

    def start(behave, tls=False, trusted=True):
        certs = None
        if tls:
            pki = request.getfixturevalue("pki")
            certs = (pki.cert, pki.key) if trusted else (pki.untrusted_cert, pki.untrusted_key)
        srv = Server(behave, tls=certs)
        started.append(srv)
        return srv
    yield start
    for srv in started:
        srv.close()
