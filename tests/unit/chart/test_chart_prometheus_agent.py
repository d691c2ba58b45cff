"""telemetry.collector=prometheus-agent: the Prometheus agent-mode configuration rendered from
the same values as the Alloy configuration (same pods, labels, remote write)."""
from __future__ import annotations

import re
import shutil

import pytest
import yaml

import chartlib
from chartlib import by_kind
from test_chart_alloy_config import alloy_config, blocks


@pytest.fixture(scope="module")
def agent_docs(values, tmp_path_factory):
    v = chartlib.deep_merge(values, {"telemetry": {"collector": "prometheus-agent"}})
    return chartlib.render(v, tmpdir=tmp_path_factory.mktemp("values"))


@pytest.fixture(scope="module")
def cfg(agent_docs) -> dict:
    cm = next(c for c in by_kind(agent_docs, "ConfigMap") if c["metadata"]["name"] == "alloy")
    assert set(cm["data"]) == {"prometheus.yml"}
    return yaml.safe_load(cm["data"]["prometheus.yml"])


def jobs(cfg):
    return {j["job_name"]: j for j in cfg["scrape_configs"]}


def target_labels(job):
    return {r["target_label"]: r.get("replacement", r.get("source_labels"))
            for r in job["relabel_configs"] if "target_label" in r}


def test_default_collector_is_alloy(default_docs):
    cm = next(c for c in by_kind(default_docs, "ConfigMap") if c["metadata"]["name"] == "alloy")
    assert set(cm["data"]) == {"config.alloy"}


def test_same_jobs_and_discovery_as_alloy(cfg, default_docs):
    alloy = alloy_config(default_docs)
    assert set(jobs(cfg)) == {"kubiya-runner", "kube-state-metrics", "alloy"}
    for job in jobs(cfg).values():
        assert job["kubernetes_sd_configs"] == [{
            "role": "pod", "namespaces": {"names": ["runner-ns"]},
            "selectors": [{"role": "pod", "label": "app.kubernetes.io/instance=rel"}]}]
        assert "api_server" not in job["kubernetes_sd_configs"][0]  # in-cluster, alloy SA
    keeps = {n: next(r["regex"] for r in j["relabel_configs"] if r.get("action") == "keep")
             for n, j in jobs(cfg).items()}
    assert keeps["kubiya-runner"] == "agent-manager;http|tool-manager;http"
    assert f'"{keeps["kubiya-runner"]}"' in blocks(alloy)["discovery.relabel.components"]
    assert keeps["kube-state-metrics"] == "kube-state-metrics;http-metrics"
    assert jobs(cfg)["kube-state-metrics"]["honor_labels"] is True
    assert cfg["global"] == {"scrape_interval": "60s", "scrape_timeout": "10s"}


