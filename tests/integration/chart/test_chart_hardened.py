"""The hardened profile on the local control plane (real Pod Security admission and RBAC).

dagger runs in a namespace of its own labelled Pod Security `privileged`; the runner namespace
enforces `restricted`. With a token of tool-manager's ServiceAccount, which may create pods in
the runner namespace, a privileged pod is refused by admission there, while dagger's
StatefulSet is admitted in its namespace. The release renders nothing cluster-scoped.
"""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import yaml

import chartlib
from testlib import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
                        "PersistentVolume", "StorageClass", "PriorityClass", "APIService"}
PSA_VERSION = "v" + chartlib.KUBE_MINOR


def helm(cluster, *args, check=True, timeout=600):
    env = dict(cluster.env, KUBECONFIG=str(cluster.kubeconfig))
    return chartlib.helm(*args, env=env, check=check, timeout=timeout)


def labels(cluster, namespace) -> dict:
    return json.loads(cluster.kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"].get("labels", {})


def pods(cluster, namespace) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]


def ready_components(cluster, namespace) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pods(cluster, namespace):
        ready = {c["type"]: c["status"] for c in p["status"].get("conditions", [])}.get("Ready")
        if p["status"].get("phase") == "Running" and ready == "True":
            comp = p["metadata"]["labels"]["app.kubernetes.io/component"]
            out[comp] = out.get(comp, 0) + 1
    return out


