"""Unit tests for plugins/module_utils/rbac.py: RBAC rule matching, matrix handling, excess
detection and the report table. No cluster; the live agreement of the matcher with the API
server's authorizer is checked in tests/integration/sa_permissions/."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.kubiya.runners.plugins.module_utils import rbac

FIXTURES = Path(__file__).parent / "fixtures" / "sa_permissions"
NS = "ns1"


def rule(groups, resources, verbs, names=None, urls=None):
    r = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    if urls:
        r = {"nonResourceURLs": urls, "verbs": verbs}
    return rbac._cluster_rule(r)


def acc(verb, group="", resource="", name="", namespace=NS, path=""):
    return rbac.make_access(verb, group, resource, name=name, namespace=namespace, path=path)


def load_matrix():
    return rbac.load_matrix(yaml.safe_load((FIXTURES / "matrix.yaml").read_text()))


def load_docs(*names, namespace=NS):
    docs = []
    for name in names:
        text = (FIXTURES / name).read_text().replace("NAMESPACE", namespace)
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def run_review(docs, matrix=None, namespace=NS, release="r1", **kwargs):
    matrix = matrix or load_matrix()
    index = rbac.RbacIndex.from_objects(docs, namespace)
    sas = rbac.release_service_accounts(index, namespace, release)
    return rbac.review(matrix, namespace, release, sas, index,
                       lambda ns, name, bindings: rbac.offline_checker(bindings), **kwargs)


def by_name(outcome):
    return {r["name"]: r for r in outcome["service_accounts"]}


# --------------------------------------------------------------------------- rule matching

@pytest.mark.parametrize("r, access, allowed", [
    (rule([""], ["pods"], ["get"]), acc("get", resource="pods"), True),
    (rule([""], ["pods"], ["get"]), acc("list", resource="pods"), False),
    (rule([""], ["pods"], ["*"]), acc("deletecollection", resource="pods"), True),
    (rule(["*"], ["deployments"], ["get"]), acc("get", "apps", "deployments"), True),
    (rule(["apps"], ["deployments"], ["get"]), acc("get", "", "deployments"), False),
    (rule(["apps"], ["*"], ["get"]), acc("get", "apps", "statefulsets"), True),
    # "*" covers subresources too
    (rule(["apps"], ["*"], ["get"]), acc("get", "apps", "deployments/scale"), True),
    # a resource does not imply its subresources
    (rule([""], ["pods"], ["create"]), acc("create", resource="pods/exec"), False),
    (rule([""], ["pods/exec"], ["create"]), acc("create", resource="pods/exec"), True),
    # "*/scale" is the scale subresource of every resource, and nothing else
    (rule(["apps"], ["*/scale"], ["update"]), acc("update", "apps", "deployments/scale"), True),
    (rule(["apps"], ["*/scale"], ["update"]), acc("update", "apps", "deployments"), False),
    (rule(["apps"], ["*/scale"], ["update"]), acc("update", "apps", "deployments/status"), False),
    # "pods/*" is NOT a wildcard in RBAC: it only matches the literal "pods/*"
    (rule([""], ["pods/*"], ["get"]), acc("get", resource="pods/log"), False),
    # resourceNames: a named rule allows only those names, never an unnamed request (list/create)
    (rule([""], ["configmaps"], ["get"], names=["a"]), acc("get", resource="configmaps", name="a"), True),
    (rule([""], ["configmaps"], ["get"], names=["a"]), acc("get", resource="configmaps", name="b"), False),
    (rule([""], ["configmaps"], ["get"], names=["a"]), acc("get", resource="configmaps"), False),
    (rule([""], ["configmaps"], ["get"]), acc("get", resource="configmaps", name="anything"), True),
    # non-resource URLs, with a trailing-* prefix match
    (rule([], [], ["get"], urls=["/metrics"]), acc("get", path="/metrics", namespace=""), True),
    (rule([], [], ["get"], urls=["/healthz/*"]), acc("get", path="/healthz/etcd", namespace=""), True),
    (rule([], [], ["get"], urls=["/healthz"]), acc("get", path="/healthz/etcd", namespace=""), False),
    (rule([""], ["pods"], ["get"]), acc("get", path="/metrics", namespace=""), False),
])
def test_rule_allows(r, access, allowed):
    assert rbac.rule_allows(r, access) is allowed


def test_subject_matching_follows_rbac():
    # a ServiceAccount subject without namespace means the binding's namespace (RoleBinding only)
    assert rbac.subject_applies({"kind": "ServiceAccount", "name": "sa"}, NS, "sa", NS)
    assert not rbac.subject_applies({"kind": "ServiceAccount", "name": "sa"}, NS, "sa", "")
    assert not rbac.subject_applies({"kind": "ServiceAccount", "name": "sa", "namespace": "x"}, NS, "sa", NS)
    assert rbac.subject_applies({"kind": "User", "name": "system:serviceaccount:ns1:sa"}, NS, "sa")
    assert not rbac.subject_applies({"kind": "User", "name": "sa"}, NS, "sa")
    for group in ("system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"):
        assert rbac.subject_applies({"kind": "Group", "name": group}, NS, "sa")
    assert not rbac.subject_applies({"kind": "Group", "name": "system:serviceaccounts:other"}, NS, "sa")


def _binding_objects(kind, role_kind, binding_ns=None, rules=None):
    role = {"kind": role_kind, "metadata": {"name": "r"}, "rules": rules or [rule([""], ["pods"], ["get"])]}
    binding = {"kind": kind, "metadata": {"name": "b"},
               "roleRef": {"kind": role_kind, "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": NS}]}
    if binding_ns:
        binding["metadata"]["namespace"] = binding_ns
        if role_kind == "Role":
            role["metadata"]["namespace"] = binding_ns
    return [role, binding]


def test_rolebinding_grants_only_in_its_namespace_even_for_a_clusterrole():
    index = rbac.RbacIndex.from_objects(_binding_objects("RoleBinding", "ClusterRole", "other"), NS)
    bindings = index.bindings_for(NS, "sa")
    assert [b["name"] for b in bindings] == ["b"]
    assert rbac.allowed_by(acc("get", resource="pods", namespace="other"), bindings)
    assert not rbac.allowed_by(acc("get", resource="pods", namespace=NS), bindings)
    assert not rbac.allowed_by(acc("get", resource="pods", namespace=""), bindings)  # all namespaces


def test_clusterrolebinding_grants_everywhere():
    index = rbac.RbacIndex.from_objects(_binding_objects("ClusterRoleBinding", "ClusterRole"), NS)
    bindings = index.bindings_for(NS, "sa")
    for ns in (NS, "other", ""):
        assert rbac.allowed_by(acc("get", resource="pods", namespace=ns), bindings)


def test_rolebinding_cannot_grant_non_resource_urls():
    objs = _binding_objects("RoleBinding", "ClusterRole", NS, rules=[rule([], [], ["get"], urls=["*"])])
    bindings = rbac.RbacIndex.from_objects(objs, NS).bindings_for(NS, "sa")
    assert not rbac.allowed_by(acc("get", path="/metrics", namespace=""), bindings)
    assert rbac.find_excess(bindings, NS, [], []) == []


def test_missing_role_grants_nothing_and_is_reported():
    objs = _binding_objects("RoleBinding", "Role", NS)[1:]  # binding without its Role
    bindings = rbac.RbacIndex.from_objects(objs, NS).bindings_for(NS, "sa")
    assert bindings[0]["role_found"] is False
    assert not rbac.allowed_by(acc("get", resource="pods"), bindings)


def test_aggregated_clusterrole_is_resolved_offline():
    docs = [
        {"kind": "ClusterRole", "metadata": {"name": "agg"},
         "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]}},
        {"kind": "ClusterRole", "metadata": {"name": "part", "labels": {"agg": "yes"}},
         "rules": [rule(["batch"], ["jobs"], ["get"])]},
        {"kind": "ClusterRole", "metadata": {"name": "other", "labels": {"agg": "no"}},
         "rules": [rule([""], ["secrets"], ["get"])]},
        {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": NS},
         "roleRef": {"kind": "ClusterRole", "name": "agg"},
         "subjects": [{"kind": "ServiceAccount", "name": "sa"}]},
    ]
    bindings = rbac.RbacIndex.from_objects(docs, NS).bindings_for(NS, "sa")
    assert rbac.allowed_by(acc("get", "batch", "jobs"), bindings)
    assert not rbac.allowed_by(acc("get", "", "secrets"), bindings)


@pytest.mark.parametrize("selector, labels, matches", [
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
])
def test_selector_matches(selector, labels, matches):
    assert rbac.selector_matches(selector, labels) is matches


# --------------------------------------------------------------------------- matrix

def test_matrix_fixture_loads_and_expands():
    matrix = load_matrix()
    assert set(matrix["serviceAccounts"]) == {"agent-manager", "tool-manager", "image-updater"}
    agent = rbac.expand_rules(matrix["serviceAccounts"]["agent-manager"]["rules"], NS)
    # 2 resources x 3 verbs + 1 named configmap x 2 verbs
    assert len(agent) == 8
    assert acc("get", resource="pods/log") in agent
    assert acc("update", resource="configmaps", name="agent-config") in agent
    probe = matrix["forbidden"][3]
    assert (probe["resource"], probe["subresource"], probe["namespace"]) == ("pods", "exec", "@release")


@pytest.mark.parametrize("data, fragment", [
    ({}, '"serviceAccounts" must be a non-empty mapping'),
    ({"serviceAccounts": {"a": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": "get"}]}}},
     'serviceAccounts.a.rules[0]: "verbs" must be a list'),
    ({"serviceAccounts": {"a": {"rules": [{"apiGroups": [""], "resources": ["pods"]}]}}},
     'serviceAccounts.a.rules[0]: "verbs" is required'),
    ({"serviceAccounts": {"a": {"rules": [{"apiGroups": [""], "resource": ["pods"], "verbs": ["get"]}]}}},
     "unknown rule key(s) resource"),
    ({"serviceAccounts": {"a": {"automountToken": "no"}}}, "serviceAccounts.a.automountToken must be true or false"),
    ({"serviceAccounts": {"a": {}}, "forbidden": [{"resource": "nodes"}]}, 'forbidden[0]: "verb" is required'),
    ({"serviceAccounts": {"a": {}}, "optional": {"x": {"component": "b", "rules": []}}},
     "optional.x names component(s) not in serviceAccounts: b"),
])
def test_matrix_errors_name_the_place(data, fragment):
    with pytest.raises(rbac.MatrixError) as err:
        rbac.load_matrix(data, where="permissions.yaml")
    assert fragment in str(err.value)
    assert str(err.value).startswith("permissions.yaml")


def test_probe_namespaces_resolve():
    probe = rbac.normalize_probe({"verb": "get", "resource": "secrets", "namespace": "@other"}, "p")
    assert rbac.resolve_probe(probe, NS, "kube-system").namespace == "kube-system"
    probe = rbac.normalize_probe({"verb": "create", "resource": "pods/exec", "namespace": "@release"}, "p")
    resolved = rbac.resolve_probe(probe, NS, "kube-system")
    assert (resolved.resource, resolved.subresource, resolved.namespace) == ("pods", "exec", NS)
    assert rbac.pick_other_namespace("kube-system", "kube-system") == "default"


# --------------------------------------------------------------------------- review (offline)

def test_release_that_matches_the_matrix_passes():
    outcome = run_review(load_docs("release.yaml"))
    assert not outcome["failed"], outcome
    results = by_name(outcome)
    assert set(results) == {"r1-agent-manager", "r1-tool-manager", "r1-image-updater"}
    for result in results.values():
        assert result["missing"] == [] and result["excess"] == [] and not result["failed"]
    # 8 expected + 4 probes for agent-manager; tool-manager's pods/exec probe is granted by the matrix
    assert results["r1-agent-manager"]["checks"] == 12
    assert results["r1-tool-manager"]["checks"] == 6 + 3
    assert results["r1-image-updater"]["checks"] == 4


def test_extra_clusterrolebinding_and_extra_role_rule_are_named():
    docs = load_docs("release.yaml", "excess.yaml")
    outcome = run_review(docs)
    assert outcome["failed"]
    results = by_name(outcome)
    tool = results["r1-tool-manager"]
    assert {(e["verb"], e["resource"], e["namespace"], e["granted_by"]) for e in tool["excess"]
            if e["reason"] == rbac.REASON_NOT_IN_MATRIX} == {
        ("get", "nodes", "*", "ClusterRoleBinding/r1-extra-node-reader"),
        ("list", "nodes", "*", "ClusterRoleBinding/r1-extra-node-reader")}
    # the matrix's "list nodes" probe is allowed now, and the binding that allows it is named
    forbidden = [e for e in tool["excess"] if e["reason"] == rbac.REASON_FORBIDDEN]
    assert forbidden == [{"verb": "list", "group": "", "resource": "nodes", "namespace": None,
                          "granted_by": "ClusterRoleBinding/r1-extra-node-reader",
                          "role": "ClusterRole/r1-extra-node-reader", "reason": rbac.REASON_FORBIDDEN}]
    agent = results["r1-agent-manager"]
    assert agent["excess"] == [{"verb": "get", "group": "", "resource": "secrets", "namespace": NS,
                                "granted_by": "RoleBinding/ns1/r1-agent-manager-extra",
                                "role": "Role/r1-agent-manager-extra", "reason": rbac.REASON_NOT_IN_MATRIX}]
    assert not results["r1-image-updater"]["failed"]
    table = "\n".join(rbac.render_table(outcome["service_accounts"], outcome["errors"]))
    assert "ClusterRoleBinding/r1-extra-node-reader" in table
    assert "RoleBinding/ns1/r1-agent-manager-extra" in table


def _role(docs, name):
    return next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == name)


def test_removed_rule_is_missing():
    docs = load_docs("release.yaml")
    _role(docs, "r1-tool-manager")["rules"][0]["verbs"].remove("delete")
    outcome = run_review(docs)
    tool = by_name(outcome)["r1-tool-manager"]
    assert tool["missing"] == [{"verb": "delete", "group": "batch", "resource": "jobs", "namespace": NS}]
    assert tool["failed"] and outcome["failed"]


def test_extra_rule_inside_the_existing_role_is_excess():
    docs = load_docs("release.yaml")
    _role(docs, "r1-agent-manager")["rules"].append({"apiGroups": ["apps"], "resources": ["deployments"],
                                                     "verbs": ["patch"]})
    agent = by_name(run_review(docs))["r1-agent-manager"]
    assert [(e["verb"], e["group"], e["resource"], e["granted_by"]) for e in agent["excess"]] == [
        ("patch", "apps", "deployments", "RoleBinding/ns1/r1-agent-manager")]


@pytest.mark.parametrize("granted, excess", [
    # wildcard verb on an expected resource: one excess entry with the literal "*"
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, [("*", "", "pods", None)]),
    # wildcard group and resource
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}, [("get", "*", "*", None)]),
    # the configmap rule without resourceNames is broader than the matrix's named rule
    ({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}, [("get", "", "configmaps", None)]),
    # narrower than the matrix (a name of an unrestricted rule) is covered
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["p1"]}, []),
    ({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["agent-config"]}, []),
    ({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["agent-config", "x"]},
     [("get", "", "configmaps", "x")]),
    # subresources are separate rights
    ({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, [("create", "", "pods/exec", None)]),
    ({"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"]}, [("update", "apps", "*/scale", None)]),
])
def test_excess_with_wildcards_names_and_subresources(granted, excess):
    docs = load_docs("release.yaml")
    _role(docs, "r1-agent-manager")["rules"].append(granted)
    agent = by_name(run_review(docs))["r1-agent-manager"]
    assert [(e["verb"], e["group"], e["resource"], e.get("resource_name")) for e in agent["excess"]
            if e["reason"] == rbac.REASON_NOT_IN_MATRIX] == excess
    assert agent["missing"] == []


def test_rights_through_groups_count_but_default_policy_does_not():
    docs = load_docs("release.yaml")
    docs += [
        {"kind": "ClusterRole", "metadata": {"name": "view-ish"}, "rules": [rule([""], ["services"], ["list"])]},
        # a customer binding to every service account of the cluster: excess for all of ours
        {"kind": "ClusterRoleBinding", "metadata": {"name": "all-sa-view"},
         "roleRef": {"kind": "ClusterRole", "name": "view-ish"},
         "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}]},
        # the API server's default policy, reached through system:authenticated: baseline
        {"kind": "ClusterRole", "metadata": {"name": "system:basic-user"},
         "rules": [rule(["authorization.k8s.io"], ["selfsubjectaccessreviews"], ["create"])]},
        {"kind": "ClusterRoleBinding",
         "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
         "roleRef": {"kind": "ClusterRole", "name": "system:basic-user"},
         "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
    ]
    outcome = run_review(docs)
    for result in outcome["service_accounts"]:
        refs = {e["granted_by"] for e in result["excess"]}
        assert refs == {"ClusterRoleBinding/all-sa-view"}, result["name"]
        baseline = [b for b in result["bindings"] if b["baseline"]]
        assert [b["name"] for b in baseline] == ["system:basic-user"]
        assert baseline[0]["via_group"]
    # the customer binding can be accepted explicitly
    outcome = run_review(docs, ignore_bindings=["ClusterRoleBinding/all-sa-*"])
    assert not outcome["failed"]


def test_bootstrap_label_does_not_hide_a_direct_grant():
    docs = load_docs("release.yaml") + [
        {"kind": "ClusterRole", "metadata": {"name": "cr"}, "rules": [rule([""], ["nodes"], ["get"])]},
        {"kind": "ClusterRoleBinding",
         "metadata": {"name": "sneaky", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
         "roleRef": {"kind": "ClusterRole", "name": "cr"},
         "subjects": [{"kind": "ServiceAccount", "name": "r1-image-updater", "namespace": NS}]},
    ]
    updater = by_name(run_review(docs))["r1-image-updater"]
    assert [e["granted_by"] for e in updater["excess"]] == ["ClusterRoleBinding/sneaky"]


def test_component_missing_from_matrix_and_missing_service_account_are_errors():
    docs = load_docs("release.yaml")
    for doc in docs:
        if doc["kind"] == "ServiceAccount" and doc["metadata"]["name"] == "r1-image-updater":
            doc["metadata"]["labels"]["app.kubernetes.io/component"] = "mystery"
    outcome = run_review(docs)
    assert outcome["failed"]
    assert outcome["errors"] == [
        'component "image-updater": no ServiceAccount labelled app.kubernetes.io/instance=r1,'
        'app.kubernetes.io/component=image-updater in namespace ns1']
    mystery = by_name(outcome)["r1-image-updater"]
    assert mystery["errors"] == ['ServiceAccount ns1/r1-image-updater: component "mystery" is missing from the matrix']
    # restricting the expected components removes the missing-account error, not the unknown component
    outcome = run_review(docs, components=["agent-manager", "tool-manager"])
    assert outcome["errors"] == []
    assert outcome["failed"]


def test_other_releases_are_ignored():
    docs = load_docs("release.yaml")
    other = copy.deepcopy(docs[0])
    other["metadata"]["name"] = "r2-agent-manager"
    other["metadata"]["labels"]["app.kubernetes.io/instance"] = "r2"
    outcome = run_review(docs + [other])
    assert "r2-agent-manager" not in by_name(outcome)
    assert not outcome["failed"]


def test_optional_cluster_rights_are_expected_only_when_enabled():
    docs = load_docs("release.yaml") + [
        {"kind": "ClusterRole", "metadata": {"name": "nodes"}, "rules": [rule([""], ["nodes"], ["get", "list"])]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "r1-agent-nodes"},
         "roleRef": {"kind": "ClusterRole", "name": "nodes"},
         "subjects": [{"kind": "ServiceAccount", "name": "r1-agent-manager", "namespace": NS}]},
    ]
    assert by_name(run_review(docs))["r1-agent-manager"]["failed"]
    outcome = run_review(docs, enabled_optional=["agentNodeRead"])
    assert not outcome["failed"], rbac.render_table(outcome["service_accounts"])
    # enabled but not granted: missing at cluster scope
    outcome = run_review(load_docs("release.yaml"), enabled_optional=["agentNodeRead"])
    agent = by_name(outcome)["r1-agent-manager"]
    assert {(m["verb"], m["resource"], m["namespace"]) for m in agent["missing"]} == {
        ("get", "nodes", None), ("list", "nodes", None)}
    outcome = run_review(load_docs("release.yaml"), enabled_optional=["nope"])
    assert outcome["errors"][0].startswith('optional right "nope" is not in the matrix')


def test_optional_entry_keyed_by_component():
    """The chart's format: optional.<component>: {value: ..., clusterRules: [...]}."""
    matrix = rbac.load_matrix({
        "serviceAccounts": {"tool-manager": {"rules": []}, "agent-manager": {"rules": []}},
        "optional": {"tool-manager": {"value": "x.enabled=true", "risk": "text",
                                      "clusterRules": [{"apiGroups": [""], "resources": ["persistentvolumes"],
                                                        "verbs": ["get"]}]}},
    })
    assert matrix["optional"]["tool-manager"]["components"] == ["tool-manager"]
    assert matrix["optional"]["tool-manager"]["enabledBy"] == "x.enabled=true"
    sas = [{"kind": "ServiceAccount", "metadata": {"name": c, "labels": {
        "app.kubernetes.io/instance": "r1", "app.kubernetes.io/component": c}}}
        for c in ("tool-manager", "agent-manager")]
    outcome = run_review(sas, matrix=matrix, enabled_optional=["tool-manager"])
    results = by_name(outcome)
    assert [m["resource"] for m in results["tool-manager"]["missing"]] == ["persistentvolumes"]
    assert results["agent-manager"]["missing"] == []