def test_runner_labels_on_every_job_and_pod_labels_on_pod_targets(cfg):
    for name, job in jobs(cfg).items():
        t = target_labels(job)
        assert (t["organization"], t["runner"], t["namespace"]) == ("test-org", "test-runner", "runner-ns")
        drop = [r for r in job["metric_relabel_configs"] if r.get("action") == "labeldrop"]
        assert drop and drop[0]["regex"].startswith("uid|host_ip|pod_ip")
        if name != "kube-state-metrics":
            assert t["component"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
            assert t["pod"] == ["__meta_kubernetes_pod_name"]
            assert t["container"] == ["__meta_kubernetes_pod_container_name"]
    ksm_rule = jobs(cfg)["kube-state-metrics"]["metric_relabel_configs"][0]
    assert ksm_rule["target_label"] == "component"
    assert ksm_rule["source_labels"] == ["deployment", "statefulset", "cronjob", "job_name", "pod"]


def test_remote_write_oauth2_secret_from_a_mounted_file(cfg, agent_docs, values):
    assert cfg["remote_write"] == [{
        "url": "https://prometheus.example.invalid/api/v1/write",
        "oauth2": {"client_id": "test-client",
                   "client_secret_file": "/var/run/secrets/kubiya/remote-write/client-secret",
                   "token_url": "https://login.example.invalid/token",
                   "scopes": ["https://monitor.azure.com/.default"]}}]
    text = chartlib.dump(agent_docs)
    assert values["telemetry"]["remoteWrite"]["oauth2"]["clientSecret"] not in text.replace(
        chartlib.dump([d for d in agent_docs if d["kind"] == "Secret"]), "")
    dep = next(d for d in by_kind(agent_docs, "Deployment") if d["metadata"]["name"] == "alloy")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["name"] == "prometheus-agent" and c["image"].startswith("quay.io/prometheus/prometheus:v2.")
    assert "--enable-feature=agent" in c["args"] and "--config.file=/etc/alloy/prometheus.yml" in c["args"]
    assert {"name": "remote-write-secret", "mountPath": "/var/run/secrets/kubiya/remote-write",
            "readOnly": True} in c["volumeMounts"]
    vol = next(v for v in spec["volumes"] if v["name"] == "remote-write-secret")
    assert vol["secret"]["secretName"] == "rel-remote-write"
    assert spec["serviceAccountName"] == "alloy"


def test_schema_refuses_an_unknown_collector(values):
    err = chartlib.render_fails(values, sets=["telemetry.collector=otel"])
    assert "/telemetry/collector" in err and "prometheus-agent" in err, err


@pytest.mark.parametrize("key", ["telemetry.collector", "alloy.collector"])
def test_the_chart_fails_naming_the_key_without_schema_validation(values, key):
    """--skip-schema-validation: the chart's own check still refuses an unknown collector."""
    args = chartlib.template_args(values, sets=[f"{key}=otel"]) + ["--skip-schema-validation"]
    err = chartlib.helm(*args, check=False).stderr
    assert f'{key}' in err and '"otel"' in err and "prometheus-agent" in err, err


def test_deprecated_alloy_collector_still_chooses_the_collector_for_one_release(values, agent_docs, tmp_path):
    """The renamed key: alloy.collector (set) renders what telemetry.collector renders, with a note."""
    v = chartlib.deep_merge(values, {"alloy": {"collector": "prometheus-agent"}})
    docs = chartlib.render(v)
    assert chartlib.dump(by_kind(docs, "ConfigMap")) == chartlib.dump(by_kind(agent_docs, "ConfigMap"))
    notes = _notes(v, tmp_path)
    assert "DEPRECATED: alloy.collector" in notes and "telemetry.collector: prometheus-agent" in notes
    assert "the Prometheus agent remote-writes" in notes
    assert "DEPRECATED" not in _notes(values, tmp_path)


def _notes(values, tmp_path) -> str:
    """NOTES.txt rendered offline (helm template leaves it out): a copy of the chart with a
    template that renders the notes through `tpl`."""
    chart = tmp_path / "kubiya-runner"
    if not chart.exists():
        shutil.copytree(chartlib.CHART, chart)
        shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
        (chart / "templates" / "notes.yaml").write_text('notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}\n')
    out = chartlib.helm(*chartlib.template_args(values, chart=chart, tmpdir=tmp_path),
                        "--show-only", "templates/notes.yaml").stdout
    return yaml.safe_load(out)["notes"]


def test_collector_is_a_documented_chart_option():
    """telemetry.collector: an enum in the schema, a @param line in values.yaml (the README table)."""
    schema = chartlib.json.loads((chartlib.CHART / "values.schema.json").read_text())
    assert schema["properties"]["telemetry"]["properties"]["collector"]["enum"] == ["alloy", "prometheus-agent"]
    assert yaml.safe_load((chartlib.CHART / "values.yaml").read_text())["telemetry"]["collector"] == "alloy"
    readme = (chartlib.CHART / "README.md").read_text()
    assert re.search(r"^\| `telemetry\.collector` +\|.*prometheus-agent.*\| `alloy` +\|$", readme, re.M), \
        "README values table has no telemetry.collector row: run tools/chart-readme.sh"


def test_lints_strict_with_the_production_example():
    """The production example (existing Secret, egress policy, 30 s) with the agent collector."""
    proc = chartlib.helm("lint", "--strict", str(chartlib.CHART), "-f",
                         str(chartlib.CHART / "ci" / "prod-azure-values.yaml"),
                         "--set", "alloy.collector=prometheus-agent",
                         "--kube-version", chartlib.KUBE_VERSION, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout
    docs = chartlib.render(files=[chartlib.CHART / "ci" / "prod-azure-values.yaml"],
                           sets=["alloy.collector=prometheus-agent"])
    cm = next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == "alloy")
    cfg = yaml.safe_load(cm["data"]["prometheus.yml"])
    assert cfg["global"]["scrape_interval"] == "30s"
    dep = next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "alloy")
    vol = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "remote-write-secret")
    assert vol["secret"]["secretName"] == "acme-prod-01-remote-write"
    assert vol["secret"]["items"] == [{"key": "client-secret", "path": "client-secret"}]
