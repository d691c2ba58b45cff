"""The real chart, installed with helm on the local control plane, reviewed live with the chart's own
permission matrix: it passes, with the design's escalation paths listed as accepted -- and the
attacks a review must not miss are caught on it."""
from __future__ import annotations

import json
import sys
import time

import pytest
import yaml

from testlib import REPO

sys.path.insert(0, str(REPO / "tests" / "unit" / "chart"))
import chartlib  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# the module alone reads the matrix it is given (the action plugin's default is the chart's)
MATRIX = str(chartlib.CHART / "permissions.yaml")


@pytest.fixture
def installed(cluster, namespace, tmp_path):
    """The chart as release "rel" (every pod Ready), and the components its ServiceAccounts stand for."""
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=privileged")
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(chartlib.base_values()))
    env = dict(cluster.env, KUBECONFIG=str(cluster.kubeconfig))
    chartlib.helm("install", "rel", str(chartlib.CHART), "-n", namespace, "-f", str(values), "--wait",
                  "--timeout", "5m", env=env, timeout=600)
    listed = cluster.kubectl("get", "serviceaccounts", "-n", namespace, "-l", "app.kubernetes.io/instance=rel",
                             "-o", "json")
    sas = json.loads(listed.stdout)["items"]
    components = sorted(sa["metadata"]["labels"]["app.kubernetes.io/component"] for sa in sas)
    yield namespace, components
    chartlib.helm("uninstall", "rel", "-n", namespace, "--wait", "--timeout", "3m", env=env, check=False,
                  timeout=300)


def test_installed_chart_passes_with_accepted_risks_and_a_changed_account_fails(cluster, installed, tmp_path):
    namespace, components = installed
    result = cluster.run_module("sa_permissions", tmp_path, matrix=MATRIX, namespace=namespace, release="rel", components=components).result
    assert not result.get("failed"), result.get("msg")
    assert result["matrix_path"].endswith("charts/kubiya-runner/permissions.yaml")
    names = [sa["name"] for sa in result["service_accounts"]]
    assert "default" in names and len(names) == len(components) + 1
    kinds = {w["kind"] for w in result["workloads"]}
    assert {"Deployment", "ReplicaSet", "StatefulSet", "Pod"} <= kinds
    assert [w for w in result["workloads"] if w["severity"] == "fail"] == []
    assert result["summary"]["risks"] == 0 and result["summary"]["accepted_risks"] >= 4
    tool = next(sa for sa in result["service_accounts"] if sa["component"] == "tool-manager")
    assert {r["risk"] for r in tool["risks"] if r["accepted"]} >= {"assign-service-account", "read-secrets"}

    # an attacker (or a careless edit) lets agent-manager's pods run as tool-manager's account
    cluster.kubectl("patch", "deployment", "agent-manager", "-n", namespace, "--type=merge", "-p",
                    json.dumps({"spec": {"template": {"spec": {"serviceAccountName": "tool-manager"}}}}))
    deadline = time.monotonic() + 120
    while True:  # the new ReplicaSet's pod exists
        pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l",
                                          "app.kubernetes.io/component=agent-manager", "-o", "json").stdout)["items"]
        if any(p["spec"].get("serviceAccountName") == "tool-manager" for p in pods):
            break
        assert time.monotonic() < deadline, "no pod of the patched Deployment appeared"
        time.sleep(2)
    result = cluster.run_module("sa_permissions", tmp_path, matrix=MATRIX, namespace=namespace, release="rel", components=components).result
    assert result["failed"] is True
    wrong = {(w["kind"], w["severity"]) for w in result["workloads"]
             if w["service_account"] == "tool-manager" and w["component"] == "agent-manager"}
    assert {("Deployment", "fail"), ("ReplicaSet", "fail"), ("Pod", "fail")} <= wrong
    assert "WORKLOAD Deployment/agent-manager (component agent-manager): runs as tool-manager, not as " \
           "agent-manager" in result["msg"]