def test_fail_on_excess_false_still_fails_on_forbidden_probes():
    docs = load_docs("release.yaml")
    _role(docs, "r1-agent-manager")["rules"].append({"apiGroups": ["apps"], "resources": ["deployments"],
                                                     "verbs": ["patch"]})
    assert not run_review(docs, fail_on_excess=False)["failed"]
    outcome = run_review(load_docs("release.yaml", "excess.yaml"), fail_on_excess=False)
    assert outcome["failed"]
    assert [r["name"] for r in outcome["service_accounts"] if r["failed"]] == ["r1-tool-manager"]


def test_extra_probe_and_pods_exec_probe_unless_granted():
    docs = load_docs("release.yaml")
    _role(docs, "r1-agent-manager")["rules"].append({"apiGroups": [""], "resources": ["pods/exec"],
                                                     "verbs": ["create"]})
    extra = [rbac.normalize_probe({"verb": "patch", "group": "apps", "resource": "deployments",
                                   "namespace": "@release"}, "extra")]
    outcome = run_review(docs, extra_probes=extra)
    agent = by_name(outcome)["r1-agent-manager"]
    assert [(e["verb"], e["resource"], e["reason"]) for e in agent["excess"]] == [
        ("create", "pods/exec", rbac.REASON_NOT_IN_MATRIX),
        ("create", "pods/exec", rbac.REASON_FORBIDDEN)]
    # tool-manager holds pods/exec by the matrix, so its probe is skipped, not reported
    assert by_name(outcome)["r1-tool-manager"]["excess"] == []


