"""NetworkPolicies: on by default, ingress only from what needs it, egress optional."""
from __future__ import annotations

import chartlib
from chartlib import by_kind, component


def ingress_of(docs):
    out = {}
    for np in by_kind(docs, "NetworkPolicy"):
        rules = []
        for rule in np["spec"]["ingress"]:
            sources = sorted(p["podSelector"]["matchLabels"].get("app.kubernetes.io/component", "release")
                             for p in rule["from"])
            rules.append((tuple(sources), tuple(sorted(p["port"] for p in rule["ports"]))))
        out[component(np)] = rules
    return out


def test_every_pod_component_has_a_policy(full_docs):
    pod_components = {component(o) for o, dummy in chartlib.pod_templates(full_docs)} - {"test"}
    assert {component(n) for n in by_kind(full_docs, "NetworkPolicy")} == pod_components
    for np in by_kind(full_docs, "NetworkPolicy"):
        sel = np["spec"]["podSelector"]["matchLabels"]
        assert sel["app.kubernetes.io/instance"] == "rel" and sel["app.kubernetes.io/component"] == component(np)


def test_ingress_allow_list(full_docs):
    assert ingress_of(full_docs) == {
        "agent-manager": [(("release",), (8080,))],
        "tool-manager": [(("release",), (3001,))],          # sdk port 8000 stays pod-local
        "workflow-engine": [(("release",), (8080,))],
        "dagger": [(("alloy", "tool-manager"), (8080,))],
        "kube-state-metrics": [(("alloy",), (8080, 8081))],
        "alloy": [],
        "kubiya-operator": [],
        "image-updater": [],
    }


def test_sources_are_pods_of_this_release_only(full_docs):
    for np in by_kind(full_docs, "NetworkPolicy"):
        for rule in np["spec"]["ingress"]:
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}  # no namespaceSelector, no ipBlock
                assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "rel"


def test_egress_off_by_default_on_when_asked(default_docs, full_docs):
    for np in by_kind(default_docs, "NetworkPolicy"):
        assert np["spec"]["policyTypes"] == ["Ingress"] and "egress" not in np["spec"]
    for np in by_kind(full_docs, "NetworkPolicy"):
        assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
        ports = [p["port"] for rule in np["spec"]["egress"] for p in rule.get("ports", [])]
        assert 53 in ports  # DNS
    alloy = next(n for n in by_kind(full_docs, "NetworkPolicy") if component(n) == "alloy")
    assert sorted(p["port"] for r in alloy["spec"]["egress"] for p in r.get("ports", [])) == [53, 53, 443, 443, 6443]


def test_network_policies_can_be_disabled(values):
    docs = chartlib.render(values, sets=["global.networkPolicy.enabled=false"])
    assert by_kind(docs, "NetworkPolicy") == []
