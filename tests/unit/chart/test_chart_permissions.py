"""The rendered RBAC equals permissions.yaml, rule for rule; forbidden probes are denied."""
from __future__ import annotations

import pytest
import yaml

import chartlib
from chartlib import PERMISSIONS, by_kind, component
from ansible_collections.kubiya.runners.plugins.filter.runner_checks import matrix_components

RULE_KEYS = {"apiGroups", "resources", "verbs", "resourceNames"}


def normalize(rules: list[dict]) -> list[dict]:
    return sorted(({k: sorted(v) for k, v in r.items()} for r in rules), key=chartlib.dump)


def test_matrix_format():
    sas = PERMISSIONS["serviceAccounts"]
    assert set(sas) == {"agent-manager", "tool-manager", "kubiya-operator", "workflow-engine",
                        "dagger", "image-updater", "kube-state-metrics", "alloy", "test"}
    for name, sa in sas.items():
        assert set(sa) <= {"automountToken", "rules", "enabledBy"} and {"automountToken", "rules"} <= set(sa), name
        assert isinstance(sa["automountToken"], bool)
        for rule in sa["rules"]:
            assert set(rule) <= RULE_KEYS and {"apiGroups", "resources", "verbs"} <= set(rule), rule
            assert len(rule["resources"]) == 1, f"{name}: one resource per rule: {rule}"
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], f"{name}: wildcard in {rule}"
    for probe in PERMISSIONS["forbidden"]:
        assert set(probe) <= {"verb", "group", "resource", "subresource", "namespace"}
        assert probe.get("namespace", "@release") in ("@release", "@other")


DEFAULTS = yaml.safe_load((chartlib.CHART / "values.yaml").read_text())


def test_enabled_by_names_a_boolean_value_of_the_chart():
    """Every `enabledBy` is a path of values.yaml holding a boolean: a typo would make the role
    expect (or skip) a component for every release."""
    toggles = {n: sa["enabledBy"] for n, sa in PERMISSIONS["serviceAccounts"].items() if "enabledBy" in sa}
    assert toggles == {"workflow-engine": "workflowEngine.enabled", "image-updater": "imageUpdater.enabled",
                       "kube-state-metrics": "telemetry.enabled", "alloy": "telemetry.enabled"}
    for name, path in toggles.items():
        node = DEFAULTS
        for key in path.split("."):
            node = node[key]
        assert isinstance(node, bool), (name, path)


def _sa_components(docs):
    return {component(sa) for sa in by_kind(docs, "ServiceAccount")}


@pytest.mark.parametrize("over", [
    {},
    {"workflowEngine": {"enabled": True}, "imageUpdater": {"enabled": True}},
    {"telemetry": {"enabled": False}},
    {"imageUpdater": {"enabled": True}, "telemetry": {"enabled": False}},
], ids=["defaults", "all-on", "telemetry-off", "updater-only"])
def test_the_rendered_service_accounts_are_the_components_enabled_by_says(values, over):
    """permissions.yaml's enabledBy, read the way the role reads it (runner_matrix_components),
    names exactly the components the chart renders for these values."""
    given = chartlib.deep_merge(values, over)
    docs = chartlib.render(given)
    assert _sa_components(docs) == set(matrix_components(PERMISSIONS, chartlib.deep_merge(DEFAULTS, given)))


def test_rendered_roles_equal_the_matrix(full_docs):
    roles = {component(r): r for r in by_kind(full_docs, "Role")}
    for name, sa in PERMISSIONS["serviceAccounts"].items():
        if not sa["rules"]:
            assert name not in roles, f"{name} needs no Role"
            continue
        assert normalize(roles[name]["rules"]) == normalize(sa["rules"]), name
    assert set(roles) == {n for n, sa in PERMISSIONS["serviceAccounts"].items() if sa["rules"]}


def test_automount_equals_the_matrix(full_docs):
    for sa in by_kind(full_docs, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] == \
            PERMISSIONS["serviceAccounts"][component(sa)]["automountToken"], component(sa)


def test_each_role_is_bound_to_its_own_service_account_only(full_docs):
    roles = {r["metadata"]["name"] for r in by_kind(full_docs, "Role")}
    for rb in by_kind(full_docs, "RoleBinding"):
        assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                 "name": component(rb)}
        assert rb["roleRef"]["name"] in roles
        assert rb["subjects"] == [{"kind": "ServiceAccount", "name": component(rb), "namespace": "runner-ns"}]


def _allows(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               and not r.get("resourceNames") for r in rules)


@pytest.mark.parametrize("probe", PERMISSIONS["forbidden"], ids=lambda p: "-".join(str(v) for v in p.values()))
def test_forbidden_probes_are_denied_by_the_rendered_rbac(full_docs, probe):
    """Offline RBAC evaluation: Roles only grant in the release namespace, nothing cluster-wide."""
    assert not by_kind(full_docs, "ClusterRoleBinding")
    if probe.get("namespace") != "@release":
        return  # no ClusterRoleBinding: nothing outside the release namespace is granted
    resource = probe["resource"] + (f"/{probe['subresource']}" if probe.get("subresource") else "")
    for role in by_kind(full_docs, "Role"):
        assert not _allows(role["rules"], probe["verb"], probe["group"], resource), (component(role), probe)


def test_the_opt_in_cluster_right_is_off_by_default_and_matches_optional(values):
    opt = PERMISSIONS["optional"]["tool-manager"]
    key, dummy, value = opt["value"].partition("=")
    docs = chartlib.render(values, sets=[f"{key}={value}"])
    crs = by_kind(docs, "ClusterRole")
    assert len(crs) == 1 and normalize(crs[0]["rules"]) == normalize(opt["clusterRules"])
    crb = by_kind(docs, "ClusterRoleBinding")[0]
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "tool-manager", "namespace": "runner-ns"}]
    assert crb["roleRef"]["name"] == crs[0]["metadata"]["name"]
    assert "runner-ns" in crs[0]["metadata"]["name"]  # unique per runner in the cluster


def test_kube_state_metrics_role_follows_its_collectors(values):
    docs = chartlib.render(values, sets=["kubeStateMetrics.collectors={pods,services}"])
    role = next(r for r in by_kind(docs, "Role") if component(r) == "kube-state-metrics")
    assert normalize(role["rules"]) == normalize([
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]}])
    ksm = next(d for d in by_kind(docs, "Deployment") if component(d) == "kube-state-metrics")
    assert "--resources=pods,services" in ksm["spec"]["template"]["spec"]["containers"][0]["args"]


def test_readme_permission_table_matches_the_matrix():
    """README section 'Permission matrix' lists every rule of permissions.yaml."""
    readme = (chartlib.CHART / "README.md").read_text()
    section = readme.split("## Permission matrix", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    expected = []
    for name, sa in PERMISSIONS["serviceAccounts"].items():
        if not sa["rules"]:
            expected.append(f"| `{name}` | {'yes' if sa['automountToken'] else 'no'} | - | - | - |")
        for r in sa["rules"]:
            group = r["apiGroups"][0] or "core"
            res = r["resources"][0] + (f" ({', '.join(r['resourceNames'])})" if r.get("resourceNames") else "")
            expected.append(f"| `{name}` | {'yes' if sa['automountToken'] else 'no'} | {group} | {res} | "
                            f"{', '.join(r['verbs'])} |")
    assert rows == expected
