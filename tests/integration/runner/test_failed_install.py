"""A first install that cannot become ready leaves nothing behind.

helm --atomic uninstalls the failed release; the role's rescue (tasks/undo.yml)
deletes the namespace it created in this run, or -- in a namespace that existed --
the Secrets it created. The play fails with a message saying so.
"""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from testlib import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

INVENTORY = REPO / "inventories" / "example"
UNSCHEDULABLE = {"imageUpdater": {"enabled": False},
                 "agentManager": {"nodeSelector": {"kubiya.test/unschedulable": "true"}}}


def deploy(cluster, namespace: str) -> subprocess.CompletedProcess:
    extra = {"runner_namespace": namespace, "runner_wait_timeout": 15, "runner_values": UNSCHEDULABLE}
    env = dict(cluster.env, KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
               ANSIBLE_VAULT_PASSWORD_FILE=str(INVENTORY / "vault-pass-client.sh"), ANSIBLE_FORCE_COLOR="0")
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
                           "--limit", "acme", "-e", json.dumps(extra)],
                          cwd=REPO, env=env, text=True, capture_output=True, timeout=600, check=False)


def test_failed_first_install_removes_the_namespace_it_created(cluster):
    namespace = f"t-failed-install-{uuid.uuid4().hex[:6]}"
    try:
        out = deploy(cluster, namespace)
        assert out.returncode != 0, out.stdout[-3000:]
        assert "what this run created was removed" in out.stdout, out.stdout[-4000:]
        assert "rescued=1" in out.stdout
        gone = cluster.kubectl("get", "namespace", namespace, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_failed_first_install_in_an_existing_namespace_leaves_it_as_it_was(cluster, namespace):
    before = sorted(cluster.kubectl("-n", namespace, "get", "secrets,configmaps,serviceaccounts",
                                    "-o", "name").stdout.split())
    out = deploy(cluster, namespace)
    assert out.returncode != 0, out.stdout[-3000:]
    assert "what this run created was removed" in out.stdout, out.stdout[-4000:]
    after = sorted(cluster.kubectl("-n", namespace, "get", "secrets,configmaps,serviceaccounts",
                                   "-o", "name").stdout.split())
    assert after == before
    assert cluster.kubectl("-n", namespace, "get", "deploy,sts,pods", "-o", "name").stdout.split() == []
    labels = json.loads(cluster.kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"]["labels"]
    assert "app.kubernetes.io/managed-by" not in labels  # the role never claimed it
