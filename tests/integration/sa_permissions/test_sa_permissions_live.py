"""kubiya.runners.sa_permissions against the local control plane (real kube-apiserver, RBAC
authorizer, SubjectAccessReview). Uses the session fixtures ``cluster`` and ``namespace``
from tests/conftest.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.kubiya.runners.plugins.module_utils import rbac
from ansible_collections.kubiya.runners.plugins.module_utils.kube import KubeClient
from testlib import REPO

pytestmark = pytest.mark.cluster

FIXTURES = REPO / "tests" / "unit" / "plugins" / "fixtures" / "sa_permissions"
MATRIX = str(FIXTURES / "matrix.yaml")


def apply(cluster, namespace, text):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=text)


@pytest.fixture
def release(cluster, namespace):
    """The test matrix's release r1, installed as plain objects in a fresh namespace."""
    apply(cluster, namespace, (FIXTURES / "release.yaml").read_text())
    return namespace


@pytest.fixture
def cluster_objects(cluster, namespace):
    """Cluster-scoped objects a test creates (namespace deletion does not remove them)."""
    created = []
    yield created
    for kind, name in created:
        cluster.kubectl("delete", kind, name, "--ignore-not-found", check=False)


def test_release_matching_the_matrix_passes(cluster, release, tmp_path):
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert not result.get("failed"), result.get("msg")
    assert result["mode"] == "live" and result["changed"] is False
    # the release's three accounts and the namespace's default one
    assert [sa["name"] for sa in result["service_accounts"]] == [
        "default", "r1-agent-manager", "r1-image-updater", "r1-tool-manager"]
    assert result["summary"]["service_accounts"] == 4 and result["summary"]["checks"] == 29
    assert result["summary"]["accepted_risks"] == 2 and result["summary"]["risks"] == 0
    agent = next(sa for sa in result["service_accounts"] if sa["component"] == "agent-manager")
    kinds = {(b["kind"], b["name"]): b for b in agent["bindings"]}
    # its own RoleBinding, plus the API server's default policy reached through its groups (listed, not excess):
    # recognised by name, ClusterRole and group -- the real cluster's objects
    assert kinds[("RoleBinding", "r1-agent-manager")]["baseline"] is False
    for name in ("system:basic-user", "system:discovery", "system:public-info-viewer",
                 "system:service-account-issuer-discovery"):
        assert kinds[("ClusterRoleBinding", name)]["baseline"] is True, name


def test_extra_clusterrolebinding_and_extra_role_rule_fail_and_are_named(cluster, release, cluster_objects,
                                                                         tmp_path):
    crb = "%s-extra" % release
    cluster_objects += [("clusterrolebinding", crb), ("clusterrole", crb)]
    apply(cluster, release, yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": crb},
         "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": crb},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": crb},
         "subjects": [{"kind": "ServiceAccount", "name": "r1-tool-manager", "namespace": release}]},
    ]))
    # one extra rule in agent-manager's own Role
    cluster.kubectl("patch", "role", "r1-agent-manager", "-n", release, "--type=json", "-p", json.dumps([
        {"op": "add", "path": "/rules/-",
         "value": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}}]))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"] is True
    msg = result["msg"]
    assert "ClusterRoleBinding/%s" % crb in msg
    assert "RoleBinding/%s/r1-agent-manager" % release in msg
    by_name = {sa["name"]: sa for sa in result["service_accounts"]}
    tool = by_name["r1-tool-manager"]
    assert {(e["verb"], e["resource"], e["namespace"], e["reason"]) for e in tool["excess"]} == {
        ("list", "nodes", "*", "not in matrix"),
        ("list", "nodes", None, "forbidden probe allowed"),  # the SubjectAccessReview said allowed
    }
    agent = by_name["r1-agent-manager"]
    assert {(e["verb"], e["resource"], e["granted_by"]) for e in agent["excess"]} == {
        ("get", "secrets", "RoleBinding/%s/r1-agent-manager" % release),
        ("list", "secrets", "RoleBinding/%s/r1-agent-manager" % release)}
    assert not by_name["r1-image-updater"]["failed"]