def test_automount_mismatch_is_a_warning():
    docs = load_docs("release.yaml")
    for doc in docs:
        if doc["kind"] == "ServiceAccount" and doc["metadata"]["name"] == "r1-image-updater":
            del doc["automountServiceAccountToken"]
    outcome = run_review(docs)
    assert not outcome["failed"]
    assert len(outcome["warnings"]) == 1 and "r1-image-updater" in outcome["warnings"][0]


# --------------------------------------------------------------------------- report

def test_table_is_fixed_width_and_merges_verbs():
    outcome = run_review(load_docs("release.yaml", "excess.yaml"))
    lines = rbac.render_table(outcome["service_accounts"], outcome["errors"], outcome["summary"])
    header, rule_line = lines[0], lines[1]
    assert header.split() == ["SERVICEACCOUNT", "COMPONENT", "RESULT", "VERBS", "RESOURCE", "NAME", "NAMESPACE",
                              "GRANTED", "BY", "ROLE"]
    starts = [i for i, c in enumerate(rule_line) if c == "-" and (i == 0 or rule_line[i - 1] == " ")]
    body = lines[2:-1]
    for line in body:
        for start in starts:  # every cell starts at its column (or the line ended)
            assert start >= len(line) or start == 0 or line[start - 1] == " ", (line, start)
    excess_row = next(line for line in body if "EXCESS" in line and "nodes" in line)
    assert "get,list" in excess_row and "* (all)" in excess_row
    forbidden_row = next(line for line in body if "FORBIDDEN" in line)
    assert "(cluster)" in forbidden_row
    assert any(line.startswith("r1-image-updater") and " ok " in line for line in body)
    assert lines[-1].startswith("service accounts: 3 checked, 2 failed; missing: 0, excess: 3, forbidden allowed: 1")


