"""values.schema.json: unknown keys and wrong types/patterns are refused, naming the key."""
from __future__ import annotations

import subprocess
import sys

import pytest

import chartlib

# (case id, values overriding the valid base values, the key path the error must name)
INVALID = [
    ("unknown-top-level-key", {"agentManger": {"replicas": 2}}, "'agentManger'"),
    ("unknown-global-key", {"global": {"namespace": "x"}}, "'namespace'"),
    ("unknown-runner-key", {"global": {"runner": {"id": "x"}}}, "'id'"),
    ("unknown-telemetry-key", {"telemetry": {"scrapeIntervals": {"default": "60s"}}}, "'scrapeIntervals'"),
    ("unknown-nested-dagger-key", {"dagger": {"persistence": {"sizeGi": 5}}}, "'sizeGi'"),
    ("unknown-subchart-key", {"toolManager": {"adminClusterRole": {"create": True}}}, "'adminClusterRole'"),
    ("unknown-subchart-nested-key", {"agentManager": {"livenessProbe": {"port": 1}}}, "'port'"),
    ("runner-name-with-dot", {"global": {"runner": {"name": "a.b"}}}, "/global/runner/name"),
    ("organization-with-wildcard", {"global": {"runner": {"organization": "org>"}}}, "/global/runner/organization"),
    ("uuid-not-a-uuid", {"global": {"runner": {"uuid": "1234"}}}, "/global/runner/uuid"),
    ("nats-url-scheme", {"global": {"nats": {"serverUrl": "http://nats.example"}}}, "/global/nats/serverUrl"),
    ("nats-creds-base64", {"global": {"nats": {"runnerCreds": "LS0tLS1CRUdJTg=="}}}, "/global/nats/runnerCreds"),
    ("remote-write-url-no-scheme", {"telemetry": {"remoteWrite": {"url": "prometheus.example/api/v1/write"}}},
     "/telemetry/remoteWrite/url"),
    ("token-url-not-url", {"telemetry": {"remoteWrite": {"oauth2": {"tokenUrl": "login"}}}},
     "/telemetry/remoteWrite/oauth2/tokenUrl"),
    ("scrape-interval-too-long", {"telemetry": {"scrapeInterval": "90s"}}, "/telemetry/scrapeInterval"),
    ("scrape-interval-too-short", {"telemetry": {"scrapeInterval": "5s"}}, "/telemetry/scrapeInterval"),
    ("scrape-interval-number", {"telemetry": {"scrapeInterval": 60}}, "/telemetry/scrapeInterval"),
    ("scrape-timeout-not-duration", {"telemetry": {"scrapeTimeout": "ten"}}, "/telemetry/scrapeTimeout"),
    ("scrape-timeout-over-15s", {"telemetry": {"scrapeTimeout": "30s"}}, "/telemetry/scrapeTimeout"),
    ("probe-timeout-over-10s", {"telemetry": {"probeTimeout": "30s"}}, "/telemetry/probeTimeout"),
    ("tool-timeout-not-duration", {"toolManager": {"toolTimeout": "5 minutes"}}, "/toolTimeout"),
    ("image-tag-latest", {"dagger": {"image": {"tag": "latest"}}}, "/dagger/image/tag"),
    ("image-tag-empty", {"alloy": {"image": {"tag": ""}}}, "/alloy/image/tag"),
    ("subchart-image-tag-latest", {"agentManager": {"image": {"tag": "latest"}}}, "/image/tag"),
    ("image-digest-malformed", {"kubeStateMetrics": {"image": {"digest": "sha256:abc"}}},
     "/kubeStateMetrics/image/digest"),
    ("memory-quantity", {"alloy": {"resources": {"limits": {"memory": "1 GB"}}}}, "/alloy/resources/limits/memory"),
    ("cpu-quantity", {"dagger": {"resources": {"requests": {"cpu": "fast"}}}}, "/dagger/resources/requests/cpu"),
    ("subchart-cpu-quantity", {"toolManager": {"resources": {"limits": {"cpu": "2 cores"}}}}, "/resources/limits/cpu"),
    ("pvc-size-quantity", {"dagger": {"persistence": {"size": "ten gigs"}}}, "/dagger/persistence/size"),
    ("replicas-type", {"agentManager": {"replicaCount": "two"}}, "/replicaCount"),
    ("run-as-root", {"imageUpdater": {"podSecurityContext": {"runAsUser": 0}}},
     "/imageUpdater/podSecurityContext/runAsUser"),
    ("boolean-as-string", {"workflowEngine": {"enabled": "yes"}}, "/workflowEngine/enabled"),
    ("network-policy-cidr", {"global": {"networkPolicy": {"egress": {"nats": {"cidrs": ["10.0.0.0"]}}}}},
     "/global/networkPolicy/egress/nats/cidrs/0"),
    ("port-out-of-range", {"workflowEngine": {"containerPort": 70000}}, "/workflowEngine/containerPort"),
    ("cron-schedule", {"imageUpdater": {"schedule": "hourly"}}, "/imageUpdater/schedule"),
    ("uid-below-10000", {"alloy": {"podSecurityContext": {"runAsUser": 473}}}, "/alloy/podSecurityContext/runAsUser"),
    ("moving-tag-without-digest", {"dagger": {"image": {"tag": "main"}}}, "/dagger/image/tag"),
    ("subchart-moving-tag-without-digest", {"kubiyaOperator": {"image": {"tag": "runner_v2"}}}, "/image/tag"),
    ("extra-env-secret-key-ref", {"workflowEngine": {"extraEnv": [
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}}, "/workflowEngine/extraEnv/0/valueFrom"),
    ("dagger-namespace-invalid", {"global": {"daggerNamespace": "Dagger_NS"}}, "/global/daggerNamespace"),
    ("pod-security-level", {"global": {"podSecurity": {"enforce": "strict"}}}, "/global/podSecurity/enforce"),
    ("egress-mode", {"global": {"networkPolicy": {"egress": {"mode": "open"}}}}, "/global/networkPolicy/egress/mode"),
    ("blocked-cidr", {"global": {"networkPolicy": {"egress": {"blockedCidrs": ["10.0.0.0"]}}}},
     "/global/networkPolicy/egress/blockedCidrs/0"),
    ("blocked-everything", {"global": {"networkPolicy": {"egress": {"blockedCidrs": ["0.0.0.0/0"]}}}},
     "/global/networkPolicy/egress/blockedCidrs/0"),
    ("writable-path-root", {"toolManager": {"writablePaths": ["/"]}}, "/writablePaths/0"),
    ("ksm-unknown-collector", {"kubeStateMetrics": {"collectors": ["nodes"]}}, "/kubeStateMetrics/collectors/0"),
    ("secret-name-invalid", {"global": {"nats": {"existingSecret": "My_Secret"}}}, "/global/nats/existingSecret"),
    ("log-level-enum", {"alloy": {"logLevel": "verbose"}}, "/alloy/logLevel"),
    ("probe-path-relative", {"agentManager": {"livenessProbe": {"path": "healthz"}}}, "/livenessProbe/path"),
    ("scopes-empty", {"telemetry": {"remoteWrite": {"oauth2": {"scopes": []}}}},
     "/telemetry/remoteWrite/oauth2/scopes"),
    ("remote-write-url-required-when-enabled", {"telemetry": {"remoteWrite": {"url": ""}}},
     "/telemetry/remoteWrite/url"),
    ("client-id-required-when-oauth2", {"telemetry": {"remoteWrite": {"oauth2": {"clientId": ""}}}},
     "/telemetry/remoteWrite/oauth2/clientId"),
    ("extra-env-unknown-field", {"agentManager": {"extraEnv": [{"name": "A", "val": "b"}]}}, "'val'"),
    # the role's stricter forms, now the chart's (one rule for both: values.schema.json)
    ("remote-write-url-with-password", {"telemetry": {"remoteWrite": {"url": "https://u:pw@prometheus.example/w"}}},
     "/telemetry/remoteWrite/url"),
    ("nats-url-query-without-host-path", {"global": {"nats": {"serverUrl": "tls://nats.example?x=1"}}},
     "/global/nats/serverUrl"),
    ("registry-host-port-too-long", {"global": {"registryTls": {"host": "registry.example:123456"}}},
     "/global/registryTls/host"),
    ("collector-unknown", {"telemetry": {"collector": "otel"}}, "/telemetry/collector"),
]


def test_at_least_25_invalid_cases():
    assert len(INVALID) >= 25


@pytest.mark.parametrize("override,key", [(o, k) for dummy, o, k in INVALID], ids=[i for i, dummy, dummy2 in INVALID])
def test_invalid_values_fail_template_and_lint_naming_the_key(values, override, key, tmp_path):
    bad = chartlib.deep_merge(values, override)
    err = chartlib.render_fails(bad, tmpdir=tmp_path)
    assert "values don't meet the specifications of the schema" in err
    assert key in err, err
    lint = chartlib.helm("lint", "--strict", str(chartlib.CHART), "--kube-version", chartlib.KUBE_VERSION,
                         *chartlib.template_args(bad, tmpdir=tmp_path)[7:], check=False)
    assert lint.returncode != 0 and key in lint.stdout + lint.stderr


@pytest.mark.parametrize("values_file", chartlib.CI_VALUES, ids=lambda p: p.name)
def test_ci_values_files_lint_strict(values_file):
    proc = chartlib.helm("lint", "--strict", str(chartlib.CHART), "-f", str(values_file),
                         "--kube-version", chartlib.KUBE_VERSION, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout


def test_ci_values_cover_the_required_examples():
    names = {p.name for p in chartlib.CI_VALUES}
    assert names == {"minimal-values.yaml", "prod-azure-values.yaml", "telemetry-off-values.yaml",
                     "workflow-engine-values.yaml", "arm64-values.yaml", "hardened-values.yaml"}


def test_every_owned_object_rejects_unknown_keys():
    """Walk the schemas: every object with declared properties is closed."""
    import json

    def walk(node, path):
        if isinstance(node, dict):
            if "properties" in node and node.get("type") == "object":
                assert node.get("additionalProperties") is False, path
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")

    for f in [chartlib.CHART / "values.schema.json"] + [chartlib.CHARTS / s / "values.schema.json"
                                                        for s in chartlib.SUBCHARTS]:
        walk(json.loads(f.read_text()), f.name)


def test_schema_files_are_generated_and_current():
    proc = subprocess.run([sys.executable, str(chartlib.REPO / "tools" / "chart-schema.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