def test_removed_rule_is_missing(cluster, release, tmp_path):
    role = json.loads(cluster.kubectl("get", "role", "r1-tool-manager", "-n", release, "-o", "json").stdout)
    role["rules"][0]["verbs"] = ["create", "get", "list", "watch"]  # no delete
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        role["metadata"].pop(key, None)
    cluster.kubectl("replace", "-f", "-", input=json.dumps(role))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"]
    tool = next(sa for sa in result["service_accounts"] if sa["name"] == "r1-tool-manager")
    assert tool["missing"] == [{"verb": "delete", "group": "batch", "resource": "jobs", "namespace": release}]
    assert "MISSING" in result["msg"] and "jobs.batch" in result["msg"]


def test_missing_service_account_and_foreign_component(cluster, release, tmp_path):
    cluster.kubectl("delete", "serviceaccount", "r1-image-updater", "-n", release)
    cluster.kubectl("create", "serviceaccount", "r1-stray", "-n", release)
    cluster.kubectl("label", "serviceaccount", "r1-stray", "-n", release,
                    "app.kubernetes.io/instance=r1", "app.kubernetes.io/component=stray")
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"]
    assert 'component "image-updater": no ServiceAccount labelled' in result["msg"]
    assert 'component "stray" is missing from the matrix' in result["msg"]


# Rules whose meaning is easy to get wrong; the offline matcher must answer like the API server.
TRICKY_RULES = [
    {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["cm-a"]},
    {"apiGroups": ["*"], "resources": ["leases"], "verbs": ["*"]},
    {"apiGroups": ["batch"], "resources": ["*"], "verbs": ["list"]},
]
PROBES = [
    ("update", "apps", "deployments/scale", ""), ("update", "apps", "deployments", ""),
    ("update", "apps", "statefulsets/scale", ""), ("update", "", "replicationcontrollers/scale", ""),
    ("get", "", "pods/log", ""), ("get", "", "pods", ""), ("get", "", "pods/*", ""),
    ("get", "", "configmaps", "cm-a"), ("get", "", "configmaps", "cm-b"), ("get", "", "configmaps", ""),
    ("delete", "coordination.k8s.io", "leases", ""), ("watch", "", "leases", ""),
    ("list", "batch", "jobs", ""), ("list", "batch", "cronjobs/status", ""), ("get", "batch", "jobs", ""),
    ("get", "", "secrets", ""), ("create", "", "serviceaccounts/token", ""),
]


def test_offline_matcher_agrees_with_the_api_server(cluster, namespace, cluster_objects):
    name = "%s-tricky" % namespace
    cluster_objects += [("clusterrolebinding", name), ("clusterrole", name)]
    objs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "tricky"},
         "rules": TRICKY_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "tricky"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tricky"},
         "subjects": [{"kind": "ServiceAccount", "name": "sa"}]},  # namespace defaults to the binding's
        # a ClusterRole through a RoleBinding to the namespace's service-account group: namespace-scoped
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
         "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]},
                   {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "group"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "Group", "name": "system:serviceaccounts:%s" % namespace}]},
    ]
    apply(cluster, namespace, yaml.safe_dump_all(objs))
    client = KubeClient.from_params({"kubeconfig": str(cluster.kubeconfig)})
    try:
        index = rbac.fetch_index(client, namespace, "")
        bindings = index.bindings_for(namespace, "sa")
        assert {b["name"] for b in bindings if not b["baseline"]} == {"tricky", "group"}
        sar = rbac.sar_checker(client, namespace, "sa")
        accesses = [rbac.make_access(v, g, r, name=n, namespace=namespace) for v, g, r, n in PROBES]
        accesses += [rbac.make_access("list", "", "services", namespace=namespace),
                     rbac.make_access("list", "", "services", namespace="kube-system"),
                     rbac.make_access("list", "", "services", namespace=""),
                     rbac.make_access("get", path="/metrics")]
        live = {a: sar(a) for a in accesses}
        offline = {a: rbac.allowed_by(a, bindings) is not None for a in accesses}
        disagree = [(a, live[a], offline[a]) for a in accesses if live[a] != offline[a]]
        assert disagree == []
        # and the test is not vacuous: both answers occur
        assert any(live.values()) and not all(live.values())
    finally:
        client.close()


