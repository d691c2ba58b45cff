"""Fixtures of the module_utils unit tests."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def default_configuration_restored():
    """Loading a kubeconfig sets the kubernetes library's process-wide default configuration
    (with an exec plugin's refresh hook, e.g. one that hangs). A module process builds one
    client; this test process builds many, and a later test must not inherit that hook."""
    try:
        from kubernetes import client  # pylint: disable=import-outside-toplevel
    except ImportError:
        yield
        return
    saved = getattr(client.Configuration, "_default", None)
    yield
    client.Configuration.set_default(saved)
