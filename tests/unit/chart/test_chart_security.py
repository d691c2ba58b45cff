"""Every container: pinned image, IfNotPresent, requests+limits, restricted securityContext
(uid >= 10000, read-only root), probes, secrets only as files."""
from __future__ import annotations

import re

import pytest
import yaml

import chartlib
from chartlib import component

# dagger is the documented privileged exception
PRIVILEGED = {"dagger"}
# containers that expose health endpoints get liveness and readiness probes; kubiya-operator
# serves no port and gets exec probes
PROBED = {"agent-manager", "tool-manager", "kubiya-sdk-server", "workflow-engine",
          "kube-state-metrics", "alloy", "dagger-engine", "kubiya-operator"}
# containers that need no writable /tmp (they write nothing)
NO_TMP = {"kube-state-metrics", "ca-bundle", "health"}
RENDERS = ["default_docs", "full_docs", "hardened_docs"]


def all_containers(docs):
    for owner, spec in chartlib.pod_templates(docs):
        for c in chartlib.containers(spec):
            yield owner, spec, c


def every_render(request):
    """(name, docs) of the default, full and hardened renders and of every ci/ values file."""
    for name in RENDERS:
        yield name, request.getfixturevalue(name)
    yield from request.getfixturevalue("ci_docs").items()


def test_images_pinned_and_if_not_present(request):
    """Every rendered image names one build: a version or commit tag, never a moving tag."""
    for name, docs in every_render(request):
        for owner, dummy, c in all_containers(docs):
            ref = c["image"]
            repo, dummy, tag = ref.split("@")[0].rpartition(":")
            assert repo and tag and "/" not in tag, (name, ref)
            assert re.match(chartlib.PINNED_TAG, tag), f"{name}: {ref} has a moving tag"
            assert tag not in chartlib.MOVING_TAGS, (name, ref)
            assert c["imagePullPolicy"] == "IfNotPresent", c["name"]


def _image_keys(values: dict, prefix=()):
    """Paths of every `image` block (registry/repository/tag/digest) in a values tree."""
    if isinstance(values, dict):
        if {"repository", "tag", "digest"} <= set(values):
            yield prefix
            return
        for k, v in values.items():
            yield from _image_keys(v, prefix + (k,))


def test_default_values_pin_every_image_by_tag():
    files = [chartlib.CHART / "values.yaml"] + [chartlib.CHARTS / s / "values.yaml" for s in chartlib.SUBCHARTS]
    seen = 0
    for f in files:
        values = yaml.safe_load(f.read_text())
        for path in _image_keys(values):
            image = values
            for k in path:
                image = image[k]
            seen += 1
            assert re.match(chartlib.PINNED_TAG, str(image["tag"])), f"{f.parent.name}: {'.'.join(path)}.tag={image['tag']}"
            assert image["digest"] == ""
    assert seen == 11  # dagger, workflow-engine, image-updater, alloy, prometheus-agent, ksm, test, am, tm, sdk, operator


def test_digest_pins_every_image(full_values):
    """image.digest on every image: every rendered reference is repo:tag@digest."""
    digest = "sha256:" + "cd" * 32
    over: dict = {}
    for path in _image_keys(yaml.safe_load((chartlib.CHART / "values.yaml").read_text())):
        if path[0] == "global":
            continue
        node = over
        for k in path:
            node = node.setdefault(k, {})
        node["digest"] = digest
    for sub in chartlib.SUBCHARTS:
        for path in _image_keys(yaml.safe_load((chartlib.CHARTS / sub / "values.yaml").read_text())):
            node = over.setdefault(chartlib.ALIASES[sub], {})
            for k in path:
                node = node.setdefault(k, {})
            node["digest"] = digest
    for collector in ("alloy", "prometheus-agent"):
        values = chartlib.deep_merge(full_values, chartlib.deep_merge(over, {"telemetry": {"collector": collector}}))
        docs = chartlib.render(values)
        refs = [c["image"] for dummy, dummy2, c in all_containers(docs)]
        assert refs and all(re.match(r"^[^@]+:[^@/]+@" + digest + "$", r) for r in refs), refs