def test_through_ansible_playbook(cluster, release, tmp_path):
    playbook = tmp_path / "verify.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "verify", "register": "out", "kubiya.runners.sa_permissions": {
            "namespace": release, "release": "r1", "matrix": MATRIX}},
            {"ansible.builtin.assert": {"that": ["out is not changed", "out.mode == 'live'",
                                                 "out.summary.failed == 0"]}}],
    }]))
    env = dict(cluster.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", K8S_AUTH_KUBECONFIG=str(cluster.kubeconfig),
               ANSIBLE_HOME=str(tmp_path / "ah"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "--check",
                           "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           str(playbook)], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout)["stats"]["localhost"]["changed"] == 0


# --------------------------------------------------------------------------- no false passes (issue 9, item 4)
# The same cases as tests/unit/plugins/module_utils/test_rbac.py, on the real API server (SubjectAccessReview, RBAC).

RBAC_API = "rbac.authorization.k8s.io/v1"


def rbac_objects(name, rules, subjects, namespace=None, labels=None):
    """A (Cluster)Role and its (Cluster)RoleBinding: cluster-scoped when namespace is None."""
    role_kind = "Role" if namespace else "ClusterRole"
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return [{"apiVersion": RBAC_API, "kind": role_kind, "metadata": dict(meta), "rules": rules},
            {"apiVersion": RBAC_API, "kind": role_kind + "Binding", "metadata": dict(meta),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
             "subjects": subjects}]


def by_sa(result):
    return {sa["name"]: sa for sa in result["service_accounts"]}


def excess_refs(sa):
    return {e["granted_by"] for e in sa["excess"] if e["reason"] == "not in matrix"}


def test_a_look_alike_default_policy_binding_is_reported(cluster, release, cluster_objects, tmp_path):
    """A ClusterRoleBinding labelled kubernetes.io/bootstrapping=rbac-defaults, to the namespace's
    ServiceAccount group: not the default policy, so every account of the namespace holds it as excess,
    while the cluster's real default-policy bindings stay recognised."""
    name = "%s-sneaky" % release
    cluster_objects += [("clusterrolebinding", name), ("clusterrole", name)]
    apply(cluster, release, yaml.safe_dump_all(rbac_objects(
        name, [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]}],
        [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:serviceaccounts:%s" % release}],
        labels={"kubernetes.io/bootstrapping": "rbac-defaults"})))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"] is True
    accounts = by_sa(result)
    assert set(accounts) == {"default", "r1-agent-manager", "r1-image-updater", "r1-tool-manager"}
    for sa in accounts.values():
        assert excess_refs(sa) == {"ClusterRoleBinding/%s" % name}, sa["name"]
        assert sa["failed"]
        assert {b["name"] for b in sa["bindings"] if b["baseline"]} >= {"system:basic-user", "system:discovery"}
    assert "carries the label kubernetes.io/bootstrapping=rbac-defaults but is not a default-policy binding" \
        in result["msg"]


def test_rights_of_the_namespaces_default_service_account_are_reported(cluster, release, tmp_path):
    apply(cluster, release, yaml.safe_dump_all(rbac_objects(
        "default-reader", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
        [{"kind": "ServiceAccount", "name": "default", "namespace": release}], namespace=release)))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"] is True
    default = by_sa(result)["default"]
    assert default["failed"] and default["managed"] is False
    assert {(e["verb"], e["resource"]) for e in default["excess"]} == {("get", "secrets"), ("list", "secrets")}
    assert [(r["risk"], r["accepted"]) for r in default["risks"]] == [("read-secrets", False)]
    assert "RISK default: read-secrets via RoleBinding/%s/default-reader" % release in result["msg"]
    assert not by_sa(result)["r1-image-updater"]["failed"]


def test_a_grant_to_the_namespaces_service_account_group_reaches_every_account(cluster, release, tmp_path):
    apply(cluster, release, yaml.safe_dump_all(rbac_objects(
        "all-sa-pods", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:serviceaccounts:%s" % release}],
        namespace=release)))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"] is True
    ref = "RoleBinding/%s/all-sa-pods" % release
    # "get pods" is in agent-manager's matrix entry; every other account holds it beyond the matrix
    assert {n for n, sa in by_sa(result).items() if ref in excess_refs(sa)} == {
        "default", "r1-image-updater", "r1-tool-manager"}


def test_every_service_account_of_the_namespace_is_reviewed_live(cluster, release, tmp_path):
    cluster.kubectl("create", "serviceaccount", "helper", "-n", release)
    cluster.kubectl("create", "serviceaccount", "idle", "-n", release)
    apply(cluster, release, yaml.safe_dump_all(rbac_objects(
        "helper", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        [{"kind": "ServiceAccount", "name": "helper", "namespace": release}], namespace=release)))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"] is True
    accounts = by_sa(result)
    assert accounts["helper"]["failed"] and excess_refs(accounts["helper"]) == {"RoleBinding/%s/helper" % release}
    assert not accounts["idle"]["failed"] and accounts["idle"]["excess"] == []
    assert "NOTE helper: not part of release r1" in result["msg"]


def restricted_pod_spec(sa=None, automount=None):
    spec = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "registry.example/c:1.0",
                            "securityContext": {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]}}}]}
    if sa:
        spec["serviceAccountName"] = sa
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return spec


