"""NetworkPolicies: on by default for every pod, ingress only from what needs it, egress to DNS,
the API server and the internet but never the instance-metadata address or private ranges."""
from __future__ import annotations

import ipaddress

import pytest

import chartlib
from chartlib import by_kind, component

METADATA = "169.254.169.254/32"
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
# components whose pods may reach the internet in mode "internet"
INTERNET = {"agent-manager", "tool-manager", "kubiya-operator", "workflow-engine", "dagger",
            "alloy", "image-updater"}


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


def policy(docs, name):
    return next(n for n in by_kind(docs, "NetworkPolicy") if component(n) == name)


def ip_blocks(np):
    return [peer["ipBlock"] for rule in np["spec"].get("egress", []) for peer in rule.get("to", []) if "ipBlock" in peer]


def reachable(np, address: str, port: int) -> bool:
    """Whether the policy's egress rules allow address:port (ipBlock rules only)."""
    ip = ipaddress.ip_address(address)
    for rule in np["spec"].get("egress", []):
        ports = [p["port"] for p in rule.get("ports", [])]
        if ports and port not in ports:
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if block and ip in ipaddress.ip_network(block["cidr"], strict=False) and \
                    not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


def pod_is_selected(owner, spec_labels, policies) -> bool:
    ns = owner["metadata"]["namespace"]
    return any(np["metadata"]["namespace"] == ns and
               set(np["spec"]["podSelector"]["matchLabels"].items()) <= set(spec_labels.items())
               for np in policies)


def pod_labels(owner):
    if owner["kind"] == "CronJob":
        return owner["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return owner["spec"]["template"]["metadata"]["labels"]


def test_every_pod_is_selected_by_a_policy(request):
    """Every pod template of every render (default, full, hardened, each ci/ file), the helm
    test Job's included, is selected by a NetworkPolicy of its namespace."""
    renders = {n: request.getfixturevalue(n) for n in ("default_docs", "full_docs", "hardened_docs")}
    renders.update(request.getfixturevalue("ci_docs"))
    for name, docs in renders.items():
        policies = by_kind(docs, "NetworkPolicy")
        if name == "prod-azure-values.yaml" or policies:
            assert policies, name
        pods = chartlib.pod_templates(docs)
        assert any(component(o) == "test" for o, dummy in pods), name
        for owner, dummy in pods:
            assert pod_is_selected(owner, pod_labels(owner), policies), (name, owner["kind"], owner["metadata"]["name"])
    for np in by_kind(renders["full_docs"], "NetworkPolicy"):
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
        "test": [],
    }


@pytest.mark.parametrize("docs_fixture", ["full_docs", "hardened_docs"])
def test_sources_are_pods_of_this_release_only(docs_fixture, request):
    for np in by_kind(request.getfixturevalue(docs_fixture), "NetworkPolicy"):
        foreign = np["metadata"]["namespace"] != "runner-ns"
        for rule in np["spec"]["ingress"]:
            for peer in rule["from"]:
                # no ipBlock; a namespaceSelector only to name the release namespace from dagger's
                assert set(peer) == ({"podSelector", "namespaceSelector"} if foreign else {"podSelector"})
                assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "rel"
                if foreign:
                    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "runner-ns"}}


def test_egress_on_by_default_dns_api_internet_but_not_metadata_or_private(default_docs):
    policies = by_kind(default_docs, "NetworkPolicy")
    assert {component(n) for n in policies} == {"agent-manager", "tool-manager", "kubiya-operator", "dagger",
                                                "kube-state-metrics", "alloy", "test"}
    for np in policies:
        name = component(np)
        assert np["spec"]["policyTypes"] == ["Ingress", "Egress"], name
        dns = np["spec"]["egress"][0]
        assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
        assert sorted((p["port"], p["protocol"]) for p in dns["ports"]) == [(53, "TCP"), (53, "UDP")]
        for port in (80, 443, 8080):
            assert not reachable(np, "169.254.169.254", port), (name, port)
            for private in ("10.1.2.3", "172.20.0.1", "192.168.1.1"):
                # private ranges only on the API server's ports (apiServer: anywhere, 443/6443)
                assert not reachable(np, private, port) or (port == 443 and name not in ("dagger", "test")), \
                    (name, private, port)
        internet = reachable(np, "8.8.8.8", 4222)
        assert internet == (name in INTERNET), name
        calls_api = name in {"agent-manager", "tool-manager", "kubiya-operator", "kube-state-metrics", "alloy"}
        assert reachable(np, "10.0.0.1", 6443) == calls_api, name
    ksm = policy(default_docs, "kube-state-metrics")   # the API server's ports only
    assert reachable(ksm, "8.8.8.8", 443) and not reachable(ksm, "8.8.8.8", 80)