def test_table_lists_errors_and_caps_rows():
    result = {"name": "sa", "component": None, "missing": [], "checks": 1, "errors": ["no component label"],
              "excess": [{"verb": "get", "group": "g%d" % i, "resource": "r", "namespace": "*",
                          "granted_by": "ClusterRoleBinding/x", "role": "ClusterRole/x",
                          "reason": rbac.REASON_NOT_IN_MATRIX} for i in range(100)]}
    lines = rbac.render_table([result], ["global problem"])
    assert "ERROR: no component label" in lines and "ERROR: global problem" in lines
    assert any("41 more rows" in line for line in lines)  # 100 excess + 1 error row, 60 shown


def test_resource_text():
    assert rbac.resource_text({"group": "", "resource": "pods/exec"}) == "pods/exec"
    assert rbac.resource_text({"group": "apps", "resource": "deployments/scale"}) == "deployments.apps/scale"
    assert rbac.resource_text({"group": "*", "resource": "*"}) == "*.*"
    assert rbac.resource_text({"group": "", "resource": "", "non_resource_url": "/metrics"}) == "/metrics"


# --------------------------------------------------------------------------- SubjectAccessReview body

def test_sar_body():
    body = rbac.sar_body(acc("create", "", "pods/exec", name="p", namespace=NS),
                         rbac.sa_username(NS, "sa"), rbac.sa_groups(NS))
    assert body == {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "system:serviceaccount:ns1:sa",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"],
        "resourceAttributes": {"verb": "create", "group": "", "resource": "pods", "subresource": "exec",
                               "name": "p", "namespace": NS}}}
    cluster = rbac.sar_body(acc("list", resource="nodes", namespace=""), "u", [])
    assert "namespace" not in cluster["spec"]["resourceAttributes"]
    url = rbac.sar_body(acc("get", path="/metrics", namespace=""), "u", [])
    assert url["spec"] == {"user": "u", "groups": [], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}
