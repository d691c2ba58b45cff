"""The monitoring tests import the generator package ``monitoring`` from the repository root."""
from __future__ import annotations

import json
import sys

import pytest
import yaml

from testlib import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FILES = REPO / "roles" / "grafana" / "files"


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict]:
    """The committed dashboard JSON, by file name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((FILES / "dashboards").glob("*.json"))}


@pytest.fixture(scope="session")
def rule_file() -> dict:
    return yaml.safe_load((FILES / "rules" / "kubiya-runners.rules.yml").read_text())


@pytest.fixture(scope="session")
def grafana_rules() -> list[dict]:
    return json.loads((FILES / "alerting" / "alert-rules.json").read_text())
