"""The Alloy configuration rendered from values."""
from __future__ import annotations

import re

import pytest

import chartlib
from chartlib import by_kind


def alloy_config(docs) -> str:
    return next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == "alloy")["data"]["config.alloy"]


@pytest.fixture(scope="module")
def config(default_docs) -> str:
    return alloy_config(default_docs)


def blocks(config: str) -> dict[str, str]:
    """Top-level component blocks: 'prometheus.scrape.components' -> body."""
    out = {}
    for m in re.finditer(r'^([a-z_.]+) "([a-z_]+)" \{', config, re.M):
        start = m.end()
        depth, j = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(config[j], 0)
            j += 1
        out[f"{m.group(1)}.{m.group(2)}"] = config[start:j - 1]
    return out


def test_braces_balance_and_references_resolve(config):
    assert config.count("{") == config.count("}")
    defined = set(blocks(config))
    refs = set(re.findall(r"\b((?:discovery|prometheus)\.[a-z_.]+?)\.(?:targets|output|receiver)\b", config))
    assert refs and refs <= defined, refs - defined
    # every component's output is used
    for name in defined:
        if name.startswith(("discovery.", "prometheus.relabel", "prometheus.exporter")):
            assert name in refs, f"{name} is defined but never consumed"


def test_discovery_limited_to_release_namespace_and_release(config):
    b = blocks(config)["discovery.kubernetes.pods"]
    assert 'names = ["runner-ns"]' in b
    assert 'label = "app.kubernetes.io/instance=rel"' in b
    assert config.count("discovery.kubernetes ") == 1


def test_scrapes_components_ksm_alloy_and_probes(config):
    scrapes = {k for k in blocks(config) if k.startswith("prometheus.scrape.")}
    assert scrapes == {"prometheus.scrape.components", "prometheus.scrape.kube_state_metrics",
                       "prometheus.scrape.alloy", "prometheus.scrape.probes"}
    assert '"agent-manager;http|tool-manager;http"' in config
    assert '"kube-state-metrics;http-metrics"' in config
    assert "honor_labels    = true" in blocks(config)["prometheus.scrape.kube_state_metrics"]


def test_probes_http_health_and_dagger_tcp_not_the_operator(config):
    b = blocks(config)["prometheus.exporter.blackbox.probes"]
    targets = re.findall(r'name\s+= "([^"]+)"\s+address = "([^"]+)"\s+module\s+= "([^"]+)"', b)
    assert targets == [
        ("agent-manager", "http://agent-manager.runner-ns.svc:80/healthz", "http_2xx"),
        ("tool-manager", "http://tool-manager.runner-ns.svc:80/health", "http_2xx"),
        ("dagger", "dagger-engine-service.runner-ns.svc:8080", "tcp_connect"),
    ]
    assert "kubiya-operator" not in b  # it has no port (upstream probed a Service that does not exist)


def test_runner_labels_and_dropped_labels(config):
    b = blocks(config)["prometheus.relabel.runner"]
    for label, value in (("organization", "test-org"), ("runner", "test-runner"), ("namespace", "runner-ns")):
        assert re.search(rf'target_label = "{label}"\s+replacement  = "{value}"', b), label
    assert 'action = "labeldrop"' in b and "uid|host_ip|pod_ip" in b
    pod_rules = blocks(config)["discovery.relabel.components"]
    for label in ("namespace", "component", "pod", "container"):
        assert f'target_label  = "{label}"' in pod_rules


def test_remote_write_oauth2(config):
    b = blocks(config)["prometheus.remote_write.default"]
    assert 'url = "https://prometheus.example.invalid/api/v1/write"' in b
    assert 'client_id          = "test-client"' in b
    # the client secret is a mounted file, never an environment variable
    assert 'client_secret_file = "/var/run/secrets/kubiya/remote-write/client-secret"' in b
    assert "sys.env" not in b and "client_secret =" not in b
    assert 'token_url          = "https://login.example.invalid/token"' in b
    assert 'scopes             = ["https://monitor.azure.com/.default"]' in b


def test_no_secret_in_the_config(values, config):
    assert values["telemetry"]["remoteWrite"]["oauth2"]["clientSecret"] not in config


@pytest.mark.parametrize("interval", ["15s", "30s", "60s"])
def test_scrape_interval_from_values(values, interval):
    cfg = alloy_config(chartlib.render(values, sets=[f"telemetry.scrapeInterval={interval}"]))
    assert cfg.count(f'scrape_interval = "{interval}"') == 4


def test_default_interval_is_60s(config):
    assert config.count('scrape_interval = "60s"') == 4


def test_workflow_engine_is_probed_when_enabled(full_docs):
    b = blocks(alloy_config(full_docs))["prometheus.exporter.blackbox.probes"]
    assert 'address = "http://workflow-engine.runner-ns.svc:8080/health"' in b


def test_config_change_restarts_alloy(values):
    def checksum(docs):
        d = next(x for x in by_kind(docs, "Deployment") if x["metadata"]["name"] == "alloy")
        return d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    a = checksum(chartlib.render(values))
    b = checksum(chartlib.render(values, sets=["telemetry.scrapeInterval=30s"]))
    assert a != b
