"""kubiya.runners.remove is deliberate.

- without runner_remove_confirm, with a confirmation that does not name exactly the
  customers of the play, or with several customers and no --limit, it refuses before
  anything is removed and says what to type (no cluster needed: it stops first);
- on the local control plane: the dagger cache PVC (a StatefulSet volumeClaimTemplate,
  which helm uninstall never deletes) is kept by default, and with it the namespace;
  runner_remove_volumes=true deletes it; a namespace the role created is still kept
  while a foreign ConfigMap lives in it, and the play names it; once it is gone, the
  namespace is deleted;
- in the hardened profile (dagger in runner_dagger_namespace) the dagger PVC and the dagger
  namespace are kept by default and named, and both namespaces go with
  runner_remove_volumes=true;
- a release left pending-upgrade, or a deploy Lease another run holds, stops the removal
  before anything is removed.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from testlib import REPO, base_env

INVENTORY = REPO / "inventories" / "example"
CHART = REPO / "charts" / "kubiya-runner"
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


def exists(cluster, *what: str) -> bool:
    return cluster.kubectl("get", *what, check=False).returncode == 0


@pytest.mark.cluster
@pytest.mark.slow
def test_hardened_profile_removal_handles_the_dagger_namespace(cluster):
    namespace = f"t-remove2-hardened-{uuid.uuid4().hex[:6]}"  # both created by the role
    dagger = f"{namespace}-dagger"
    env = cluster_env(cluster)
    layout = {"runner_namespace": namespace, "runner_dagger_namespace": dagger}
    confirm = {**layout, "runner_remove_confirm": "acme"}
    try:
        out = playbook(env, "deploy", "--limit", "acme",
                       extra={**layout, "runner_pod_security_enforce": "restricted", "runner_verify": False})
        assert out.returncode == 0, tail(out)
        claims = pvcs(cluster, dagger)
        assert claims, "the dagger StatefulSet made no PVC in the dagger namespace"
        assert pvcs(cluster, namespace) == []

        # default: the dagger cache and its namespace stay, and the play says so
        out = playbook(env, "remove", "--limit", "acme", extra=confirm)
        assert out.returncode == 0, tail(out)
        assert cluster.kubectl("-n", dagger, "get", "sts,svc,cm,sa,networkpolicy", "-l",
                               f"app.kubernetes.io/instance={RELEASE}", "-o", "name").stdout.split() == []
        assert pvcs(cluster, dagger) == claims
        assert exists(cluster, "namespace", dagger)
        assert f"namespace {dagger} was kept: it still holds PersistentVolumeClaim/{claims[0].split('/')[-1]}" \
               f" (volume of the release, kept: runner_remove_volumes is false)" in out.stdout, tail(out)
        assert not exists(cluster, "namespace", namespace), "the runner namespace held nothing and was kept"

        # runner_remove_volumes=true: the dagger PVC goes, and with it the dagger namespace
        out = playbook(env, "remove", "--limit", "acme", extra={**confirm, "runner_remove_volumes": True})
        assert out.returncode == 0, tail(out)
        for name in (namespace, dagger):
            gone = cluster.kubectl("get", "namespace", name, check=False)
            assert gone.returncode != 0 and "NotFound" in gone.stderr, (name, gone.stdout, tail(out))
        assert "was kept" not in out.stdout, tail(out)
    finally:
        for name in (namespace, dagger):
            cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.mark.cluster
@pytest.mark.slow
def test_hardened_removal_with_volumes_deletes_both_namespaces_at_once(cluster):
    namespace = f"t-remove2-volumes-{uuid.uuid4().hex[:6]}"  # both created by the role
    dagger = f"{namespace}-dagger"
    env = cluster_env(cluster)
    layout = {"runner_namespace": namespace, "runner_dagger_namespace": dagger}
    try:
        out = playbook(env, "deploy", "--limit", "acme",
                       extra={**layout, "runner_pod_security_enforce": "restricted", "runner_verify": False})
        assert out.returncode == 0, tail(out)
        assert pvcs(cluster, dagger)
        out = playbook(env, "remove", "--limit", "acme",
                       extra={**layout, "runner_remove_confirm": "acme", "runner_remove_volumes": True})
        assert out.returncode == 0, tail(out)
        for name in (namespace, dagger):
            gone = cluster.kubectl("get", "namespace", name, check=False)
            assert gone.returncode != 0 and "NotFound" in gone.stderr, (name, gone.stdout, tail(out))
    finally:
        for name in (namespace, dagger):
            cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def helm_status(cluster, namespace: str) -> str:
    out = subprocess.run(["helm", "history", RELEASE, "-n", namespace, "-o", "json"], env=cluster.env,
                         text=True, capture_output=True, timeout=60, check=False)
    return json.loads(out.stdout)[-1]["status"] if out.returncode == 0 and out.stdout.strip() else ""


@pytest.mark.cluster
@pytest.mark.slow
def test_removal_stops_on_a_pending_release_and_changes_nothing(cluster, namespace):
    env = cluster_env(cluster)
    out = playbook(env, "deploy", "--limit", "acme", extra={"runner_namespace": namespace, "runner_verify": False})
    assert out.returncode == 0, tail(out)
    workloads = cluster.kubectl("-n", namespace, "get", "deploy,sts", "-o", "name").stdout.split()
    secrets = cluster.kubectl("-n", namespace, "get", "secrets", "-o", "name").stdout.split()
    claims = pvcs(cluster, namespace)
    assert workloads and claims

    # a real helm upgrade waiting for a pod that can never be scheduled, SIGKILLed mid-flight
    upgrade = subprocess.Popen(
        ["helm", "upgrade", RELEASE, str(CHART), "-n", namespace, "--reuse-values", "--wait", "--timeout", "5m",
         "--set-string", "agentManager.nodeSelector.kubiya\\.test/unschedulable=true"],
        env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while helm_status(cluster, namespace) != "pending-upgrade" and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        upgrade.send_signal(signal.SIGKILL)
        upgrade.wait(timeout=30)
    assert helm_status(cluster, namespace) == "pending-upgrade"

    out = playbook(env, "remove", "--limit", "acme",
                   extra={"runner_namespace": namespace, "runner_remove_confirm": "acme", "runner_remove_volumes": True})
    assert out.returncode != 0, tail(out)
    assert "kubiya.runners.remove: nothing was removed" in out.stdout, tail(out)
    assert f"Release {RELEASE} in namespace {namespace} is pending-upgrade at revision 2" in out.stdout, tail(out)
    assert f"helm history {RELEASE} -n {namespace}" in out.stdout, tail(out)
    assert f"helm rollback {RELEASE} 1 -n {namespace}" in out.stdout, tail(out)
    assert "Uninstall release" not in out.stdout, tail(out)
    # the release, its workloads, Secrets (release records and the role's) and volumes are all there
    assert helm_status(cluster, namespace) == "pending-upgrade"
    assert cluster.kubectl("-n", namespace, "get", "deploy,sts", "-o", "name").stdout.split() == workloads
    assert set(secrets) <= set(cluster.kubectl("-n", namespace, "get", "secrets", "-o", "name").stdout.split())
    assert pvcs(cluster, namespace) == claims


def lease(namespace: str, renewed: datetime, seconds: int) -> str:
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": f"{RELEASE}-deploy-lock", "namespace": namespace},
                       "spec": {"holderIdentity": "someone@elsewhere run remove2test", "leaseDurationSeconds": seconds,
                                "acquireTime": stamp, "renewTime": stamp}})


@pytest.mark.cluster
def test_removal_stops_while_another_run_holds_the_deploy_lock(cluster, namespace):
    env = cluster_env(cluster)
    cluster.kubectl("-n", namespace, "create", "secret", "generic", f"{RELEASE}-nats-credentials",
                    "--from-literal=x=y")
    cluster.kubectl("-n", namespace, "label", "secret", f"{RELEASE}-nats-credentials",
                    "app.kubernetes.io/managed-by=kubiya.runners", f"app.kubernetes.io/instance={RELEASE}")
    cluster.kubectl("apply", "-f", "-", input=lease(namespace, datetime.now(timezone.utc), 600))
    confirm = {"runner_namespace": namespace, "runner_remove_confirm": "acme"}

    out = playbook(env, "remove", "--limit", "acme", extra=confirm)
    assert out.returncode != 0, tail(out)
    assert "kubiya.runners.remove: nothing was removed" in out.stdout, tail(out)
    assert f"holds the deploy lock (Lease {RELEASE}-deploy-lock, holder \"someone@elsewhere run remove2test\"" \
           in out.stdout, tail(out)
    assert exists(cluster, "-n", namespace, "secret", f"{RELEASE}-nats-credentials")

    # an expired lease (its run died long ago) no longer stops the removal
    cluster.kubectl("apply", "-f", "-", input=lease(namespace, datetime.now(timezone.utc) - timedelta(hours=1), 600))
    out = playbook(env, "remove", "--limit", "acme", extra=confirm)
    assert out.returncode == 0, tail(out)
    assert not exists(cluster, "-n", namespace, "secret", f"{RELEASE}-nats-credentials")