def test_internet_rule_excepts_metadata_and_private_ranges(default_docs):
    am = policy(default_docs, "agent-manager")
    internet = [b for b in ip_blocks(am) if b["cidr"] == "0.0.0.0/0" and "except" in b and len(b["except"]) == 4]
    assert internet and internet[-1]["except"] == [METADATA, *PRIVATE]


def test_metadata_excepted_from_every_block_that_contains_it(request):
    renders = [request.getfixturevalue(n) for n in ("default_docs", "full_docs", "hardened_docs")]
    renders += list(request.getfixturevalue("ci_docs").values())
    meta = ipaddress.ip_network(METADATA)
    for docs in renders:
        for np in by_kind(docs, "NetworkPolicy"):
            for block in ip_blocks(np):
                net = ipaddress.ip_network(block["cidr"], strict=False)
                excepts = [ipaddress.ip_network(e) for e in block.get("except", [])]
                for e in excepts:   # what the API server demands: each except a strict subset
                    assert e.subnet_of(net) and e != net, block
                if net.version == 4 and meta.subnet_of(net) and net != meta:
                    assert any(meta.subnet_of(e) for e in excepts), (component(np), block)


def test_blocked_cidrs_are_configurable(values):
    docs = chartlib.render(values, sets=["global.networkPolicy.egress.blockedCidrs={100.64.0.0/10}"])
    am = policy(docs, "agent-manager")
    assert not reachable(am, "100.64.1.1", 80) and not reachable(am, "169.254.169.254", 80)
    assert reachable(am, "10.1.2.3", 4222)  # no longer blocked


def test_private_endpoints_allowed_explicitly(values):
    """The API server, DNS and a registry in private ranges are let through by listing them."""
    docs = chartlib.render(values, files=[chartlib.CHART / "ci" / "hardened-values.yaml"])
    tm = policy(docs, "tool-manager")
    assert reachable(tm, "10.0.0.1", 443)            # apiServer 10.0.0.1/32
    assert not reachable(tm, "10.0.0.2", 443)        # but no other private address
    assert reachable(tm, "10.96.0.10", 5000)         # registry 10.96.0.0/12
    assert not reachable(tm, "10.97.0.10", 4222)
    assert reachable(tm, "169.254.20.10", 53)        # node-local DNS
    assert not reachable(tm, "169.254.169.254", 80)


def test_explicit_mode_reaches_only_the_listed_cidrs(values):
    over = {"global": {"networkPolicy": {"egress": {
        "mode": "explicit",
        "apiServer": {"cidrs": ["10.0.0.1/32"], "ports": [443]},
        "nats": {"cidrs": ["20.1.0.0/16"], "ports": [4222]},
        "remoteWrite": {"cidrs": ["0.0.0.0/0"], "ports": [443]}}}}}
    docs = chartlib.render(chartlib.deep_merge(values, over))
    am, alloy = policy(docs, "agent-manager"), policy(docs, "alloy")
    assert reachable(am, "20.1.2.3", 4222) and reachable(am, "10.0.0.1", 443)
    assert not reachable(am, "8.8.8.8", 443) and not reachable(am, "20.1.2.3", 443)
    assert not any(b["cidr"] == "0.0.0.0/0" for b in ip_blocks(am))
    # a broad destination still never reaches the metadata address or the private ranges
    assert reachable(alloy, "8.8.8.8", 443)
    assert not reachable(alloy, "169.254.169.254", 443) and not reachable(alloy, "10.1.1.1", 443)
    prod = chartlib.render(files=[chartlib.CHART / "ci" / "prod-azure-values.yaml"])
    prod_am = policy(prod, "agent-manager")               # nats: 0.0.0.0/0 on 443, 4222
    assert reachable(prod_am, "8.8.8.8", 4222) and not reachable(prod_am, "8.8.8.8", 80)
    assert not reachable(prod_am, "10.1.1.1", 4222)
    assert not reachable(policy(prod, "alloy"), "8.8.8.8", 443)   # remoteWrite: 20/8, 40/8 only
    assert reachable(policy(prod, "alloy"), "20.1.1.1", 443)


def test_egress_can_be_switched_off(values):
    docs = chartlib.render(values, sets=["global.networkPolicy.egress.enabled=false"])
    for np in by_kind(docs, "NetworkPolicy"):
        assert np["spec"]["policyTypes"] == ["Ingress"] and "egress" not in np["spec"]


def test_network_policies_can_be_disabled(values):
    docs = chartlib.render(values, sets=["global.networkPolicy.enabled=false"])
    assert by_kind(docs, "NetworkPolicy") == []


def test_hardened_policies_cross_the_namespaces(hardened_docs):
    dagger = policy(hardened_docs, "dagger")
    assert dagger["metadata"]["namespace"] == "dagger-ns"
    tm = policy(hardened_docs, "tool-manager")
    peers = tm["spec"]["egress"][1]["to"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "rel"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dagger-ns"}}} in peers
