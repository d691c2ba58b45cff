"""Unit tests for plugins/module_utils/rbac/: RBAC rule matching, matrix handling, excess
detection and the report table. No cluster; the live agreement of the matcher with the API
server's authorizer is checked in tests/integration/sa_permissions/."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.kubiya.runners.plugins.module_utils import rbac

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sa_permissions"
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
    # the release's three accounts and the namespace's default one (every namespace has it)
    assert set(results) == {"r1-agent-manager", "r1-tool-manager", "r1-image-updater", "default"}
    for result in results.values():
        assert result["missing"] == [] and result["excess"] == [] and not result["failed"]
    # 8 expected + 4 probes for agent-manager; tool-manager's pods/exec probe is granted by the matrix
    assert results["r1-agent-manager"]["checks"] == 12
    assert results["r1-tool-manager"]["checks"] == 6 + 3
    assert results["r1-image-updater"]["checks"] == 4
    assert results["default"]["checks"] == 4 and results["default"]["managed"] is False
    # tool-manager's escalation paths are listed, accepted by the matrix with its reason
    assert [(r["risk"], r["accepted"]) for r in results["r1-tool-manager"]["risks"]] == [
        ("assign-service-account", True), ("exec-into-pods", True)]


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


def test_another_releases_account_without_rights_is_reviewed_and_passes():
    docs = load_docs("release.yaml")
    other = copy.deepcopy(docs[0])
    other["metadata"]["name"] = "r2-agent-manager"
    other["metadata"]["labels"]["app.kubernetes.io/instance"] = "r2"
    outcome = run_review(docs + [other])
    r2 = by_name(outcome)["r2-agent-manager"]
    assert r2["managed"] is False and r2["component"] is None and not r2["failed"]
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
    _role(docs, "r1-agent-manager")["rules"].append({"apiGroups": [""], "resources": ["services"],
                                                     "verbs": ["list"]})
    assert not run_review(docs, fail_on_excess=False)["failed"]
    outcome = run_review(load_docs("release.yaml", "excess.yaml"), fail_on_excess=False)
    assert outcome["failed"]
    # tool-manager for the allowed "list nodes" probe; agent-manager because its extra "get secrets" is an
    # escalation path (token theft) that fail_on_excess=false does not silence
    assert [r["name"] for r in outcome["service_accounts"] if r["failed"]] == ["r1-agent-manager", "r1-tool-manager"]
    agent = by_name(outcome)["r1-agent-manager"]
    assert [(r["risk"], r["accepted"]) for r in agent["risks"]] == [("read-secrets", False)]


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
    body = [line for line in lines[2:-1] if not line.startswith(("RISK ", "ACCEPTED ", "NOTE ", "ERROR: "))]
    for line in body:
        for start in starts:  # every cell starts at its column (or the line ended)
            assert start >= len(line) or start == 0 or line[start - 1] == " ", (line, start)
    excess_row = next(line for line in body if "EXCESS" in line and "nodes" in line)
    assert "get,list" in excess_row and "* (all)" in excess_row
    forbidden_row = next(line for line in body if "FORBIDDEN" in line)
    assert "(cluster)" in forbidden_row
    assert any(line.startswith("r1-image-updater") and " ok " in line for line in body)
    assert lines[-1].startswith("service accounts: 4 checked, 2 failed; missing: 0, excess: 3, forbidden allowed: 1, risks: 1")


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


# --------------------------------------------------------------------------- no false passes (issue 9, item 4)
# Each test below builds the objects as `helm template` (or an attacker with RBAC write access) would
# render them and reviews them offline; tests/integration/sa_permissions/ repeats every case on the cluster.

def cluster_role(name, rules, labels=None):
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules}


def ns_role(name, rules, namespace=NS):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace}, "rules": rules}


def binding(kind, name, role_kind, role_name, subjects, namespace=None, labels=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects}


def group(name):
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def sa_subject(name, namespace=NS):
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}
# the API server's default policy as a cluster holds it (kube-apiserver v1.36, `kubectl get clusterrole -o yaml`)
DEFAULT_POLICY_OBJECTS = [
    cluster_role("system:basic-user", [
        {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
         "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}],
        labels=BOOTSTRAP),
    binding("ClusterRoleBinding", "system:basic-user", "ClusterRole", "system:basic-user",
            [group("system:authenticated")], labels=BOOTSTRAP),
    cluster_role("system:discovery", [{"nonResourceURLs": [
        "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version",
        "/version/"], "verbs": ["get"]}], labels=BOOTSTRAP),
    binding("ClusterRoleBinding", "system:discovery", "ClusterRole", "system:discovery",
            [group("system:authenticated")], labels=BOOTSTRAP),
    cluster_role("system:public-info-viewer", [{"nonResourceURLs": [
        "/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}], labels=BOOTSTRAP),
    binding("ClusterRoleBinding", "system:public-info-viewer", "ClusterRole", "system:public-info-viewer",
            [group("system:authenticated"), group("system:unauthenticated")], labels=BOOTSTRAP),
    cluster_role("system:service-account-issuer-discovery", [{"nonResourceURLs": [
        "/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks",
        "/openid/v1/jwks/"], "verbs": ["get"]}], labels=BOOTSTRAP),
    binding("ClusterRoleBinding", "system:service-account-issuer-discovery", "ClusterRole",
            "system:service-account-issuer-discovery", [group("system:serviceaccounts")], labels=BOOTSTRAP),
]


def _excess_refs(result):
    return {e["granted_by"] for e in result["excess"] if e["reason"] == rbac.REASON_NOT_IN_MATRIX}


def test_default_policy_bindings_are_recognised_by_name_role_and_groups():
    outcome = run_review(load_docs("release.yaml") + copy.deepcopy(DEFAULT_POLICY_OBJECTS))
    assert not outcome["failed"], rbac.render_table(outcome["service_accounts"])
    for result in outcome["service_accounts"]:
        assert result["excess"] == [] and [r for r in result["risks"] if not r["accepted"]] == []
        baseline = sorted(b["name"] for b in result["bindings"] if b["baseline"])
        assert baseline == sorted(rbac.DEFAULT_POLICY), result["name"]
    # the label plays no part: the same bindings without it are still the default policy
    unlabelled = copy.deepcopy(DEFAULT_POLICY_OBJECTS)
    for obj in unlabelled:
        del obj["metadata"]["labels"]
    assert not run_review(load_docs("release.yaml") + unlabelled)["failed"]


def test_bootstrap_label_on_a_group_binding_does_not_hide_its_grants():
    """An attacker labels their own binding like the default policy: every account of the namespace
    (the default one included) is reported, and the label is called out."""
    docs = load_docs("release.yaml") + [
        cluster_role("kube-sneaky", [rule([""], ["services"], ["list"])], labels=BOOTSTRAP),
        binding("ClusterRoleBinding", "kube-sneaky", "ClusterRole", "kube-sneaky",
                [group("system:serviceaccounts:%s" % NS)], labels=BOOTSTRAP),
    ]
    outcome = run_review(docs)
    assert outcome["failed"]
    for result in outcome["service_accounts"]:
        assert _excess_refs(result) == {"ClusterRoleBinding/kube-sneaky"}, result["name"]
        assert not [b for b in result["bindings"] if b["baseline"]]
        assert any("kube-sneaky carries the label kubernetes.io/bootstrapping=rbac-defaults" in n
                   for n in result["notes"])
    assert {r["name"] for r in outcome["service_accounts"] if r["failed"]} == {
        "default", "r1-agent-manager", "r1-image-updater", "r1-tool-manager"}


ISSUER_URLS = ("/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks",
               "/openid/v1/jwks/")


@pytest.mark.parametrize("change, expected", [
    # a default name, but bound to another role
    (lambda objs: objs[1]["roleRef"].update(name="cluster-admin-ish"),
     {("*", "*", "*", "ClusterRoleBinding/system:basic-user")}),
    # the default ClusterRole was edited to grant more: only the addition is reported
    (lambda objs: objs[2]["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}),
     {("list", "", "secrets", "ClusterRoleBinding/system:discovery")}),
    # a default name that also names the namespace's group: no longer the default policy, all of it counts
    (lambda objs: objs[7]["subjects"].append(group("system:serviceaccounts:%s" % NS)),
     {("get", "", url, "ClusterRoleBinding/system:service-account-issuer-discovery") for url in ISSUER_URLS}),
])
def test_a_changed_default_policy_binding_is_reported(change, expected):
    objs = copy.deepcopy(DEFAULT_POLICY_OBJECTS)
    change(objs)
    objs.append(cluster_role("cluster-admin-ish", [rule(["*"], ["*"], ["*"])]))
    outcome = run_review(load_docs("release.yaml") + objs)
    assert outcome["failed"]
    updater = by_name(outcome)["r1-image-updater"]
    found = {(e["verb"], e["group"], e.get("non_resource_url") or e["resource"], e["granted_by"])
             for e in updater["excess"] if e["reason"] == rbac.REASON_NOT_IN_MATRIX}
    assert found == expected


def test_rolebinding_to_the_default_service_account_is_reported():
    docs = load_docs("release.yaml") + [
        ns_role("default-reader", [rule([""], ["secrets"], ["get", "list"])]),
        binding("RoleBinding", "default-reader", "Role", "default-reader", [sa_subject("default")], namespace=NS),
    ]
    outcome = run_review(docs)
    assert outcome["failed"]
    default = by_name(outcome)["default"]
    assert default["failed"] and default["managed"] is False
    assert {(e["verb"], e["resource"]) for e in default["excess"]} == {("get", "secrets"), ("list", "secrets")}
    assert [(r["risk"], r["accepted"], r["granted_by"]) for r in default["risks"]] == [
        ("read-secrets", False, "RoleBinding/ns1/default-reader")]
    table = "\n".join(rbac.render_table(outcome["service_accounts"], outcome["errors"], outcome["summary"]))
    assert "RISK default: read-secrets via RoleBinding/ns1/default-reader" in table
    # the release's own accounts are untouched
    assert not by_name(outcome)["r1-image-updater"]["failed"]


@pytest.mark.parametrize("kind, group_name", [
    ("RoleBinding", "system:serviceaccounts:%s" % NS),
    ("RoleBinding", "system:serviceaccounts"),
    ("RoleBinding", "system:authenticated"),
    ("ClusterRoleBinding", "system:serviceaccounts:%s" % NS),
    ("ClusterRoleBinding", "system:authenticated"),
])
def test_grants_to_the_namespaces_groups_reach_every_account(kind, group_name):
    """`get pods` is in agent-manager's matrix entry, so only the other accounts (default included)
    hold it beyond the matrix -- through a RoleBinding; through a ClusterRoleBinding it is cluster-wide
    and beyond everybody's matrix."""
    docs = load_docs("release.yaml") + [
        cluster_role("pod-reader", [rule([""], ["pods"], ["get"])]),
        binding(kind, "all-sa-pods", "ClusterRole", "pod-reader", [group(group_name)],
                namespace=NS if kind == "RoleBinding" else None),
    ]
    outcome = run_review(docs)
    ref = rbac.binding_ref(kind, "all-sa-pods", NS)
    failed = {r["name"] for r in outcome["service_accounts"] if _excess_refs(r) == {ref}}
    everybody = {"default", "r1-agent-manager", "r1-image-updater", "r1-tool-manager"}
    assert failed == (everybody - {"r1-agent-manager"} if kind == "RoleBinding" else everybody)
    assert by_name(outcome)["default"]["failed"]


