"""kubiya.runners.remove is deliberate.

- without runner_remove_confirm, with a confirmation that does not name exactly the
  customers of the play, or with several customers and no --limit, it refuses before
  anything is removed and says what to type (no cluster needed: it stops first);
- on the local control plane: the dagger cache PVC (a StatefulSet volumeClaimTemplate,
  which helm uninstall never deletes) is kept by default, and with it the namespace;
  runner_remove_volumes=true deletes it; a namespace the role created is still kept
  while a foreign ConfigMap lives in it, and the play names it; once it is gone, the
  namespace is deleted.
"""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from testlib import REPO, base_env

INVENTORY = REPO / "inventories" / "example"
RELEASE = "kubiya-runner"
VAULT = {"KUBIYA_VAULT_PASSWORD": "kubiya-example-vault",
         "ANSIBLE_VAULT_PASSWORD_FILE": str(INVENTORY / "vault-pass-client.sh"), "ANSIBLE_FORCE_COLOR": "0"}


def playbook(env: dict, name: str, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    cmd = ["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), f"kubiya.runners.{name}", *args]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    return subprocess.run(cmd, cwd=REPO, env=env, text=True, capture_output=True, timeout=900, check=False)


def offline_env() -> dict:
    env = base_env(KUBECONFIG="/nonexistent/kubeconfig", **VAULT)
    env.pop("K8S_AUTH_KUBECONFIG", None)
    return env


def cluster_env(cluster) -> dict:
    env = dict(cluster.env, **VAULT)
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    return env


def tail(out: subprocess.CompletedProcess) -> str:
    return (out.stdout + out.stderr)[-5000:]


def test_removal_without_confirmation_is_refused_and_says_what_to_type():
    out = playbook(offline_env(), "remove", "--limit", "acme")
    assert out.returncode != 0
    assert "nothing was removed" in out.stdout, tail(out)
    assert "runner_remove_confirm: is not set" in out.stdout, tail(out)
    assert "-e runner_remove_confirm=acme" in out.stdout, tail(out)
    assert "Uninstall release" not in out.stdout  # stopped before the first removal task


def test_a_confirmation_naming_another_customer_is_refused():
    out = playbook(offline_env(), "remove", "--limit", "acme", extra={"runner_remove_confirm": "globex"})
    assert out.returncode != 0
    assert "runner_remove_confirm: names globex but this play would remove acme" in out.stdout, tail(out)
    assert "not confirmed: acme" in out.stdout and "not in this play: globex" in out.stdout, tail(out)
    assert "Uninstall release" not in out.stdout


def test_several_customers_without_limit_are_refused_even_when_confirmed():
    out = playbook(offline_env(), "remove", extra={"runner_remove_confirm": "acme,globex"})
    assert out.returncode != 0
    assert "refusing to remove 2 customers (acme, globex) without --limit" in out.stdout, tail(out)
    assert "runner_remove_allow_many=true" in out.stdout, tail(out)
    assert "Uninstall release" not in out.stdout
    # every host refused: neither customer got to a removal task
    assert out.stdout.count("nothing was removed") >= 2, tail(out)


def pvcs(cluster, namespace: str) -> list[str]:
    out = cluster.kubectl("-n", namespace, "get", "pvc", "-l", f"app.kubernetes.io/instance={RELEASE}",
                          "-o", "name", check=False)
    return out.stdout.split()


@pytest.mark.cluster
@pytest.mark.slow
def test_volumes_and_a_shared_namespace_are_kept_unless_asked(cluster):
    namespace = f"t-role-remove-{uuid.uuid4().hex[:6]}"  # created by the role
    env = cluster_env(cluster)
    confirm = {"runner_namespace": namespace, "runner_remove_confirm": "acme"}
    try:
        out = playbook(env, "deploy", "--limit", "acme", extra={"runner_namespace": namespace, "runner_verify": False})
        assert out.returncode == 0, tail(out)
        claims = pvcs(cluster, namespace)
        assert claims, "the dagger StatefulSet made no PVC"

        # default: the release goes, the dagger cache PVC and therefore the namespace stay
        out = playbook(env, "remove", "--limit", "acme", extra=confirm)
        assert out.returncode == 0, tail(out)
        assert cluster.kubectl("-n", namespace, "get", "deploy,sts", "-o", "name").stdout.split() == []
        assert pvcs(cluster, namespace) == claims
        assert f"namespace {namespace} was kept" in out.stdout, tail(out)
        assert f"PersistentVolumeClaim/{claims[0].split('/')[-1]} (volume of the release, kept" in out.stdout, tail(out)

        # a foreign ConfigMap keeps the namespace even when the volumes go
        cluster.kubectl("-n", namespace, "create", "configmap", "notes-role", "--from-literal=owner=someone-else")
        out = playbook(env, "remove", "--limit", "acme", extra={**confirm, "runner_remove_volumes": True})
        assert out.returncode == 0, tail(out)
        assert pvcs(cluster, namespace) == []
        assert cluster.kubectl("get", "namespace", namespace, check=False).returncode == 0
        assert "ConfigMap/notes-role (not part of release kubiya-runner)" in out.stdout, tail(out)

        # nothing foreign left: the namespace the role created goes
        cluster.kubectl("-n", namespace, "delete", "configmap", "notes-role")
        out = playbook(env, "remove", "--limit", "acme", extra={**confirm, "runner_remove_volumes": True})
        assert out.returncode == 0, tail(out)
        gone = cluster.kubectl("get", "namespace", namespace, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr, gone.stdout
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