def token_kubeconfig(cluster, tmp_path, namespace, service_account):
    """A kubeconfig holding only the API server, its CA and a token of the ServiceAccount
    (no client certificate that could authenticate as the admin instead)."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = dict(admin["clusters"][0]["cluster"])
    ca = server.get("certificate-authority")
    if ca and not ca.startswith("/"):
        server["certificate-authority"] = str((cluster.kubeconfig.parent / ca).resolve())
    token = cluster.kubectl("create", "token", service_account, "-n", namespace, "--duration", "10m").stdout.strip()
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "sa",
              "clusters": [{"name": "c", "cluster": server}],
              "users": [{"name": "sa", "user": {"token": token}}],
              "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa", "namespace": namespace}}]}
    path = tmp_path / f"{service_account}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def as_sa(cluster, kubeconfig, *args, input=None):
    env = dict(cluster.env, KUBECONFIG=str(kubeconfig))
    return subprocess.run(["kubectl", *args], env=env, text=True, input=input, capture_output=True,
                          timeout=120, check=False)


def privileged_pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "x", "image": "docker.io/library/busybox:1.37.0",
                                     "command": ["sleep", "3600"],
                                     "securityContext": {"privileged": True}}]}}


def restricted_pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 20000,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "x", "image": "docker.io/library/busybox:1.37.0",
                                     "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                                   "limits": {"cpu": "10m", "memory": "16Mi"}},
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}


@pytest.fixture
def dagger_namespace(cluster, namespace):
    name = f"{namespace}-dagger"[:63].rstrip("-")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_hardened_profile_pod_security_is_enforced(cluster, namespace, dagger_namespace, tmp_path):
    cluster.kubectl("label", "namespace", namespace, "--overwrite",
                    "pod-security.kubernetes.io/enforce=restricted",
                    f"pod-security.kubernetes.io/enforce-version={PSA_VERSION}")
    cluster.kubectl("label", "namespace", dagger_namespace, "--overwrite",
                    "pod-security.kubernetes.io/enforce=privileged")
    values = chartlib.deep_merge(chartlib.base_values(), {"global": {
        "daggerNamespace": dagger_namespace, "podSecurity": {"enforce": "restricted"}}})
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))

    # the whole release is admitted: everything restricted in the runner namespace, dagger
    # (privileged) in its own
    helm(cluster, "install", "rel", str(chartlib.CHART), "-n", namespace, "-f", str(path),
         "--wait", "--timeout", "5m")
    try:
        assert ready_components(cluster, namespace) == {
            "agent-manager": 2, "tool-manager": 3, "kubiya-operator": 1, "kube-state-metrics": 1, "alloy": 1}
        assert ready_components(cluster, dagger_namespace) == {"dagger": 1}
        sts = json.loads(cluster.kubectl("get", "statefulset", "dagger-engine", "-n", dagger_namespace,
                                         "-o", "json").stdout)
        assert sts["status"].get("readyReplicas") == 1
        assert sts["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] is True

        # nothing cluster-scoped in the release; every object in one of the two namespaces
        manifest = [d for d in yaml.safe_load_all(helm(cluster, "get", "manifest", "rel", "-n", namespace).stdout) if d]
        assert [d["kind"] for d in manifest if d["kind"] in CLUSTER_SCOPED_KINDS] == []
        assert {d["metadata"]["namespace"] for d in manifest} == {namespace, dagger_namespace}

        # tool-manager discovers dagger through the headless Service's DNS name
        tm = json.loads(cluster.kubectl("get", "deployment", "tool-manager", "-n", namespace, "-o", "json").stdout)
        env = {e["name"]: e.get("value") for e in tm["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["KUBIYA_DAGGER_ENGINE_SERVICE_URL"] == f"tcp://dagger-engine-service.{dagger_namespace}.svc:8080"
        svc = json.loads(cluster.kubectl("get", "service", "dagger-engine-service", "-n", dagger_namespace,
                                         "-o", "json").stdout)
        assert svc["spec"]["clusterIP"] == "None"

        # tool-manager's own token
        kubeconfig = token_kubeconfig(cluster, tmp_path, namespace, "tool-manager")
        who = as_sa(cluster, kubeconfig, "auth", "whoami", "-o", "json")
        assert who.returncode == 0, who.stderr
        assert json.loads(who.stdout)["status"]["userInfo"]["username"] == \
            f"system:serviceaccount:{namespace}:tool-manager"

        # RBAC lets it create pods in the runner namespace ...
        ok = as_sa(cluster, kubeconfig, "create", "-n", namespace, "-f", "-",
                   input=json.dumps(restricted_pod("chart-restricted-probe")))
        assert ok.returncode == 0, ok.stderr
        # ... but Pod Security admission refuses a privileged one
        refused = as_sa(cluster, kubeconfig, "create", "-n", namespace, "-f", "-",
                        input=json.dumps(privileged_pod("chart-privileged-probe")))
        assert refused.returncode != 0
        assert f'violates PodSecurity "restricted:{PSA_VERSION}"' in refused.stderr, refused.stderr
        assert "privileged" in refused.stderr
        assert cluster.kubectl("get", "pod", "chart-privileged-probe", "-n", namespace,
                               check=False).returncode != 0
        # and it holds no right in the dagger namespace at all
        elsewhere = as_sa(cluster, kubeconfig, "create", "-n", dagger_namespace, "-f", "-",
                          input=json.dumps(privileged_pod("chart-privileged-probe")))
        assert elsewhere.returncode != 0 and 'cannot create resource "pods"' in elsewhere.stderr, elsewhere.stderr
        for verb, what in (("update", "configmaps/dagger-engine-config"), ("delete", "services/dagger-engine-service")):
            can = as_sa(cluster, kubeconfig, "auth", "can-i", verb, what, "-n", dagger_namespace)
            assert can.stdout.strip() == "no", (verb, what, can.stdout, can.stderr)

        # helm test passes (its pod is restricted and selected by a NetworkPolicy)
        proc = helm(cluster, "test", "rel", "-n", namespace, "--timeout", "3m")
        assert "Phase:          Succeeded" in proc.stdout, proc.stdout
    finally:
        helm(cluster, "uninstall", "rel", "-n", namespace, "--wait", "--timeout", "5m", check=False)


def test_default_layout_admits_a_privileged_pod_from_tool_manager(cluster, namespace, tmp_path):
    """The risk the hardened profile removes, shown: in the default single-namespace layout
    (namespace admits privileged pods for dagger) tool-manager's token CAN start a
    privileged pod. Only RBAC objects are needed to show it (no install)."""
    cluster.kubectl("label", "namespace", namespace, "--overwrite", "pod-security.kubernetes.io/enforce=privileged")
    docs = chartlib.render(chartlib.base_values(), namespace=namespace)
    rbac = [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")
            and d["metadata"]["labels"]["app.kubernetes.io/component"] == "tool-manager"]
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(rbac))
    kubeconfig = token_kubeconfig(cluster, tmp_path, namespace, "tool-manager")
    proc = as_sa(cluster, kubeconfig, "create", "--dry-run=server", "-n", namespace, "-f", "-",
                 input=json.dumps(privileged_pod("chart-privileged-probe")))
    assert proc.returncode == 0, proc.stderr
    # and it may rewrite dagger's engine configuration in the same namespace
    can = as_sa(cluster, kubeconfig, "auth", "can-i", "update", "configmaps/dagger-engine-config", "-n", namespace)
    assert can.stdout.strip() == "yes", can.stdout + can.stderr


def _deploy(cluster, extra: dict, tags: str | None = None, playbook: str = "kubiya.runners.deploy"
            ) -> subprocess.CompletedProcess:
    inventory = REPO / "inventories" / "example"
    env = dict(cluster.env, KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
               ANSIBLE_VAULT_PASSWORD_FILE=str(inventory / "vault-pass-client.sh"), ANSIBLE_FORCE_COLOR="0")
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    extra = {"runner_helm_binary": chartlib.helm_bin(), **extra}
    cmd = ["ansible-playbook", "-i", str(inventory / "hosts.yml"), playbook,
           "--limit", "acme", "-e", json.dumps(extra)]
    if tags:
        cmd += ["--tags", tags]
    return subprocess.run(cmd, cwd=REPO, env=env, text=True, capture_output=True, timeout=900, check=False)


def test_role_creates_and_labels_both_namespaces(cluster):
    """kubiya.runners.deploy with runner_dagger_namespace + runner_pod_security_enforce: the
    role creates both namespaces with their Pod Security labels, the release is split between
    them, verification (health and ServiceAccount permissions of both namespaces) passes, and
    a second run changes nothing. Then a privileged pod, and a RoleBinding, added to the dagger
    namespace each make kubiya.runners.verify fail, naming it."""
    namespace = f"t-chart-hardened-{uuid.uuid4().hex[:6]}"
    dagger = f"{namespace}-dagger"
    extra = {"runner_namespace": namespace, "runner_dagger_namespace": dagger,
             "runner_pod_security_enforce": "restricted", "runner_verify": True,
             "runner_wait_timeout": 240}
    try:
        first = _deploy(cluster, extra)
        assert first.returncode == 0, first.stdout[-5000:]
        runner_labels, dagger_labels = labels(cluster, namespace), labels(cluster, dagger)
        for mode in ("enforce", "warn", "audit"):
            assert runner_labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert runner_labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.36"
        assert dagger_labels["pod-security.kubernetes.io/enforce"] == "privileged"
        assert dagger_labels["app.kubernetes.io/managed-by"] == "kubiya.runners"  # the role created it
        assert ready_components(cluster, dagger) == {"dagger": 1}
        assert "dagger" not in ready_components(cluster, namespace)
        # the verify step ran and checked both namespaces
        assert f"namespace {dagger} (dagger):" in first.stdout, first.stdout[-5000:]
        assert f"namespace {dagger}: ok" in first.stdout, first.stdout[-5000:]
        second = _deploy(cluster, extra)
        assert second.returncode == 0, second.stdout[-5000:]
        assert "changed=0" in second.stdout, second.stdout[-3000:]

        # a privileged pod in the dagger namespace (which admits it), without a token so that
        # only the "nothing else runs there" check can see it
        intruder = privileged_pod("verify-intruder")
        intruder["spec"]["automountServiceAccountToken"] = False
        intruder["spec"]["serviceAccountName"] = "dagger"  # dressed up as dagger: labels and account
        intruder["metadata"]["labels"] = {"app.kubernetes.io/instance": "kubiya-runner",
                                          "app.kubernetes.io/component": "dagger"}
        cluster.kubectl("apply", "-n", dagger, "-f", "-", input=json.dumps(intruder))
        failed = _deploy(cluster, extra, playbook="kubiya.runners.verify")
        assert failed.returncode != 0, failed.stdout[-5000:]
        assert "pod verify-intruder is not part of release" in failed.stdout, failed.stdout[-5000:]
        cluster.kubectl("delete", "pod", "verify-intruder", "-n", dagger, "--wait=true", "--grace-period=0",
                        "--force", check=False)

        # a RoleBinding in the dagger namespace giving rights to dagger's ServiceAccount: the
        # review of the dagger namespace fails, naming it
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "verify-extra-view", "namespace": dagger},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                   "subjects": [{"kind": "ServiceAccount", "name": "dagger", "namespace": dagger}]}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(binding))
        failed = _deploy(cluster, extra, playbook="kubiya.runners.verify")
        assert failed.returncode != 0, failed.stdout[-5000:]
        assert f"RoleBinding/{dagger}/verify-extra-view" in failed.stdout, failed.stdout[-5000:]
        assert f"Permissions in the dagger namespace {dagger}" in failed.stdout, failed.stdout[-5000:]
        assert "Permissions: ServiceAccount permissions" not in failed.stdout, failed.stdout[-5000:]
        # the same binding naming tool-manager (release namespace) instead: the review of the
        # release namespace fails, naming it (a grant in another namespace is excess)
        binding["subjects"] = [{"kind": "ServiceAccount", "name": "tool-manager", "namespace": namespace}]
        cluster.kubectl("apply", "-f", "-", input=json.dumps(binding))
        failed = _deploy(cluster, extra, playbook="kubiya.runners.verify")
        assert failed.returncode != 0, failed.stdout[-5000:]
        assert f"RoleBinding/{dagger}/verify-extra-view" in failed.stdout, failed.stdout[-5000:]
        assert "Permissions: ServiceAccount permissions" in failed.stdout, failed.stdout[-5000:]
        cluster.kubectl("delete", "rolebinding", "verify-extra-view", "-n", dagger)

        # back to the deployed state: verification passes again
        again = _deploy(cluster, extra, playbook="kubiya.runners.verify")
        assert again.returncode == 0, again.stdout[-5000:]
    finally:
        cluster.kubectl("delete", "namespace", namespace, dagger, "--wait=false", "--ignore-not-found", check=False)


def test_role_refuses_restricted_without_a_dagger_namespace(cluster):
    """Pod Security restricted with dagger in the same namespace cannot work: the chart says
    so during validation, before the namespace is created."""
    namespace = f"t-chart-restricted-{uuid.uuid4().hex[:6]}"
    try:
        out = _deploy(cluster, {"runner_namespace": namespace, "runner_pod_security_enforce": "restricted"})
        assert out.returncode != 0
        assert "set global.daggerNamespace" in out.stdout, out.stdout[-4000:]
        gone = cluster.kubectl("get", "namespace", namespace, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