def test_every_service_account_of_the_namespace_is_reviewed():
    docs = load_docs("release.yaml") + [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "helper"}},  # unlabelled, with rights
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "idle"}},  # unlabelled, no rights
        ns_role("helper", [rule([""], ["configmaps"], ["list"])]),
        binding("RoleBinding", "helper", "Role", "helper", [sa_subject("helper")], namespace=NS),
    ]
    outcome = run_review(docs)
    results = by_name(outcome)
    assert set(results) == {"default", "helper", "idle", "r1-agent-manager", "r1-image-updater", "r1-tool-manager"}
    helper = results["helper"]
    assert helper["failed"] and helper["managed"] is False and helper["component"] is None
    assert [(e["verb"], e["resource"], e["granted_by"]) for e in helper["excess"]] == [
        ("list", "configmaps", "RoleBinding/ns1/helper")]
    assert "not part of release r1" in helper["notes"][0]
    idle = results["idle"]
    assert not idle["failed"] and idle["excess"] == [] and idle["used_by"] == []
    # the failure names the unlabelled account and its binding
    table = "\n".join(rbac.render_table(outcome["service_accounts"], outcome["errors"], outcome["summary"]))
    assert any(line.startswith("helper ") and "RoleBinding/ns1/helper" in line for line in table.splitlines())
    assert "NOTE helper: not part of release r1" in table