def test_pods_and_templates_running_as_the_wrong_account_are_reported(cluster, release, tmp_path):
    labels = {"app.kubernetes.io/instance": "r1", "app.kubernetes.io/component": "agent-manager"}
    apply(cluster, release, yaml.safe_dump_all([
        # agent-manager's Deployment, but running as tool-manager's account
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "agent-manager", "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": restricted_pod_spec("r1-tool-manager")}}},
        # a pod outside the release, as the namespace's default account with its token
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray"}, "spec": restricted_pod_spec()},
        # ... and one without a token: a warning only
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "quiet"},
         "spec": restricted_pod_spec(automount=False)},
    ]))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX).result
    assert result["failed"] is True
    found = {(w["kind"], w["name"]): w for w in result["workloads"]}
    deployment = found[("Deployment", "agent-manager")]
    assert deployment["severity"] == "fail" and deployment["service_account"] == "r1-tool-manager"
    assert deployment["expected_service_account"] == "r1-agent-manager"
    assert found[("Pod", "stray")]["severity"] == "fail" and found[("Pod", "stray")]["token"] is True
    assert found[("Pod", "quiet")]["severity"] == "warn"
    assert "WORKLOAD Deployment/agent-manager (component agent-manager): runs as r1-tool-manager, not as " \
        "r1-agent-manager" in result["msg"]
    assert "WORKLOAD Pod/stray: runs as the namespace's default ServiceAccount with its token mounted" in result["msg"]
    assert "Deployment/agent-manager" in by_sa(result)["r1-tool-manager"]["used_by"]


def test_an_escalation_path_fails_even_when_excess_only_warns(cluster, release, tmp_path):
    apply(cluster, release, yaml.safe_dump_all(rbac_objects(
        "updater-pods", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}],
        [{"kind": "ServiceAccount", "name": "r1-image-updater", "namespace": release}], namespace=release)))
    result = cluster.run_module("sa_permissions", tmp_path, namespace=release, release="r1", matrix=MATRIX, fail_on_excess=False).result
    assert result["failed"] is True
    updater = by_sa(result)["r1-image-updater"]
    risk = next(r for r in updater["risks"] if r["risk"] == "assign-service-account")
    assert risk["accepted"] is False and risk["granted_by"] == "RoleBinding/%s/updater-pods" % release
    # the accounts a pod could run as, named in the reason
    assert "r1-agent-manager" in risk["reason"] and "r1-tool-manager" in risk["reason"]
    # tool-manager's paths are accepted by the matrix and listed with its reason
    tool = by_sa(result)["r1-tool-manager"]
    assert {(r["risk"], r["accepted"]) for r in tool["risks"]} == {("assign-service-account", True),
                                                                   ("exec-into-pods", True)}
    assert "ACCEPTED r1-tool-manager: exec-into-pods" in result["msg"]
