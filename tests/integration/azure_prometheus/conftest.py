"""Fixtures: a fresh Azure stand-in per test (state in tmp_path), the role's extra vars."""
from __future__ import annotations

import secrets

import pytest
from azurestandin import fixtures as azfx


@pytest.fixture
def standin(tmp_path):
    if not azfx.azure_venv_ready():
        pytest.fail(f"{azfx.AZURE_VENV} is missing: run `make azure-venv` (azure.azcollection's requirements)")
    s = azfx.start(tmp_path / "standin")
    yield s
    s.stop()


@pytest.fixture
def role_vars(tmp_path, standin):
    return {
        "azure_prometheus_environment": "staging",
        "azure_prometheus_customers": ["acme", "globex"],
        "azure_prometheus_output_dir": str(tmp_path / "out"),
        "azure_prometheus_vault_password": secrets.token_urlsafe(16),
        "azure_prometheus_reader_object_ids": [standin.deployer["verifier"]["object_id"],
                                               standin.deployer["grafana"]["object_id"]],
        "azure_prometheus_tags": {"team": "platform"},
    }