def workload(kind, name, sa=None, component=None, release="r1", automount=None, namespace=None):
    labels = {"app.kubernetes.io/instance": release} if release else {}
    if component:
        labels["app.kubernetes.io/component"] = component
    pod_spec = {"containers": [{"name": "c", "image": "registry.example/c:1.0"}]}
    if sa:
        pod_spec["serviceAccountName"] = sa
    if automount is not None:
        pod_spec["automountServiceAccountToken"] = automount
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    api = {"Pod": "v1", "CronJob": "batch/v1", "Job": "batch/v1"}.get(kind, "apps/v1")
    meta = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    if kind == "Pod":
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": pod_spec}
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        spec = {"selector": {"matchLabels": labels}, "template": template}
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}


def good_workloads():
    return [workload("Deployment", "agent-manager", "r1-agent-manager", "agent-manager"),
            workload("Deployment", "tool-manager", "r1-tool-manager", "tool-manager"),
            workload("CronJob", "image-updater", "r1-image-updater", "image-updater", automount=False)]


def test_workloads_running_as_their_components_account_pass():
    outcome = run_review(load_docs("release.yaml") + good_workloads())
    assert not outcome["failed"], rbac.render_table(outcome["service_accounts"], workloads=outcome["workloads"])
    assert [(w["kind"], w["name"], w["service_account"], w["problem"]) for w in outcome["workloads"]] == [
        ("Deployment", "agent-manager", "r1-agent-manager", None),
        ("Deployment", "tool-manager", "r1-tool-manager", None),
        ("CronJob", "image-updater", "r1-image-updater", None)]
    assert by_name(outcome)["r1-image-updater"]["used_by"] == ["CronJob/image-updater"]


