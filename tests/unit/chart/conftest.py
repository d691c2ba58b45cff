"""Fixtures of the chart unit tests: renders shared by many tests (rendering takes ~0.3 s)."""
from __future__ import annotations

import subprocess

import pytest

import chartlib


@pytest.fixture(scope="session")
def values() -> dict:
    return chartlib.base_values()


@pytest.fixture(scope="session")
def default_docs(values, tmp_path_factory) -> list[dict]:
    """The default render: only the required values set."""
    return chartlib.render(values, tmpdir=tmp_path_factory.mktemp("values"))


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory) -> dict:
    """A throwaway self-signed certificate and key, generated for this test session."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=registry.test", "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt")],
                   check=True, capture_output=True, timeout=60)
    return {"enabled": True, "crt": (d / "tls.crt").read_text(), "key": (d / "tls.key").read_text()}


@pytest.fixture(scope="session")
def full_values(values, registry_tls) -> dict:
    """Everything optional that is namespaced switched on."""
    tls = registry_tls
    return chartlib.deep_merge(values, {
        "global": {"registryTls": tls, "networkPolicy": {"egress": {"enabled": True}}},
        "workflowEngine": {"enabled": True},
        "imageUpdater": {"enabled": True},  # opt-in, off by default
    })


@pytest.fixture(scope="session")
def full_docs(full_values, tmp_path_factory) -> list[dict]:
    return chartlib.render(full_values, tmpdir=tmp_path_factory.mktemp("values"))


@pytest.fixture(scope="session")
def hardened_docs(full_values, tmp_path_factory) -> list[dict]:
    """Everything on, in the hardened profile (dagger in namespace dagger-ns)."""
    return chartlib.render(chartlib.deep_merge(full_values, chartlib.HARDENED),
                           tmpdir=tmp_path_factory.mktemp("values"))


@pytest.fixture(scope="session")
def ci_docs() -> dict[str, list[dict]]:
    """The render of every ci/ values file (with its existing Secrets), by file name."""
    return {f.name: chartlib.render(files=[f]) for f in chartlib.CI_VALUES}
