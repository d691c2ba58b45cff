"""Fixtures of the chart unit tests: renders shared by many tests (rendering takes ~0.3 s)."""
from __future__ import annotations

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
def full_values(values) -> dict:
    """Everything optional that is namespaced switched on."""
    tls = {"enabled": True, "crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
           "key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}
    return chartlib.deep_merge(values, {
        "global": {"registryTls": tls, "networkPolicy": {"egress": {"enabled": True}}},
        "workflowEngine": {"enabled": True},
    })


@pytest.fixture(scope="session")
def full_docs(full_values, tmp_path_factory) -> list[dict]:
    return chartlib.render(full_values, tmpdir=tmp_path_factory.mktemp("values"))