@pytest.mark.parametrize("tag", chartlib.MOVING_TAGS)
def test_moving_tag_refused_without_digest_accepted_with_it(values, tag):
    err = chartlib.render_fails(values, sets=[f"kubiyaOperator.image.tag={tag}"])
    assert "/image/tag" in err or "moves" in err or "latest" in err, err
    if tag == "latest":
        return  # never, not even with a digest
    digest = "sha256:" + "ef" * 32
    docs = chartlib.render(values, sets=[f"kubiyaOperator.image.tag={tag}", f"kubiyaOperator.image.digest={digest}"])
    op = next(d for d in docs if d["kind"] == "Deployment" and component(d) == "kubiya-operator")
    assert op["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"ghcr.io/kubiyabot/kubiya-operator:{tag}@{digest}"


def test_moving_tag_refused_by_the_templates_alone():
    """A subchart rendered without the umbrella schema still refuses a moving tag."""
    proc = chartlib.helm("template", "r", str(chartlib.CHARTS / "kubiya-operator"),
                         "--kube-version", chartlib.KUBE_VERSION, "--set", "global.runner.name=r",
                         "--set", "global.runner.organization=o",
                         "--set", "global.runner.uuid=00000000-0000-4000-8000-000000000000",
                         "--set", "image.tag=runner_v2", "--skip-schema-validation", check=False)
    assert proc.returncode != 0 and "moves" in proc.stderr, proc.stderr


def test_requests_and_limits_everywhere(full_docs):
    for dummy, dummy2, c in all_containers(full_docs):
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) >= {"cpu", "memory"}, (c["name"], kind)


