"""kubiya.runners.sa_permissions in offline mode, run as a real module process (and once
through ansible-playbook), on the small manifest fixtures in fixtures/sa_permissions/."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testlib import COLLECTIONS, REPO, run_module

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sa_permissions"
MATRIX = str(FIXTURES / "matrix.yaml")
NS = "ns1"


def manifests_text(*names, namespace=NS):
    return "\n---\n".join((FIXTURES / n).read_text().replace("NAMESPACE", namespace) for n in names)


def test_matching_release_passes(tmp_path):
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, manifests=str(FIXTURES / "release.yaml")).result
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["mode"] == "offline"
    assert result["matrix_path"] == MATRIX
    names = [sa["name"] for sa in result["service_accounts"]]
    assert names == ["default", "r1-agent-manager", "r1-image-updater", "r1-tool-manager"]
    assert result["summary"] == {"service_accounts": 4, "failed": 0, "missing": 0, "excess": 0,
                                 "forbidden_allowed": 0, "risks": 0, "accepted_risks": 2, "workload_findings": 0,
                                 "errors": 0, "checks": 29}
    agent = result["service_accounts"][1]
    assert agent["component"] == "agent-manager" and agent["checks"] == 12
    assert [b["name"] for b in agent["bindings"]] == ["r1-agent-manager"]
    assert result["report"][0].startswith("SERVICEACCOUNT")


def test_extra_bindings_and_removed_rule_fail_with_a_table(tmp_path):
    text = manifests_text("release.yaml", "excess.yaml")
    # and remove "delete jobs" from tool-manager's Role
    text = text.replace("verbs: [create, get, list, watch, delete]", "verbs: [create, get, list, watch]")
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, manifests=text).result
    assert result["failed"] is True and result["changed"] is False
    msg = result["msg"]
    assert msg.startswith("ServiceAccount permissions of release r1 in namespace ns1 differ from the matrix:")
    assert "ClusterRoleBinding/r1-extra-node-reader" in msg
    assert "RoleBinding/ns1/r1-agent-manager-extra" in msg
    missing_row = next(line for line in msg.splitlines() if "MISSING" in line)
    assert "delete" in missing_row and "jobs.batch" in missing_row
    tool = next(sa for sa in result["service_accounts"] if sa["name"] == "r1-tool-manager")
    assert tool["missing"] == [{"verb": "delete", "group": "batch", "resource": "jobs", "namespace": NS}]
    assert {e["granted_by"] for e in tool["excess"]} == {"ClusterRoleBinding/r1-extra-node-reader"}
    assert result["summary"]["failed"] == 2


def test_fail_on_excess_false_passes_on_excess_only(tmp_path):
    text = manifests_text("release.yaml", "excess.yaml").replace(
        "subjects:\n  - {kind: ServiceAccount, name: r1-tool-manager, namespace: ns1}",
        "subjects:\n  - {kind: ServiceAccount, name: somebody-else, namespace: ns1}")
    harmless = text.replace("resources: [secrets]", "resources: [services]")  # agent-manager's extra rule
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, manifests=harmless,
                        fail_on_excess=False).result
    assert not result.get("failed"), result.get("msg")
    assert result["summary"]["excess"] == 1
    assert any("EXCESS" in line for line in result["report"])
    # reading Secrets is an escalation path (token theft): not silenced by fail_on_excess=false
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, manifests=text, fail_on_excess=False).result
    assert result["failed"] and result["summary"]["risks"] == 1
    assert "RISK r1-agent-manager: read-secrets via RoleBinding/ns1/r1-agent-manager-extra" in result["msg"]


def test_manifests_as_directory_and_list_and_matrix_as_dict(tmp_path):
    rendered = tmp_path / "rendered" / "templates"
    rendered.mkdir(parents=True)
    shutil.copy(FIXTURES / "release.yaml", rendered / "all.yaml")
    (rendered / "NOTES.txt").write_text("not yaml: [")
    matrix = yaml.safe_load(Path(MATRIX).read_text())
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=matrix, manifests=str(tmp_path / "rendered")).result
    assert not result.get("failed"), result.get("msg")
    assert result["matrix_path"] == ""
    docs = list(yaml.safe_load_all((FIXTURES / "release.yaml").read_text()))
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX,
                        manifests=[{"kind": "List", "apiVersion": "v1", "items": docs}]).result
    assert result["summary"]["service_accounts"] == 4 and not result.get("failed")


def test_empty_render_is_an_error(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n# nothing rendered\n")
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, manifests=str(empty)).result
    assert result["failed"] and result["msg"] == "manifests hold no Kubernetes object (did the render fail?)"


def test_unknown_component_and_missing_account_are_errors(tmp_path):
    text = manifests_text("release.yaml").replace("app.kubernetes.io/component: image-updater",
                                                  "app.kubernetes.io/component: mystery")
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, manifests=text).result
    assert result["failed"]
    assert 'component "mystery" is missing from the matrix' in result["msg"]
    assert 'component "image-updater": no ServiceAccount labelled' in result["msg"]


def test_bad_matrix_is_named(tmp_path):
    bad = tmp_path / "permissions.yaml"
    bad.write_text("serviceAccounts:\n  a:\n    rules:\n      - {apiGroups: [''], resources: pods, verbs: [get]}\n")
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=str(bad), manifests=str(FIXTURES / "release.yaml")).result
    assert result["failed"]
    assert result["msg"] == '%s: serviceAccounts.a.rules[0]: "resources" must be a list, not the string \'pods\'' % bad
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=str(tmp_path / "nope.yaml"),
                        manifests=str(FIXTURES / "release.yaml")).result
    assert result["failed"] and "does not exist" in result["msg"]


def test_extra_forbidden_probe_option(tmp_path):
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX,
                        manifests=str(FIXTURES / "release.yaml"),
                        extra_forbidden=[{"verb": "list", "resource": "pods", "namespace": "@release"}]).result
    # agent-manager may list pods by the matrix (probe skipped); the other two must not and do not
    assert not result.get("failed"), result.get("msg")
    checks = {sa["name"]: sa["checks"] for sa in result["service_accounts"]}
    assert checks == {"default": 5, "r1-agent-manager": 12, "r1-image-updater": 5, "r1-tool-manager": 10}
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX,
                        manifests=str(FIXTURES / "release.yaml"),
                        extra_forbidden=[{"verb": "list", "resource": "pods"}]).result
    assert not result.get("failed")


def test_the_module_alone_needs_the_matrix_given(tmp_path):
    """The default matrix is the controller's (the action plugin's): the module itself never
    searches sys.path or collection paths on the host it runs on."""
    root = tmp_path / "colls"
    chart = root / "ansible_collections" / "kubiya" / "runners" / "charts" / "kubiya-runner"
    chart.mkdir(parents=True)
    shutil.copy(MATRIX, chart / "permissions.yaml")
    result = run_module("sa_permissions", tmp_path, env={"ANSIBLE_COLLECTIONS_PATH": str(root), "HOME": str(tmp_path)},
                        namespace=NS, release="r1", manifests=str(FIXTURES / "release.yaml")).result
    assert result["failed"] and result["msg"].startswith("matrix: no matrix given"), result["msg"]


def test_check_mode_runs_fully(tmp_path):
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, _ansible_check_mode=True,
                        manifests=manifests_text("release.yaml", "excess.yaml")).result
    assert result["failed"] and result["summary"]["excess"] == 3  # evaluated, not skipped


def test_live_mode_reports_an_unreachable_cluster(tmp_path):
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX, host="https://127.0.0.1:9",
                        api_key="token-%s" % tmp_path.name, request_timeout=2).result
    assert result["failed"]
    assert result["msg"].startswith("cannot read the RBAC state of the cluster: cannot reach the API server"), \
        result["msg"]
    assert "token-%s" % tmp_path.name not in json.dumps(result)  # api_key is no_log


def test_through_ansible_playbook_in_check_mode(tmp_path):
    """Through the action plugin: a matrix path relative to the playbook's files/ is read on the
    controller; without matrix the collection's own permissions.yaml is used; a missing file is
    an error naming it, before the module runs."""
    (tmp_path / "files").mkdir()
    shutil.copy(MATRIX, tmp_path / "files" / "my-matrix.yaml")
    task = {"namespace": NS, "release": "r1", "manifests": str(FIXTURES / "release.yaml")}
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "check", "register": "out", "kubiya.runners.sa_permissions": dict(task, matrix=MATRIX)},
            {"name": "relative", "register": "rel", "kubiya.runners.sa_permissions": dict(task, matrix="my-matrix.yaml")},
            {"name": "default", "register": "dflt", "ignore_errors": True, "kubiya.runners.sa_permissions": task},
            {"name": "missing", "register": "miss", "ignore_errors": True,
             "kubiya.runners.sa_permissions": dict(task, matrix="no-such-matrix.yaml")},
            {"ansible.builtin.assert": {"that": [
                "out is not changed", "out.summary.checks == 29", "out.service_accounts | length == 4",
                "out.matrix_path == '%s'" % MATRIX,
                "rel.matrix_path == '%s'" % (tmp_path / "files" / "my-matrix.yaml"), "rel.summary.checks == 29",
                "dflt.matrix_path is match('.*/charts/kubiya-runner/permissions.yaml$')",
                "miss is failed", "miss.msg is match('matrix: no-such-matrix.yaml was not found on the controller')",
            ]}}],
    }]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_HOME=str(tmp_path / "ah"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    venv_bin = Path(sys.executable).parent
    proc = subprocess.run([str(venv_bin / "ansible-playbook"), "--check", "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stats = json.loads(proc.stdout)["stats"]["localhost"]
    assert stats["changed"] == 0 and stats["ok"] == 5 and stats["ignored"] == 2, stats


CHART = REPO / "charts" / "kubiya-runner"
HELM = REPO / ".tools" / "bin" / "helm"


@pytest.mark.skipif(not (CHART / "permissions.yaml").is_file() or not HELM.exists(),
                    reason="needs the chart's permissions.yaml and helm (make setup)")
def test_the_charts_own_render_matches_its_matrix(tmp_path):
    """Contract with charts/kubiya-runner: its matrix loads, and its rendered RBAC holds exactly that matrix
    (evaluated offline with the default matrix path, as the role would use it)."""
    proc = subprocess.run([str(HELM), "template", "r1", str(CHART), "--namespace", "ns1", "--kube-version", "v1.36.3",
                           "-f", str(CHART / "ci" / "minimal-values.yaml")], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]
    components = sorted({d["metadata"]["labels"]["app.kubernetes.io/component"] for d in rendered
                         if d["kind"] == "ServiceAccount"})
    result = run_module("sa_permissions", tmp_path, namespace="ns1", matrix=str(CHART / "permissions.yaml"),
                        release="r1", manifests=proc.stdout, components=components).result
    assert result["matrix_path"].endswith("charts/kubiya-runner/permissions.yaml")
    assert not result.get("failed"), result.get("msg")
    # every component's account, and the namespace's default one (holding nothing)
    assert result["summary"]["service_accounts"] == len(components) + 1 >= 6
    # every workload of the chart runs as its component's account ...
    workloads = result["workloads"]
    assert workloads and {w["kind"] for w in workloads} >= {"Deployment", "StatefulSet"}
    assert [w for w in workloads if w["severity"] == "fail"] == []
    for w in workloads:
        if w["component"] in components:
            assert w["service_account"] == w["expected_service_account"], w
    # ... and the escalation paths of the design are all accepted by the matrix, none unaccepted
    assert result["summary"]["risks"] == 0 and result["summary"]["accepted_risks"] >= 4
    print("\n".join(result["report"]))


def test_offline_failure_names_the_account_the_workload_and_the_risk(tmp_path):
    """The module's own report, from rendered objects: a binding to the namespace's default account, a
    Deployment running as another component's account, and an escalation path."""
    extra = yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "default-tokens"},
         "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "default-tokens"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "default-tokens"},
         "subjects": [{"kind": "ServiceAccount", "name": "default"}]},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "agent-manager", "labels": {"app.kubernetes.io/instance": "r1"}},
         "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {
             "metadata": {"labels": {"app": "a", "app.kubernetes.io/instance": "r1",
                                     "app.kubernetes.io/component": "agent-manager"}},
             "spec": {"serviceAccountName": "r1-tool-manager", "containers": [{"name": "c", "image": "x:1"}]}}}},
    ])
    result = run_module("sa_permissions", tmp_path, namespace=NS, release="r1", matrix=MATRIX,
                        manifests=manifests_text("release.yaml") + "\n---\n" + extra).result
    assert result["failed"] is True and result["changed"] is False
    msg = result["msg"]
    assert "RISK default: token-request via RoleBinding/ns1/default-tokens: can mint a token for any " \
           "ServiceAccount of namespace ns1 (TokenRequest)" in msg
    assert "WORKLOAD Deployment/agent-manager (component agent-manager): runs as r1-tool-manager, not as " \
           "r1-agent-manager" in msg
    assert result["workloads"] == [{"kind": "Deployment", "name": "agent-manager", "component": "agent-manager",
                                    "service_account": "r1-tool-manager",
                                    "expected_service_account": "r1-agent-manager", "token": True,
                                    "problem": "runs as r1-tool-manager, not as r1-agent-manager, the "
                                               "ServiceAccount of its component agent-manager",
                                    "severity": "fail"}]
    summary = result["summary"]
    assert (summary["risks"], summary["workload_findings"], summary["accepted_risks"]) == (1, 1, 2)
