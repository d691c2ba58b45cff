"""The role's chart values for the hardened profile, offline (`--tags validate`, no cluster):
runner_dagger_namespace / runner_pod_security_enforce reach the chart as global values, the
chart's check runs during validation, and the override file makes no "safe to commit" claim."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

import chartlib

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from testlib import REPO, base_env, ensure_collection_on_path  # noqa: E402  pylint: disable=wrong-import-position

INVENTORY = REPO / "inventories" / "example"


def validate(tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    ensure_collection_on_path()
    env = base_env(KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
                   ANSIBLE_VAULT_PASSWORD_FILE=str(INVENTORY / "vault-pass-client.sh"),
                   KUBECONFIG="/nonexistent/kubeconfig", ANSIBLE_FORCE_COLOR="0")
    env.pop("K8S_AUTH_KUBECONFIG", None)
    extra = {"runner_values_dir": str(tmp_path), "runner_helm_binary": chartlib.helm_bin(), **extra}
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
                           "--tags", "validate", "--limit", "acme", "-e", json.dumps(extra)],
                          cwd=REPO, env=env, text=True, capture_output=True, timeout=300, check=False)


def test_hardened_variables_reach_the_chart(tmp_path):
    out = validate(tmp_path, runner_dagger_namespace="kubiya-acme-dagger", runner_pod_security_enforce="restricted")
    assert out.returncode == 0, out.stdout[-4000:]
    text = (tmp_path / "override_acme.yaml").read_text()
    values = yaml.safe_load(text)
    assert values["global"]["daggerNamespace"] == "kubiya-acme-dagger"
    assert values["global"]["podSecurity"] == {"enforce": "restricted"}
    assert "safe to" not in text.lower() and "Safe to" not in text


def test_default_layout_adds_nothing(tmp_path):
    out = validate(tmp_path)
    assert out.returncode == 0, out.stdout[-4000:]
    values = yaml.safe_load((tmp_path / "override_acme.yaml").read_text())
    assert "daggerNamespace" not in values["global"] and "podSecurity" not in values["global"]


def test_restricted_without_a_dagger_namespace_is_refused_offline(tmp_path):
    out = validate(tmp_path, runner_pod_security_enforce="restricted")
    assert out.returncode != 0
    assert "set global.daggerNamespace" in out.stdout, out.stdout[-4000:]


def test_pod_security_level_is_checked_by_the_argument_spec(tmp_path):
    out = validate(tmp_path, runner_pod_security_enforce="strict")
    assert out.returncode != 0
    assert "runner_pod_security_enforce" in out.stdout, out.stdout[-4000:]
