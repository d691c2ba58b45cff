"""What the default install creates: namespaced objects only, labelled, one SA per component."""
from __future__ import annotations

import collections

import pytest

import chartlib
from chartlib import by_kind, component

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace",
                  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
                  "PersistentVolume", "StorageClass", "PriorityClass", "APIService"}
DEFAULT_COMPONENTS = {"agent-manager", "tool-manager", "kubiya-operator", "dagger",
                      "kube-state-metrics", "alloy", "test"}   # image-updater is opt-in


def test_default_render_object_inventory(default_docs):
    kinds = collections.Counter(d["kind"] for d in default_docs)
    assert kinds == {
        "ServiceAccount": 7, "Role": 5, "RoleBinding": 5, "NetworkPolicy": 7,
        "Deployment": 5, "StatefulSet": 1, "Service": 3,
        "ConfigMap": 2, "Secret": 2, "Job": 1,
    }, kinds
    assert len(default_docs) == 38


@pytest.mark.parametrize("docs_fixture", ["default_docs", "full_docs"])
def test_nothing_cluster_scoped_and_all_in_release_namespace(docs_fixture, request):
    docs = request.getfixturevalue(docs_fixture)
    assert [d["kind"] for d in docs if d["kind"] in CLUSTER_SCOPED] == []
    assert {d["metadata"].get("namespace") for d in docs} == {"runner-ns"}