@pytest.mark.parametrize("extra, severity, fragment", [
    # a component's pod template running as another component's account
    (workload("CronJob", "image-updater-2", "r1-tool-manager", "image-updater"), "fail",
     "runs as r1-tool-manager, not as r1-image-updater, the ServiceAccount of its component image-updater"),
    (workload("StatefulSet", "agent-sts", "r1-tool-manager", "agent-manager"), "fail",
     "not as r1-agent-manager"),
    (workload("Job", "agent-job", "r1-image-updater", "agent-manager"), "fail", "not as r1-agent-manager"),
    # no serviceAccountName: the namespace's default account, token mounted
    (workload("Deployment", "agent-default", None, "agent-manager"), "fail", "not as r1-agent-manager"),
    (workload("Pod", "stray", None, None, release=None), "fail",
     "runs as the namespace's default ServiceAccount with its token mounted"),
    # ... without a token: listed, not failing
    (workload("Pod", "stray", None, None, release=None, automount=False), "warn",
     "runs as the namespace's default ServiceAccount (no token mounted)"),
    # a pod outside the release running as one of the release's accounts
    (workload("Pod", "borrowed", "r1-tool-manager", None, release=None), "fail",
     "is not part of release r1 and runs as r1-tool-manager, the ServiceAccount of component tool-manager"),
    # a release pod of a component the matrix does not know
    (workload("Deployment", "mystery", "r1-agent-manager", "mystery"), "fail",
     "is not part of that component and runs as r1-agent-manager"),
    (workload("Deployment", "ghost", "nobody", "agent-manager"), "fail",
     "runs as ServiceAccount nobody, which does not exist in ns1"),
])
def test_workload_service_account_findings(extra, severity, fragment):
    outcome = run_review(load_docs("release.yaml") + good_workloads() + [extra])
    found = [w for w in outcome["workloads"] if w["name"] == extra["metadata"]["name"]]
    assert len(found) == 1 and found[0]["severity"] == severity, found
    assert fragment in found[0]["problem"]
    assert outcome["failed"] is (severity == "fail")
    assert outcome["summary"]["workload_findings"] == (1 if severity == "fail" else 0)
    lines = rbac.render_table(outcome["service_accounts"], outcome["errors"], outcome["summary"], outcome["workloads"])
    label = "WORKLOAD" if severity == "fail" else "WARNING"
    assert any(line.startswith("%s %s/%s" % (label, extra["kind"], extra["metadata"]["name"])) for line in lines)