@pytest.mark.parametrize("docs_fixture", RENDERS)
def test_restricted_security_context(docs_fixture, request):
    for owner, spec, c in all_containers(request.getfixturevalue(docs_fixture)):
        if component(owner) in PRIVILEGED:
            continue
        pod = spec["securityContext"]
        sc = c["securityContext"]
        assert pod["runAsNonRoot"] is True, owner["metadata"]["name"]
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["privileged"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["runAsNonRoot"] is True
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        for v in spec.get("volumes", []):
            assert set(v) - {"name"} <= {"secret", "configMap", "emptyDir", "persistentVolumeClaim",
                                         "projected", "downwardAPI"}, v


def test_uids_are_at_least_10000(request):
    """No uid or gid below 10000 anywhere (no clash with users of the node), every render."""
    for name, docs in every_render(request):
        for owner, spec in chartlib.pod_templates(docs):
            if component(owner) in PRIVILEGED:
                continue
            pod = spec["securityContext"]
            for key in ("runAsUser", "runAsGroup", "fsGroup"):
                assert pod[key] >= 10000, (name, owner["metadata"]["name"], key, pod[key])
            for c in chartlib.containers(spec):
                for key in ("runAsUser", "runAsGroup"):
                    assert c["securityContext"].get(key, 10000) >= 10000, (name, c["name"], key)


def test_low_uid_refused_by_the_schema(values):
    err = chartlib.render_fails(values, sets=["agentManager.podSecurityContext.runAsUser=1000"])
    assert "/podSecurityContext/runAsUser" in err


def test_every_container_has_a_read_only_root(request):
    """Read-only root filesystem everywhere but dagger, with a writable emptyDir /tmp."""
    for name, docs in every_render(request):
        for owner, spec, c in all_containers(docs):
            if component(owner) in PRIVILEGED:
                continue
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
            if c["name"] in NO_TMP:
                continue
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, (name, c["name"])
            vol = next(v for v in spec["volumes"] if v["name"] == mounts["/tmp"])
            assert "emptyDir" in vol


def test_tool_manager_writable_paths_get_an_emptydir(values):
    docs = chartlib.render(values, sets=["toolManager.writablePaths={/var/cache/kubiya,/home/app}"])
    tm = next(d for d in docs if d["kind"] == "Deployment" and component(d) == "tool-manager")
    spec = tm["spec"]["template"]["spec"]
    c = spec["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in spec["volumes"]}
    for path in ("/var/cache/kubiya", "/home/app"):
        assert "emptyDir" in vols[mounts[path]]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_dagger_is_the_only_privileged_workload(full_docs):
    privileged = [(component(o), c["name"]) for o, dummy, c in all_containers(full_docs)
                  if c.get("securityContext", {}).get("privileged")]
    assert privileged == [("dagger", "dagger-engine")]


def test_image_updater_is_not_root_and_has_no_cluster_rights(full_docs):
    cron = next(d for d in full_docs if d["kind"] == "CronJob")
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] != 0 and spec["securityContext"]["runAsNonRoot"]
    assert not [d for d in full_docs if d["kind"].startswith("Cluster")]


def test_image_updater_is_opt_in(default_docs, values):
    """Off by default (it breaks changed=0 and applies unsigned image lists); on when asked."""
    assert not [d for d in default_docs if component(d) == "image-updater"]
    docs = chartlib.render(values, sets=["imageUpdater.enabled=true"])
    assert sorted(d["kind"] for d in docs if component(d) == "image-updater") == [
        "ConfigMap", "CronJob", "NetworkPolicy", "Role", "RoleBinding", "ServiceAccount"]


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


def test_kubiya_operator_has_exec_probes(default_docs):
    """kubiya-operator serves no port: its liveness and readiness probes are exec probes."""
    op = next(d for d in default_docs if d["kind"] == "Deployment" and component(d) == "kubiya-operator")
    c = op["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in c
    for probe in ("livenessProbe", "readinessProbe"):
        assert set(c[probe]) >= {"exec", "periodSeconds", "failureThreshold"}, probe
        assert c[probe]["exec"]["command"][0] == "/bin/sh"
        assert "NATS_CREDENTIAL_FILE" in c[probe]["exec"]["command"][-1]


@pytest.mark.parametrize("docs_fixture", ["default_docs", "full_docs"])
def test_no_secret_material_in_env(docs_fixture, request):
    for dummy, dummy2, c in all_containers(request.getfixturevalue(docs_fixture)):
        for e in c.get("env", []):
            if re.search(r"SECRET|PASSWORD|TOKEN|CREDS", e["name"]) and "value" in e:
                assert e["value"].startswith("/"), f"{c['name']}: {e['name']} holds a value, not a path"


def test_secrets_reach_containers_only_as_files(request):
    """No env var or envFrom reads a Secret, in any render; the Secrets are mounted volumes."""
    for name, docs in every_render(request):
        for dummy, spec, c in all_containers(docs):
            for e in c.get("env", []):
                assert "secretKeyRef" not in e.get("valueFrom", {}), (name, c["name"], e["name"])
            assert not any("secretRef" in f for f in c.get("envFrom", [])), (name, c["name"])
    alloy = next(d for d in request.getfixturevalue("default_docs")
                 if d["kind"] == "Deployment" and component(d) == "alloy")
    spec = alloy["spec"]["template"]["spec"]
    vol = next(v for v in spec["volumes"] if v["name"] == "remote-write-secret")
    assert vol["secret"]["secretName"] == "rel-remote-write"
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "remote-write-secret")
    assert mount == {"name": "remote-write-secret", "mountPath": "/var/run/secrets/kubiya/remote-write",
                     "readOnly": True}


def test_extra_env_secret_key_ref_refused(values):
    bad = chartlib.deep_merge(values, {"agentManager": {"extraEnv": [
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}})
    err = chartlib.render_fails(bad)
    assert "/extraEnv/0/valueFrom" in err
