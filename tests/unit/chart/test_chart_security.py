"""Every container: pinned image, IfNotPresent, requests+limits, restricted securityContext, probes."""
from __future__ import annotations

import re

import pytest

import chartlib
from chartlib import component

# dagger is the documented privileged exception
PRIVILEGED = {"dagger"}
# containers that expose health endpoints get liveness and readiness probes
PROBED = {"agent-manager", "tool-manager", "kubiya-sdk-server", "workflow-engine",
          "kube-state-metrics", "alloy", "dagger-engine"}
READ_ONLY_ROOT = {"agent-manager", "kubiya-sdk-server", "kubiya-operator", "workflow-engine",
                  "image-updater", "kube-state-metrics", "alloy", "health", "ca-bundle"}


def all_containers(docs):
    for owner, spec in chartlib.pod_templates(docs):
        for c in chartlib.containers(spec):
            yield owner, spec, c


def test_images_pinned_and_if_not_present(full_docs):
    for owner, dummy, c in all_containers(full_docs):
        ref = c["image"]
        name, dummy, tag = ref.split("@")[0].rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, ref
        assert c["imagePullPolicy"] == "IfNotPresent", c["name"]


def test_requests_and_limits_everywhere(full_docs):
    for dummy, dummy2, c in all_containers(full_docs):
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) >= {"cpu", "memory"}, (c["name"], kind)


def test_restricted_security_context(full_docs):
    for owner, spec, c in all_containers(full_docs):
        if component(owner) in PRIVILEGED:
            continue
        pod = spec["securityContext"]
        sc = c["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, owner["metadata"]["name"]
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["privileged"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["runAsNonRoot"] is True
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc["readOnlyRootFilesystem"] is (c["name"] in READ_ONLY_ROOT), c["name"]
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        for v in spec.get("volumes", []):
            assert set(v) - {"name"} <= {"secret", "configMap", "emptyDir", "persistentVolumeClaim",
                                         "projected", "downwardAPI"}, v


def test_read_only_root_has_a_writable_tmp(full_docs):
    for dummy, spec, c in all_containers(full_docs):
        if c["securityContext"].get("readOnlyRootFilesystem") and c["name"] not in ("kube-state-metrics", "ca-bundle", "health"):
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, c["name"]
            vol = next(v for v in spec["volumes"] if v["name"] == mounts["/tmp"])
            assert "emptyDir" in vol


def test_dagger_is_the_only_privileged_workload(full_docs):
    privileged = [(component(o), c["name"]) for o, dummy, c in all_containers(full_docs)
                  if c.get("securityContext", {}).get("privileged")]
    assert privileged == [("dagger", "dagger-engine")]


def test_image_updater_is_not_root_and_has_no_cluster_rights(full_docs):
    cron = next(d for d in full_docs if d["kind"] == "CronJob")
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] != 0 and spec["securityContext"]["runAsNonRoot"]
    assert not [d for d in full_docs if d["kind"].startswith("Cluster")]


def test_probes_where_the_app_has_them(full_docs):
    seen = set()
    for owner, dummy, c in all_containers(full_docs):
        if c["name"] in PROBED:
            seen.add(c["name"])
            assert "readinessProbe" in c and "livenessProbe" in c, c["name"]
    assert seen == PROBED
    paths = {c["name"]: c["livenessProbe"]["httpGet"]["path"]
             for dummy, dummy2, c in all_containers(full_docs) if "httpGet" in c.get("livenessProbe", {})}
    assert paths["agent-manager"] == "/healthz"
    assert paths["tool-manager"] == "/health"
    assert paths["kubiya-sdk-server"] == "/health"


@pytest.mark.parametrize("docs_fixture", ["default_docs", "full_docs"])
def test_no_secret_material_in_env(docs_fixture, request):
    for dummy, dummy2, c in all_containers(request.getfixturevalue(docs_fixture)):
        for e in c.get("env", []):
            if re.search(r"SECRET|PASSWORD|TOKEN|CREDS", e["name"]) and "value" in e:
                assert e["value"].startswith("/"), f"{c['name']}: {e['name']} holds a value, not a path"
