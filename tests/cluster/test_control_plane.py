"""The local control plane behaves like a real cluster where our tests rely on it.

Each test states one behaviour the later suites depend on (RBAC, tokens,
controllers, scheduling, admission); if the harness stopped providing it,
the test fails.
"""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

import pytest
import yaml

from testlib import REPO

pytestmark = pytest.mark.cluster


def apply(cluster, namespace, doc: dict):
    return cluster.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(doc))


def wait_until(what: str, timeout: float, probe, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what} not true within {timeout}s (last: {last!r})")


def get_json(cluster, *args):
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def sar(cluster, user: str, namespace: str, verb: str, resource: str) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource},
        },
    }
    out = cluster.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review))
    return json.loads(out.stdout)["status"].get("allowed", False)


def pinned_versions() -> dict[str, str]:
    text = (REPO / "tools" / "versions.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_version_reports_the_pinned_release(cluster):
    pinned = pinned_versions()["KUBERNETES_VERSION"]
    out = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == pinned
    assert out["clientVersion"]["gitVersion"] == pinned


def test_rbac_denies_until_a_rolebinding_grants(cluster, namespace):
    cluster.kubectl("-n", namespace, "create", "serviceaccount", "probe")
    user = f"system:serviceaccount:{namespace}:probe"
    assert sar(cluster, user, namespace, "list", "pods") is False

    cluster.kubectl("-n", namespace, "create", "role", "pod-reader", "--verb=list", "--resource=pods")
    cluster.kubectl("-n", namespace, "create", "rolebinding", "probe-reads",
                    "--role=pod-reader", f"--serviceaccount={namespace}:probe")
    wait_until("RoleBinding takes effect", 10, lambda: sar(cluster, user, namespace, "list", "pods"))
    # the grant is exactly what was written: no other verb, no other namespace
    assert sar(cluster, user, namespace, "delete", "pods") is False
    assert sar(cluster, user, "kube-system", "list", "pods") is False


def _api(cluster, token: str, path: str) -> int:
    cfg = yaml.safe_load(cluster.kubeconfig.read_text())
    server = cfg["clusters"][0]["cluster"]["server"]
    ctx = ssl.create_default_context(cafile=cfg["clusters"][0]["cluster"]["certificate-authority"])
    req = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_token_request_token_is_authorized_by_rbac(cluster, namespace):
    cluster.kubectl("-n", namespace, "create", "serviceaccount", "reader")
    token = cluster.kubectl("-n", namespace, "create", "token", "reader", "--duration=10m").stdout.strip()
    assert token.count(".") == 2, "TokenRequest should return a JWT"
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    assert _api(cluster, token, path) == 403
    cluster.kubectl("-n", namespace, "create", "role", "cm-reader", "--verb=list", "--resource=configmaps")
    cluster.kubectl("-n", namespace, "create", "rolebinding", "reader-cm",
                    "--role=cm-reader", f"--serviceaccount={namespace}:reader")
    wait_until("token authorized after RoleBinding", 10, lambda: _api(cluster, token, path) == 200)
    assert _api(cluster, "not-a-token", path) == 401


def _deployment(name: str, replicas: int = 2, node_selector: dict | None = None) -> dict:
    spec = {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
    }


def _ready_pods(cluster, namespace, selector):
    pods = get_json(cluster, "-n", namespace, "get", "pods", "-l", selector)["items"]
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                    for c in p["status"].get("conditions", []))]
    return pods, ready


def test_deployment_pods_are_scheduled_and_ready_within_20s(cluster, namespace):
    start = time.monotonic()
    apply(cluster, namespace, _deployment("web", replicas=3))

    def all_ready():
        pods, ready = _ready_pods(cluster, namespace, "app=web")
        return len(ready) == 3 and pods
    pods = wait_until("3 pods Ready", 20, all_ready)
    elapsed = time.monotonic() - start
    assert elapsed < 20
    assert {p["spec"]["nodeName"] for p in pods} <= {"kwok-amd64", "kwok-arm64"}
    rs = get_json(cluster, "-n", namespace, "get", "replicasets")["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert all(p["metadata"]["ownerReferences"][0]["name"] == rs[0]["metadata"]["name"] for p in pods)


def test_cronjob_creates_a_job_whose_pod_completes(cluster, namespace):
    apply(cluster, namespace, {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "tick", "image": "registry.example/tick:1.0"}]}}}}},
    })
    # the CronJob controller fires at the next minute boundary; trigger one by hand
    # too, the way an operator would, so the test does not wait up to 60 s.
    cluster.kubectl("-n", namespace, "create", "job", "tick-manual", "--from=cronjob/tick")

    def succeeded():
        jobs = get_json(cluster, "-n", namespace, "get", "jobs")["items"]
        return [j for j in jobs if j["status"].get("succeeded", 0) >= 1]
    done = wait_until("a Job of the CronJob succeeded", 60, succeeded)
    assert done[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    pods = get_json(cluster, "-n", namespace, "get", "pods", "-l", f"job-name={done[0]['metadata']['name']}")
    assert pods["items"][0]["status"]["phase"] == "Succeeded"


def test_deleting_an_owner_garbage_collects_dependents(cluster, namespace):
    apply(cluster, namespace, _deployment("gc", replicas=2))
    wait_until("pods exist", 20, lambda: len(_ready_pods(cluster, namespace, "app=gc")[1]) == 2)
    cluster.kubectl("-n", namespace, "delete", "deployment", "gc", "--cascade=background", "--wait=false")

    def gone():
        rs = get_json(cluster, "-n", namespace, "get", "replicasets")["items"]
        pods = get_json(cluster, "-n", namespace, "get", "pods", "-l", "app=gc")["items"]
        return not rs and not pods
    wait_until("ReplicaSet and Pods garbage-collected", 30, gone)


def test_pod_security_admission_rejects_privileged_pod_in_restricted_namespace(cluster, namespace):
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "priv"},
           "spec": {"containers": [{"name": "c", "image": "registry.example/x:1",
                                    "securityContext": {"privileged": True}}]}}
    out = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(pod), check=False)
    assert out.returncode != 0
    assert "violates PodSecurity" in out.stderr and "privileged" in out.stderr


def test_arm64_node_selector_lands_on_the_arm64_node_only(cluster, namespace):
    apply(cluster, namespace, _deployment("arm", replicas=4, node_selector={"kubernetes.io/arch": "arm64"}))

    def four_ready():
        pods, ready = _ready_pods(cluster, namespace, "app=arm")
        return pods if len(ready) == 4 else None
    pods = wait_until("4 arm64 pods Ready", 20, four_ready)
    assert {p["spec"]["nodeName"] for p in pods} == {"kwok-arm64"}
