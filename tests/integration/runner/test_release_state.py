"""kubiya.runners.release_state against the local control plane: the namespace looked up in
the same process as the release (the guard's and removal's one read), and the computed values
the verification reads (helm get values --all) instead of a separate helm_info process."""
from __future__ import annotations

import subprocess
import uuid

import pytest

pytestmark = [pytest.mark.cluster]

CHART = """apiVersion: v2
name: tiny
version: 0.3.0
appVersion: "9.9"
"""
TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  greeting: {{ .Values.greeting | quote }}
"""


def tiny_chart(tmp_path):
    chart = tmp_path / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART)
    (chart / "values.yaml").write_text("greeting: hello\nnested:\n  default: true\n")
    (chart / "templates" / "cm.yaml").write_text(TEMPLATE)
    return chart


def test_no_namespace_is_absent_without_asking_helm(cluster, tmp_path):
    missing = "t-rs-none-" + uuid.uuid4().hex[:6]
    # helm is never run for a namespace that does not exist: a helm that cannot run changes nothing
    got = cluster.run_module("release_state", tmp_path, name="kubiya-runner", namespace=missing,
                             binary_path=str(tmp_path / "no-such-helm"), values=True)
    assert not got.failed, got
    r = got.result
    assert (r["state"], r["namespace_exists"], r["namespace_labels"], r["computed_values"]) == ("absent", False, {}, {})
    assert r["reason"] == f"namespace {missing} does not exist"


def test_namespace_labels_and_computed_values_in_one_read(cluster, namespace, tmp_path):
    cluster.kubectl("label", "namespace", namespace, "kubiya.runners/customer=acme")
    empty = cluster.run_module("release_state", tmp_path, name="tiny", namespace=namespace, values=True)
    assert not empty.failed, empty
    assert (empty.result["state"], empty.result["namespace_exists"], empty.result["computed_values"]) == ("absent", True, {})
    assert empty.result["namespace_labels"]["kubiya.runners/customer"] == "acme"

    subprocess.run(["helm", "install", "tiny", str(tiny_chart(tmp_path)), "-n", namespace, "--set", "greeting=hi"],
                   env=cluster.env, check=True, capture_output=True, text=True, timeout=120)
    plain = cluster.run_module("release_state", tmp_path, name="tiny", namespace=namespace)
    got = cluster.run_module("release_state", tmp_path, name="tiny", namespace=namespace, values=True)
    assert not got.failed, got
    r = got.result
    assert (r["state"], r["revision"], r["chart"], r["app_version"]) == ("deployed", 1, "tiny-0.3.0", "9.9")
    # computed: the override and the chart's defaults, as `helm get values --all` gives them
    assert r["computed_values"] == {"greeting": "hi", "nested": {"default": True}}
    assert plain.result["state"] == "deployed" and plain.result["computed_values"] == {}  # only when asked

    # an uninstalled release kept in history (--keep-history): listed, but no values are read
    subprocess.run(["helm", "uninstall", "tiny", "-n", namespace, "--keep-history"],
                   env=cluster.env, check=True, capture_output=True, text=True, timeout=120)
    gone = cluster.run_module("release_state", tmp_path, name="tiny", namespace=namespace, values=True)
    assert (gone.result["state"], gone.result["computed_values"]) == ("uninstalled", {}), gone