def test_hardened_profile_moves_dagger_and_nothing_else(hardened_docs):
    """Hardened: dagger's objects in its namespace, everything else in the release namespace,
    nothing cluster-scoped (no Namespace either); tool-manager and Alloy use the DNS name."""
    assert [d["kind"] for d in hardened_docs if d["kind"] in CLUSTER_SCOPED] == []
    where = {(d["kind"], d["metadata"]["name"]): d["metadata"]["namespace"] for d in hardened_docs}
    dagger = {k for k, ns in where.items() if ns == "dagger-ns"}
    assert dagger == {("StatefulSet", "dagger-engine"), ("Service", "dagger-engine-service"),
                      ("ConfigMap", "dagger-engine-config"), ("ServiceAccount", "dagger"),
                      ("NetworkPolicy", "dagger")}
    assert set(where.values()) == {"runner-ns", "dagger-ns"}
    tm = next(d for d in by_kind(hardened_docs, "Deployment") if component(d) == "tool-manager")
    env = {e["name"]: e.get("value") for e in tm["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBIYA_DAGGER_ENGINE_SERVICE_URL"] == "tcp://dagger-engine-service.dagger-ns.svc:8080"
    alloy = next(d for d in by_kind(hardened_docs, "ConfigMap") if d["metadata"]["name"] == "alloy")
    assert "dagger-engine-service.dagger-ns.svc:8080" in alloy["data"]["config.alloy"]
    sts = by_kind(hardened_docs, "StatefulSet")[0]
    assert sts["spec"]["serviceName"] == "dagger-engine-service"
    assert sts["spec"]["template"]["spec"]["serviceAccountName"] == "dagger"


@pytest.mark.parametrize("over", [
    {"global": {"podSecurity": {"enforce": "restricted"}}},
    {"global": {"podSecurity": {"enforce": "baseline"}}},
    {"global": {"podSecurity": {"enforce": "restricted"}, "daggerNamespace": "runner-ns"}},
])
def test_restricted_namespace_needs_a_dagger_namespace(values, over):
    err = chartlib.render_fails(chartlib.deep_merge(values, over))
    assert "global.podSecurity.enforce" in err and "set global.daggerNamespace" in err


@pytest.mark.parametrize("docs_fixture", ["default_docs", "full_docs"])
def test_every_object_has_component_and_instance_labels(docs_fixture, request):
    for d in request.getfixturevalue(docs_fixture):
        labels = d["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "rel", d["metadata"]["name"]
        assert labels.get("app.kubernetes.io/component"), f"{d['kind']}/{d['metadata']['name']}"


def test_one_service_account_per_component(default_docs, full_docs):
    assert {component(sa) for sa in by_kind(default_docs, "ServiceAccount")} == DEFAULT_COMPONENTS
    sas = by_kind(full_docs, "ServiceAccount")
    assert len(sas) == len({component(sa) for sa in sas}) == 9
    for sa in sas:
        # the helm test Job's account is named like the Job (rel-test-health), not "test"
        assert sa["metadata"]["name"] == ("rel-test-health" if component(sa) == "test" else component(sa))


def test_each_pod_runs_as_its_components_service_account(full_docs):
    sa_automount = {sa["metadata"]["name"]: sa["automountServiceAccountToken"]
                    for sa in by_kind(full_docs, "ServiceAccount")}
    for owner, spec in chartlib.pod_templates(full_docs):
        if component(owner) == "test":
            # its own ServiceAccount, not the namespace's default, and no token
            assert spec["serviceAccountName"] == "rel-test-health"
            assert spec["automountServiceAccountToken"] is False and sa_automount["rel-test-health"] is False
            continue
        assert spec["serviceAccountName"] == component(owner)
        # the pod never re-enables a token its ServiceAccount does not mount
        assert spec["automountServiceAccountToken"] == sa_automount[component(owner)]


def test_nats_subject_and_runner_identity(default_docs, values):
    operator = next(d for d in by_kind(default_docs, "Deployment") if component(d) == "kubiya-operator")
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NATS_SUBJECT"] == "test-org.test-runner.incoming"
    assert env["NAMESPACE"] == "runner-ns"
    assert "ports" not in operator["spec"]["template"]["spec"]["containers"][0]
    tm = next(d for d in by_kind(default_docs, "Deployment") if component(d) == "tool-manager")
    c = tm["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["KUBIYA_DAGGER_ENGINE_SERVICE_URL"] == "tcp://dagger-engine-service:8080"
    assert env["KUBIYA_AGENT_UUID"] == values["global"]["runner"]["uuid"]
    assert env["KUBIYA_GROUP_NAME"] == "test-org.test-runner"


@pytest.mark.parametrize("missing", ["name", "organization", "uuid"])
def test_runner_identity_is_required(values, missing):
    v = chartlib.deep_merge(values, {"global": {"runner": {missing: ""}}})
    err = chartlib.render_fails(v)
    assert f"/global/runner/{missing}" in err


@pytest.mark.parametrize("missing", ["name", "organization", "uuid"])
def test_required_in_templates_too(values, missing, tmp_path):
    """The templates refuse a missing identity even without the schema (subchart rendered alone)."""
    sets = [f"global.runner.{k}=x" for k in ("name", "organization", "uuid") if k != missing]
    proc = chartlib.helm("template", "r", str(chartlib.CHARTS / "tool-manager"),
                         "--kube-version", chartlib.KUBE_VERSION, *sum((["--set", s] for s in sets), []),
                         check=False)
    assert proc.returncode != 0
    assert f"global.runner.{missing} is required" in proc.stderr


def test_services_and_ports(default_docs):
    svcs = {s["metadata"]["name"]: s for s in by_kind(default_docs, "Service")}
    assert set(svcs) == {"agent-manager", "tool-manager", "dagger-engine-service"}
    assert svcs["agent-manager"]["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert svcs["tool-manager"]["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    dagger = svcs["dagger-engine-service"]["spec"]
    assert dagger["clusterIP"] == "None"
    assert dagger["ports"] == [{"name": "dagger", "port": 8080, "targetPort": "dagger", "protocol": "TCP"}]
    sts = by_kind(default_docs, "StatefulSet")[0]
    assert sts["spec"]["serviceName"] == "dagger-engine-service"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    ports = {c["name"]: {p["name"]: p["containerPort"] for p in c.get("ports", [])}
             for dummy, spec in chartlib.pod_templates(default_docs) for c in spec["containers"]}
    assert ports["agent-manager"] == {"http": 8080}
    assert ports["tool-manager"] == {"http": 3001}
    assert ports["kubiya-sdk-server"] == {"sdk": 8000}
    assert ports["dagger-engine"] == {"dagger": 8080}
    assert ports["kubiya-operator"] == {}


def test_shared_secrets_created_from_values_or_taken_by_name(values, default_docs):
    created = {s["metadata"]["name"]: s for s in by_kind(default_docs, "Secret")}
    assert set(created) == {"rel-nats-creds", "rel-remote-write"}
    assert set(created["rel-nats-creds"]["data"]) == {"operator.creds", "runner.creds"}
    existing = chartlib.deep_merge(values, {
        "global": {"nats": {"existingSecret": "my-nats", "operatorCreds": "", "runnerCreds": ""}},
        "telemetry": {"remoteWrite": {"oauth2": {
            "existingSecret": "my-rw", "existingSecretKey": "secret", "clientSecret": ""}}}})
    docs = chartlib.render(existing)
    assert by_kind(docs, "Secret") == []
    vols = [v for dummy, spec in chartlib.pod_templates(docs) for v in spec.get("volumes", []) if "secret" in v]
    assert {v["secret"]["secretName"] for v in vols} == {"my-nats", "my-rw"}
    alloy = next(d for d in by_kind(docs, "Deployment") if component(d) == "alloy")
    vol = next(v for v in alloy["spec"]["template"]["spec"]["volumes"] if v["name"] == "remote-write-secret")
    assert vol["secret"]["secretName"] == "my-rw"
    assert vol["secret"]["items"] == [{"key": "secret", "path": "client-secret"}]


@pytest.mark.parametrize("key,message", [
    ("global.nats.operatorCreds", "global.nats.operatorCreds is required"),
    ("global.nats.runnerCreds", "global.nats.runnerCreds is required"),
    ("telemetry.remoteWrite.oauth2.clientSecret", "telemetry.remoteWrite.oauth2.clientSecret is required"),
])
def test_secret_material_required_when_no_existing_secret(values, key, message):
    err = chartlib.render_fails(values, sets=[f"{key}="])
    assert message in err


def test_registry_tls_certificate_alone_stores_no_key(values, registry_tls):
    """Only the certificate is used: without a key none is required and none is stored."""
    cert_only = chartlib.deep_merge(values, {"global": {"registryTls": {"enabled": True, "crt": registry_tls["crt"]}}})
    docs = chartlib.render(cert_only)
    tls = next(s for s in by_kind(docs, "Secret") if component(s) == "registry-tls")
    assert tls["metadata"]["name"] == "rel-registry-ca" and tls["type"] == "Opaque"
    assert set(tls["data"]) == {"tls.crt"}
    tm = next(d for d in by_kind(docs, "Deployment") if component(d) == "tool-manager")
    reg = next(v for v in tm["spec"]["template"]["spec"]["volumes"] if v["name"] == "registry-tls")
    assert reg["secret"] == {"secretName": "rel-registry-ca", "defaultMode": 0o444,
                             "items": [{"key": "tls.crt", "path": "tls.crt"}]}
    assert "PRIVATE KEY" not in chartlib.render_text(cert_only)
    # the certificate itself is still required
    err = chartlib.render_fails(chartlib.deep_merge(values, {"global": {"registryTls": {"enabled": True}}}))
    assert "global.registryTls.crt is required" in err


def test_registry_tls_secret_and_mounts(full_docs):
    """With a key given (compatibility) the Secret is kubernetes.io/tls; only tls.crt is mounted."""
    tls = next(s for s in by_kind(full_docs, "Secret") if s["type"] == "kubernetes.io/tls")
    assert set(tls["data"]) == {"tls.crt", "tls.key"} and tls["metadata"]["name"] == "rel-registry-tls"
    tm = next(d for d in by_kind(full_docs, "Deployment") if component(d) == "tool-manager")
    spec = tm["spec"]["template"]["spec"]
    reg = next(v for v in spec["volumes"] if v["name"] == "registry-tls")
    # only the certificate reaches the pod, never the registry's private key
    assert reg["secret"]["items"] == [{"key": "tls.crt", "path": "tls.crt"}]
    assert spec["initContainers"][0]["name"] == "ca-bundle"


def test_workflow_engine_off_by_default_and_complete_when_on(default_docs, full_docs):
    assert not [d for d in default_docs if component(d) == "workflow-engine"]
    kinds = sorted(d["kind"] for d in full_docs if component(d) == "workflow-engine")
    assert kinds == ["Deployment", "NetworkPolicy", "Service", "ServiceAccount"]


def test_telemetry_off_removes_alloy_and_kube_state_metrics(values):
    docs = chartlib.render(values, sets=["telemetry.enabled=false"])
    comps = {component(d) for d in docs}
    assert not comps & {"alloy", "kube-state-metrics"}


def test_image_digest_is_appended(values):
    digest = "sha256:" + "ab" * 32
    docs = chartlib.render(values, sets=[f"agentManager.image.digest={digest}", "global.imageRegistry=mirror.local:5000"])
    am = next(d for d in by_kind(docs, "Deployment") if component(d) == "agent-manager")
    assert am["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"mirror.local:5000/kubiyabot/agent-manager:v0.4.3@{digest}"


def test_arm64_nodes(values):
    docs = chartlib.render(values, files=[chartlib.CHART / "ci" / "arm64-values.yaml"])
    for owner, spec in chartlib.pod_templates(docs):
        assert spec["nodeSelector"]["kubernetes.io/arch"] == "arm64", owner["metadata"]["name"]
        assert {"key": "kubiya.ai/runner", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]


def test_helm_test_hook_is_a_job(default_docs):
    hooks = [d for d in default_docs if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    assert [h["kind"] for h in hooks] == ["Job"]
    assert hooks[0]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