def test_workloads_of_other_namespaces_are_not_ours():
    other = workload("Deployment", "elsewhere", None, "agent-manager", namespace="other")
    outcome = run_review(load_docs("release.yaml") + good_workloads() + [other])
    assert not outcome["failed"] and "elsewhere" not in [w["name"] for w in outcome["workloads"]]


# escalation paths: one rule each, given to image-updater (whose matrix entry is empty) by a Role
@pytest.mark.parametrize("granted, risk", [
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}, "assign-service-account"),
    ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"],
      "resourceNames": ["agent-manager"]}, "assign-service-account"),
    ({"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["create"]}, "assign-service-account"),
    ({"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["update"]}, "assign-service-account"),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}, "modify-pods"),
    ({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, "exec-into-pods"),
    ({"apiGroups": [""], "resources": ["pods/attach"], "verbs": ["get"]}, "exec-into-pods"),
    ({"apiGroups": [""], "resources": ["pods/ephemeralcontainers"], "verbs": ["patch"]}, "exec-into-pods"),
    ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}, "read-secrets"),
    ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["r1-token"]}, "read-secrets"),
    ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}, "issue-token-secrets"),
    ({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}, "token-request"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]}, "rbac-bind"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}, "rbac-bind"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}, "rbac-escalate"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["patch"]},
     "rbac-modify"),
    ({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}, "impersonate"),
    ({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}, "wildcard"),
    ({"apiGroups": ["*"], "resources": ["leases"], "verbs": ["get"]}, "wildcard"),
])
def test_escalation_paths_are_reported_with_their_reason(granted, risk):
    docs = load_docs("release.yaml") + [
        ns_role("updater-extra", [granted]),
        binding("RoleBinding", "updater-extra", "Role", "updater-extra", [sa_subject("r1-image-updater")],
                namespace=NS),
    ]
    outcome = run_review(docs, fail_on_excess=False)  # the risk fails on its own, not as excess
    updater = by_name(outcome)["r1-image-updater"]
    risks = [r for r in updater["risks"] if r["risk"] == risk]
    assert len(risks) == 1, updater["risks"]
    assert risks[0]["accepted"] is False and risks[0]["granted_by"] == "RoleBinding/ns1/updater-extra"
    assert risks[0]["reason"] and risks[0]["namespace"] == NS
    assert updater["failed"] and outcome["failed"]
    if granted.get("resourceNames"):
        assert "limited to %s, which does not remove the risk" % granted["resourceNames"][0] in risks[0]["reason"]


def test_a_namespaced_grant_of_a_cluster_scoped_risk_is_no_risk():
    docs = load_docs("release.yaml") + [
        ns_role("updater-extra", [rule([""], ["persistentvolumes", "nodes/proxy"], ["create"]),
                                  rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["escalate"])]),
        binding("RoleBinding", "updater-extra", "Role", "updater-extra", [sa_subject("r1-image-updater")],
                namespace=NS),
    ]
    updater = by_name(run_review(docs))["r1-image-updater"]
    assert updater["risks"] == []  # a RoleBinding cannot grant cluster-scoped resources
    assert updater["excess"]  # still excess


def test_token_theft_reason_names_the_accounts_it_leads_to():
    docs = load_docs("release.yaml") + [
        ns_role("updater-extra", [rule([""], ["serviceaccounts/token"], ["create"])]),
        binding("RoleBinding", "updater-extra", "Role", "updater-extra", [sa_subject("r1-image-updater")],
                namespace=NS),
    ]
    risk = by_name(run_review(docs))["r1-image-updater"]["risks"][0]
    assert risk["risk"] == "token-request"
    assert risk["reason"].endswith("(ServiceAccounts of ns1 that hold rights: r1-agent-manager, r1-tool-manager)")


