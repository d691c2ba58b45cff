"""Gaps of the removal and undo safety found by review (issue 9, second round).

On the local control plane:

- removal scans every namespaced kind the API server lists, not a fixed list: an Ingress, a
  Lease and a NetworkPolicy nobody else knows about keep the namespace, and the play names them;
- the undo of a failed first install never deletes the namespace this run created once
  something foreign was put into it meanwhile (another customer's object);
- two customers of one play aimed at the same namespace are refused before anything changes;
- a hand-made Secret named like the role's registry TLS Secret is never deleted to switch
  its type;
- dagger.persistence.retainOnUninstall: false does not make helm uninstall delete the dagger
  cache while runner_remove_volumes is false;
- the deploy lock is renewed during a deploy, and removal takes it (and gives it back).
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest

from testlib import REPO, base_env

INVENTORY = REPO / "inventories" / "example"
RELEASE = "kubiya-runner"
LOCK = f"{RELEASE}-deploy-lock"
VAULT = {"KUBIYA_VAULT_PASSWORD": "kubiya-example-vault",
         "ANSIBLE_VAULT_PASSWORD_FILE": str(INVENTORY / "vault-pass-client.sh"), "ANSIBLE_FORCE_COLOR": "0"}
UNSCHEDULABLE = {"imageUpdater": {"enabled": False},
                 "agentManager": {"nodeSelector": {"kubiya.test/unschedulable": "true"}}}
ROLE_LABELS = {"app.kubernetes.io/managed-by": "kubiya.runners", "kubiya.runners/customer": "acme"}


def cluster_env(cluster) -> dict:
    env = dict(cluster.env, **VAULT)
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    return env


def playbook_cmd(name: str, *args: str, extra: dict | None = None) -> list[str]:
    cmd = ["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), f"kubiya.runners.{name}", *args]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    return cmd


def playbook(env: dict, name: str, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(playbook_cmd(name, *args, extra=extra), cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=900, check=False)


def tail(out) -> str:
    text = out if isinstance(out, str) else out.stdout + out.stderr
    return text[-5000:]


def exists(cluster, *what: str) -> bool:
    return cluster.kubectl("get", *what, check=False).returncode == 0


def apply(cluster, *objects: dict) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def role_namespace(cluster, name: str) -> None:
    """A namespace as the role creates it (its owner and customer labels)."""
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": ROLE_LABELS}})


@pytest.mark.cluster
def test_removal_keeps_a_namespace_holding_kinds_outside_the_old_list(cluster):
    namespace = f"t-harden-scan-{uuid.uuid4().hex[:6]}"
    env = cluster_env(cluster)
    role_namespace(cluster, namespace)
    try:
        # kinds the old fixed list (pods, workloads, services, configmaps, secrets, PVCs,
        # service accounts) never looked at
        apply(cluster,
              {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "shop-harden", "namespace": namespace},
               "spec": {"defaultBackend": {"service": {"name": "shop", "port": {"number": 80}}}}},
              {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "leader-harden", "namespace": namespace},
               "spec": {"holderIdentity": "someone-else"}},
              {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "deny-harden", "namespace": namespace},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
        # what Kubernetes or the release would leave is not foreign: an Event
        cluster.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "noise-harden", "namespace": namespace},
             "involvedObject": {"kind": "Namespace", "name": namespace, "namespace": namespace}, "reason": "Test", "message": "noise"}))

        out = playbook(env, "remove", "--limit", "acme",
                       extra={"runner_namespace": namespace, "runner_remove_confirm": "acme"})
        assert out.returncode == 0, tail(out)
        assert exists(cluster, "namespace", namespace), "the namespace and the objects in it were deleted"
        assert exists(cluster, "-n", namespace, "ingress", "shop-harden")
        assert exists(cluster, "-n", namespace, "lease", "leader-harden")
        for name in ("Ingress/shop-harden", "Lease/leader-harden", "NetworkPolicy/deny-harden"):
            assert f"{name} (not part of release {RELEASE})" in out.stdout, (name, tail(out))
        assert "Event/" not in out.stdout, tail(out)

        # nothing foreign left (the Event stays: noise): the namespace goes
        cluster.kubectl("-n", namespace, "delete", "ingress/shop-harden", "lease/leader-harden",
                        "networkpolicy/deny-harden")
        out = playbook(env, "remove", "--limit", "acme",
                       extra={"runner_namespace": namespace, "runner_remove_confirm": "acme"})
        assert out.returncode == 0, tail(out)
        gone = cluster.kubectl("get", "namespace", namespace, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr, tail(out)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def offline_env() -> dict:
    env = base_env(KUBECONFIG="/nonexistent/kubeconfig", **VAULT)
    env.pop("K8S_AUTH_KUBECONFIG", None)
    return env


@pytest.mark.parametrize("name", ["deploy", "remove"])
def test_two_customers_aimed_at_one_namespace_are_refused_before_anything_changes(name):
    """-e runner_namespace=... without --limit puts every customer into one namespace."""
    extra = {"runner_namespace": "t-harden-shared"}
    args = ["--tags", "validate"] if name == "deploy" else []
    if name == "remove":
        extra.update(runner_remove_confirm="acme,globex", runner_remove_allow_many=True)
    out = playbook(offline_env(), name, *args, extra=extra)
    assert out.returncode != 0, tail(out)
    assert "runner_namespace: customers acme and globex all target namespace t-harden-shared" in out.stdout, tail(out)
    assert "nothing was changed" in out.stdout, tail(out)
    assert "Uninstall release" not in out.stdout and "Namespace | Look up" not in out.stdout, tail(out)


def start(env: dict, name: str, *args: str, extra: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(playbook_cmd(name, *args, extra=extra), cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.cluster
@pytest.mark.slow
def test_undo_keeps_the_namespace_it_created_once_something_foreign_moved_in(cluster):
    namespace = f"t-harden-undo-{uuid.uuid4().hex[:6]}"  # created by the role's run
    env = cluster_env(cluster)
    run = start(env, "deploy", "--limit", "acme",
                extra={"runner_namespace": namespace, "runner_verify": False, "runner_values": UNSCHEDULABLE,
                       "runner_wait_timeout": 20})
    try:
        deadline = time.monotonic() + 600
        while not exists(cluster, "namespace", namespace) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        # another customer's object, put into the namespace while this run installs
        cluster.kubectl("-n", namespace, "create", "configmap", "globex-harden", "--from-literal=owner=globex")
        output = run.communicate(timeout=900)[0]
    finally:
        if run.poll() is None:
            run.kill()
    try:
        assert run.returncode != 0, tail(output)
        assert exists(cluster, "namespace", namespace), f"undo deleted the namespace with the foreign object\n{tail(output)}"
        assert exists(cluster, "-n", namespace, "configmap", "globex-harden")
        assert (f"namespace {namespace} was created by this run but kept: it holds ConfigMap/globex-harden "
                f"(not part of release {RELEASE})") in output, tail(output)
        # what the run created itself is gone
        left = cluster.kubectl("-n", namespace, "get", "secrets", "-l", "app.kubernetes.io/managed-by=kubiya.runners",
                               "-o", "name").stdout.split()
        assert left == [], left
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


@pytest.mark.cluster
@pytest.mark.slow
def test_a_hand_made_registry_secret_is_never_deleted_to_change_its_type(cluster, namespace, tmp_path):
    key, crt = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=registry.test", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    name = f"{RELEASE}-registry-tls"
    cluster.kubectl("-n", namespace, "create", "secret", "tls", name, f"--cert={crt}", f"--key={key}")
    uid = cluster.kubectl("-n", namespace, "get", "secret", name, "-o", "jsonpath={.metadata.uid}").stdout
    # only the certificate: the role would store an Opaque Secret, so the kubernetes.io/tls one is in the way
    out = playbook(cluster_env(cluster), "deploy", "--limit", "acme",
                   extra={"runner_namespace": namespace, "runner_verify": False, "runner_registry_tls_enabled": True,
                          "runner_registry_tls_crt": crt.read_text(), "runner_registry_tls_key": "",
                          "runner_values": UNSCHEDULABLE, "runner_wait_timeout": 15})
    assert out.returncode != 0, tail(out)
    assert cluster.kubectl("-n", namespace, "get", "secret", name, "-o", "jsonpath={.metadata.uid}",
                           check=False).stdout == uid, f"the hand-made Secret was deleted\n{tail(out)}"
    assert (f"Secret {namespace}/{name} exists with type kubernetes.io/tls, the role would store type Opaque"
            in out.stdout), tail(out)
    assert "the role did not create it" in out.stdout, tail(out)
    assert "Install or upgrade the release" not in out.stdout, tail(out)


class LeaseWatch:
    """Polls the deploy Lease of a namespace in the background: every (holder, renewTime) seen."""

    def __init__(self, cluster, namespace: str):
        self.cluster, self.namespace, self.seen, self._stop = cluster, namespace, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            out = self.cluster.kubectl("-n", self.namespace, "get", "lease", LOCK, "-o",
                                       "jsonpath={.spec.holderIdentity}|{.spec.renewTime}", check=False, timeout=30)
            if out.returncode == 0 and "|" in out.stdout and out.stdout not in self.seen:
                self.seen.append(out.stdout)
            time.sleep(0.3)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.mark.cluster
@pytest.mark.slow
def test_the_lock_is_renewed_during_a_deploy_and_removal_takes_it_and_keeps_the_volumes(cluster):
    """dagger.persistence.retainOnUninstall: false (PVC retention whenDeleted: Delete) must not
    take the dagger cache with the uninstall while runner_remove_volumes is false. One deploy
    serves three checks; every failed check is reported, not only the first."""
    namespace = f"t-harden-lease-{uuid.uuid4().hex[:6]}"  # created by the role
    env = cluster_env(cluster)
    problems = []
    try:
        with LeaseWatch(cluster, namespace) as deploy_watch:
            out = playbook(env, "deploy", "--limit", "acme",
                           extra={"runner_namespace": namespace, "runner_verify": False,
                                  # renew at every phase boundary (by default a fast deploy skips them)
                                  "runner_lock_renew_after": 0,
                                  "runner_values": {"dagger": {"persistence": {"retainOnUninstall": False}}}})
        assert out.returncode == 0, tail(out)
        holders = {seen.split("|")[0] for seen in deploy_watch.seen}
        renewals = [seen.split("|")[1] for seen in deploy_watch.seen]
        assert len(holders) == 1, deploy_watch.seen
        if len(renewals) < 2 or renewals != sorted(renewals):
            problems.append(f"the deploy lock was never renewed: {deploy_watch.seen}")
        if exists(cluster, "-n", namespace, "lease", LOCK):
            problems.append("the deploy did not give the lock back")
        policy = cluster.kubectl("-n", namespace, "get", "sts", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o",
                                 "jsonpath={.items[0].spec.persistentVolumeClaimRetentionPolicy.whenDeleted}").stdout
        assert policy == "Delete"
        claims = cluster.kubectl("-n", namespace, "get", "pvc", "-o", "name").stdout.split()
        assert claims

        with LeaseWatch(cluster, namespace) as remove_watch:
            out = playbook(env, "remove", "--limit", "acme",
                           extra={"runner_namespace": namespace, "runner_remove_confirm": "acme"})
        assert out.returncode == 0, tail(out)
        if not remove_watch.seen:
            problems.append("the removal never took the deploy lock")
        if exists(cluster, "-n", namespace, "lease", LOCK):
            problems.append("the removal did not give the lock back")
        assert cluster.kubectl("-n", namespace, "get", "deploy,sts", "-o", "name").stdout.split() == []
        time.sleep(5)  # the garbage collector had time to act on a PVC the StatefulSet still owned
        left = cluster.kubectl("-n", namespace, "get", "pvc", "-o", "name", check=False).stdout.split()
        if left != claims:
            problems.append(f"the dagger cache went with the uninstall (runner_remove_volumes false): {claims} -> {left}")
        if f"namespace {namespace} was kept" not in out.stdout:
            problems.append("the namespace was not kept for the volume")
        assert not problems, "\n".join(problems) + "\n" + tail(out)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
