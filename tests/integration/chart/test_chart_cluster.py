"""The chart on the local control plane (real apiserver, controllers, RBAC; kwok nodes).

kwok runs no container: pods become Running/Ready and run-once pods Succeeded, so these
tests prove what Kubernetes itself decides (admission, schema, scheduling, RBAC, garbage
collection, helm's install/upgrade/rollback/uninstall), not the apps' behaviour.
"""
from __future__ import annotations

import json
import time

import pytest
import yaml

import chartlib

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# Names that exist in every namespace and are not the release's.
NAMESPACE_DEFAULTS = {"serviceaccount/default", "configmap/kube-root-ca.crt"}
RETAINED = {"persistentvolumeclaim/data-dagger-engine-0"}  # documented: dagger cache survives uninstall


def helm(cluster, *args, check=True, timeout=600):
    env = dict(cluster.env, KUBECONFIG=str(cluster.kubeconfig))
    return chartlib.helm(*args, env=env, check=check, timeout=timeout)


def label_namespace(cluster, namespace, level):
    cluster.kubectl("label", "namespace", namespace, "--overwrite",
                    f"pod-security.kubernetes.io/enforce={level}",
                    "pod-security.kubernetes.io/warn=restricted")


def pods(cluster, namespace) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]


def wait_for(predicate, timeout=180, interval=2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def all_pods_ready(cluster, namespace):
    items = [p for p in pods(cluster, namespace) if not p["metadata"].get("deletionTimestamp")]
    if not items:
        return False
    for p in items:
        if p["status"].get("phase") == "Succeeded":
            continue
        ready = {c["type"]: c["status"] for c in p["status"].get("conditions", [])}.get("Ready")
        if p["status"].get("phase") != "Running" or ready != "True":
            return False
    return items


def namespace_objects(cluster, namespace) -> set[str]:
    kinds = cluster.kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").stdout.split()
    kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
    out = cluster.kubectl("get", ",".join(kinds), "-n", namespace, "-o", "name", "--ignore-not-found").stdout
    names = set()
    for line in out.split():
        kind, dummy, name = line.partition("/")
        names.add(f"{kind.split('.')[0]}/{name}")
    return names - NAMESPACE_DEFAULTS


def write_values(tmp_path, values, name="values.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize("values_file", chartlib.CI_VALUES, ids=lambda p: p.name)
def test_server_side_dry_run(cluster, namespace, values_file):
    """Every ci/ values file is accepted by the API server (schema, defaulting, admission)."""
    sets, dagger = [], None
    if yaml.safe_load(values_file.read_text())["global"].get("daggerNamespace"):
        # hardened profile: the release namespace enforces restricted, dagger has its own
        dagger = f"{namespace}-dagger"
        cluster.kubectl("create", "namespace", dagger)
        cluster.kubectl("label", "namespace", dagger, "pod-security.kubernetes.io/enforce=privileged")
        label_namespace(cluster, namespace, "restricted")
        sets = [f"global.daggerNamespace={dagger}"]
    else:
        label_namespace(cluster, namespace, "privileged")
    try:
        manifest = chartlib.render_text(files=[values_file], namespace=namespace, sets=sets)
        docs = [d for d in yaml.safe_load_all(manifest) if d]
        proc = cluster.kubectl("apply", "--dry-run=server", "-f", "-",
                               input=yaml.safe_dump_all(docs), check=False)
    finally:
        if dagger:
            cluster.kubectl("delete", "namespace", dagger, "--wait=false", check=False)
    assert proc.returncode == 0, proc.stderr
    if dagger:  # nothing in the restricted release namespace even warns
        assert "would violate PodSecurity" not in proc.stderr, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(docs)
    assert {d["metadata"]["namespace"] for d in docs} == {namespace} | ({dagger} if dagger else set())


def test_pod_security_restricted_except_dagger(cluster, namespace):
    """Under Pod Security 'restricted' only the dagger engine is refused (the documented exception)."""
    label_namespace(cluster, namespace, "restricted")
    docs = chartlib.render(chartlib.base_values(), namespace=namespace,
                           sets=["workflowEngine.enabled=true"])
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "CronJob", "Job")]
    for d in workloads:
        proc = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                               input=yaml.safe_dump(d), check=False)
        warned = "would violate PodSecurity" in proc.stderr
        is_dagger = d["metadata"]["name"] == "dagger-engine"
        assert warned == is_dagger, (d["kind"], d["metadata"]["name"], proc.stderr)
    # and the dagger pod itself is rejected by enforcement
    cluster.kubectl("create", "serviceaccount", "dagger", "-n", namespace)
    sts = next(d for d in workloads if d["metadata"]["name"] == "dagger-engine")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dagger-probe"},
           "spec": sts["spec"]["template"]["spec"] | {
               "volumes": [{"name": "data", "emptyDir": {}}, {"name": "config", "emptyDir": {}}]}}
    proc = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                           input=yaml.safe_dump(pod), check=False)
    assert proc.returncode != 0 and "violates PodSecurity" in proc.stderr