def test_accepted_risks_hold_only_where_the_matrix_grants_them():
    docs = load_docs("release.yaml")
    # accepted in the release namespace (fixture matrix: tool-manager may start Jobs and exec into pods)
    tool = by_name(run_review(docs))["r1-tool-manager"]
    assert all(r["accepted"] for r in tool["risks"]) and not tool["failed"]
    assert tool["risks"][0]["accepted_reason"].startswith("runs each tool as a Job")
    # the same right through a ClusterRoleBinding (every namespace) is not accepted
    docs += [cluster_role("jobs", [rule(["batch"], ["jobs"], ["create"])]),
             binding("ClusterRoleBinding", "tm-jobs", "ClusterRole", "jobs", [sa_subject("r1-tool-manager")])]
    outcome = run_review(docs, fail_on_excess=False)
    risks = {(r["granted_by"], r["accepted"]) for r in by_name(outcome)["r1-tool-manager"]["risks"]
             if r["risk"] == "assign-service-account"}
    assert risks == {("RoleBinding/ns1/r1-tool-manager", True), ("ClusterRoleBinding/tm-jobs", False)}
    assert by_name(outcome)["r1-tool-manager"]["failed"]
    # ... unless the operator chose to ignore that binding: then listed as accepted, with that reason
    outcome = run_review(docs, ignore_bindings=["ClusterRoleBinding/tm-*"])
    assert not outcome["failed"]
    assert [r["accepted_reason"] for r in by_name(outcome)["r1-tool-manager"]["risks"]
            if r["granted_by"] == "ClusterRoleBinding/tm-jobs"] == ["binding matches ignore_bindings"]


def test_accepted_risk_of_an_optional_right_holds_only_when_it_is_enabled():
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    data["optional"]["agentPods"] = {"component": "agent-manager", "enabledBy": "x=true",
                                     "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]}
    data["acceptedRisks"]["agent-manager"] = [{"risk": "assign-service-account", "optional": "agentPods",
                                               "reason": "only on dedicated clusters"}]
    matrix = rbac.load_matrix(data)
    docs = load_docs("release.yaml") + [
        cluster_role("agent-pods", [rule([""], ["pods"], ["create"])]),
        binding("ClusterRoleBinding", "agent-pods", "ClusterRole", "agent-pods", [sa_subject("r1-agent-manager")])]
    assert not run_review(docs, matrix=matrix, enabled_optional=["agentPods"])["failed"]
    outcome = run_review(docs, matrix=matrix, fail_on_excess=False)
    assert [(r["risk"], r["accepted"]) for r in by_name(outcome)["r1-agent-manager"]["risks"]] == [
        ("assign-service-account", False)]
    assert outcome["failed"]


@pytest.mark.parametrize("accepted, fragment", [
    ({"tool-manager": [{"risk": "pod-create", "reason": "x"}]}, "acceptedRisks.tool-manager[0]: unknown risk 'pod-create'"),
    ({"tool-manager": [{"risk": "read-secrets"}]}, 'acceptedRisks.tool-manager[0]: "reason" is required'),
    ({"tool-manager": [{"risk": "read-secrets", "reason": "  "}]}, '"reason" is required'),
    ({"nobody": [{"risk": "read-secrets", "reason": "x"}]}, 'acceptedRisks.nobody: component "nobody" is not in'),
    ({"tool-manager": [{"risk": "read-secrets", "reason": "x", "optional": "nope"}]}, "optional 'nope' is not in"),
    ({"tool-manager": [{"risk": "read-secrets", "reason": "x", "scope": "all"}]}, "unknown key(s) scope"),
    ({"tool-manager": {"risk": "read-secrets"}}, "acceptedRisks.tool-manager must be a list"),
    (["read-secrets"], '"acceptedRisks" must be a mapping'),
])
def test_accepted_risks_are_validated(accepted, fragment):
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    data["acceptedRisks"] = accepted
    with pytest.raises(rbac.MatrixError) as err:
        rbac.load_matrix(data, where="permissions.yaml")
    assert fragment in str(err.value) and str(err.value).startswith("permissions.yaml")


def test_a_second_account_claiming_a_component_is_an_error():
    docs = load_docs("release.yaml")
    twin = copy.deepcopy(next(d for d in docs if d["metadata"]["name"] == "r1-agent-manager"))
    twin["metadata"]["name"] = "zz-agent-manager"
    # bound to agent-manager's Role as well: it holds exactly agent-manager's rights
    next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "r1-agent-manager")[
        "subjects"].append({"kind": "ServiceAccount", "name": "zz-agent-manager"})
    outcome = run_review(docs + [twin])
    assert by_name(outcome)["zz-agent-manager"]["missing"] == [] and by_name(outcome)["zz-agent-manager"]["excess"] == []
    assert outcome["failed"]
    assert by_name(outcome)["zz-agent-manager"]["errors"] == [
        'ServiceAccount ns1/zz-agent-manager: component "agent-manager" already has the ServiceAccount '
        'r1-agent-manager; the matrix allows one per component']