def _access_reviews(cluster, namespace, other_namespace):
    """SubjectAccessReviews for every matrix rule (must be allowed) and forbidden probe (denied)."""
    reviews = []
    present = {sa["metadata"]["name"] for sa in json.loads(cluster.kubectl(
        "get", "serviceaccounts", "-n", namespace, "-l", "app.kubernetes.io/instance=rel", "-o", "json").stdout)["items"]}
    for name, sa in chartlib.PERMISSIONS["serviceAccounts"].items():
        if name not in present:
            continue
        user = f"system:serviceaccount:{namespace}:{name}"
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
        for rule in sa["rules"]:
            resource, dummy, sub = rule["resources"][0].partition("/")
            for verb in rule["verbs"]:
                for rname in rule.get("resourceNames", [""]):
                    attrs = {"namespace": namespace, "verb": verb, "group": rule["apiGroups"][0],
                             "resource": resource, "subresource": sub, "name": rname}
                    reviews.append((True, name, attrs, user, groups))
        for probe in chartlib.PERMISSIONS["forbidden"]:
            ns = {"@release": namespace, "@other": other_namespace}.get(probe.get("namespace"), "")
            attrs = {"namespace": ns, "verb": probe["verb"], "group": probe["group"],
                     "resource": probe["resource"], "subresource": probe.get("subresource", "")}
            reviews.append((False, name, attrs, user, groups))
    items = [{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": u, "groups": g, "resourceAttributes": a}} for dummy, dummy2, a, u, g in reviews]
    out = cluster.kubectl("create", "-o", "json", "-f", "-",
                          input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    results, text, decoder = [], out.stdout.strip(), json.JSONDecoder()
    while text:  # kubectl prints one JSON document per created review
        obj, end = decoder.raw_decode(text)
        results.append(obj)
        text = text[end:].strip()
    assert len(results) == len(reviews)
    wrong = [(want, name, attrs) for (want, name, attrs, dummy, dummy2), r in zip(reviews, results)
             if r["status"].get("allowed", False) != want]
    return present, wrong


def test_install_upgrade_rollback_uninstall_reinstall(cluster, namespace, tmp_path):
    label_namespace(cluster, namespace, "privileged")
    values = write_values(tmp_path, chartlib.base_values())
    chart = str(chartlib.CHART)

    # install: every pod Ready
    helm(cluster, "install", "rel", chart, "-n", namespace, "-f", str(values), "--wait", "--timeout", "5m")
    ready = wait_for(lambda: all_pods_ready(cluster, namespace), what="pods Ready")
    by_component = {}
    for p in ready:
        by_component.setdefault(p["metadata"]["labels"]["app.kubernetes.io/component"], []).append(p)
    assert {c: len(v) for c, v in by_component.items()} == {
        "agent-manager": 2, "tool-manager": 3, "kubiya-operator": 1, "dagger": 1,
        "kube-state-metrics": 1, "alloy": 1}
    pvc_uid = json.loads(cluster.kubectl("get", "pvc", "data-dagger-engine-0", "-n", namespace,
                                         "-o", "json").stdout)["metadata"]["uid"]

    # least privilege, asked of the API server
    other = f"{namespace}-other"
    cluster.kubectl("create", "namespace", other)
    try:
        present, wrong = _access_reviews(cluster, namespace, other)
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
    # image-updater is opt-in; the helm test pod has its own tokenless account <release>-test-health
    assert present == {"agent-manager", "tool-manager", "kubiya-operator", "dagger",
                       "kube-state-metrics", "alloy", "rel-test-health"}
    assert wrong == []

    # helm test hooks pass (and clean up after themselves)
    proc = helm(cluster, "test", "rel", "-n", namespace, "--timeout", "3m")
    assert "Phase:          Succeeded" in proc.stdout, proc.stdout

    # upgrade with changed values
    helm(cluster, "upgrade", "rel", chart, "-n", namespace, "-f", str(values), "--wait", "--timeout", "5m",
         "--set", "agentManager.replicaCount=3", "--set", "telemetry.scrapeInterval=30s",
         "--set", "workflowEngine.enabled=true")

    def three_agent_managers_ready():
        pods = all_pods_ready(cluster, namespace)
        return pods and sum(p["metadata"]["labels"]["app.kubernetes.io/component"] == "agent-manager"
                            for p in pods) == 3
    wait_for(three_agent_managers_ready, what="3 agent-manager pods Ready")
    cm = json.loads(cluster.kubectl("get", "configmap", "alloy", "-n", namespace, "-o", "json").stdout)
    assert 'scrape_interval = "30s"' in cm["data"]["config.alloy"]
    cluster.kubectl("get", "deployment/workflow-engine", "service/workflow-engine", "-n", namespace)

    # rollback to the first release
    helm(cluster, "rollback", "rel", "1", "-n", namespace, "--wait", "--timeout", "5m")
    assert cluster.kubectl("get", "deployment", "workflow-engine", "-n", namespace, check=False).returncode != 0
    dep = json.loads(cluster.kubectl("get", "deployment", "agent-manager", "-n", namespace, "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2
    cm = json.loads(cluster.kubectl("get", "configmap", "alloy", "-n", namespace, "-o", "json").stdout)
    assert 'scrape_interval = "60s"' in cm["data"]["config.alloy"]
    history = json.loads(helm(cluster, "history", "rel", "-n", namespace, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2, 3] and history[-1]["status"] == "deployed"
    wait_for(lambda: all_pods_ready(cluster, namespace), what="pods Ready after rollback")

    # uninstall leaves nothing but the documented retained PVC
    helm(cluster, "uninstall", "rel", "-n", namespace, "--wait", "--timeout", "5m")

    def only_retained_left():
        objs = namespace_objects(cluster, namespace)
        return objs if objs <= RETAINED else None
    left = wait_for(only_retained_left, timeout=180, what="namespace emptied by uninstall")
    assert left == RETAINED

    # reinstall works and finds the retained dagger cache
    helm(cluster, "install", "rel", chart, "-n", namespace, "-f", str(values), "--wait", "--timeout", "5m")
    wait_for(lambda: all_pods_ready(cluster, namespace), what="pods Ready after reinstall")
    again = json.loads(cluster.kubectl("get", "pvc", "data-dagger-engine-0", "-n", namespace, "-o", "json").stdout)
    assert again["metadata"]["uid"] == pvc_uid
    helm(cluster, "uninstall", "rel", "-n", namespace, "--wait", "--timeout", "5m", check=False)
