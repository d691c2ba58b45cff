"""The runner's telemetry pipeline, end to end, on this machine (no mocks on the path):

chart (helm install) -> kube-state-metrics (chart args, chart ServiceAccount token)
                     -> stand-ins for the app containers (the apps cannot run on kwok)
                     -> collector: Prometheus agent mode with the chart's rendered config
                        (pod discovery with the alloy ServiceAccount token)
                     -> OAuth2 remote write through the auth front -> central Prometheus
                     -> kubiya.runners.metrics_delivery with charts/kubiya-runner/metrics-checks.yaml

Grafana Alloy cannot be built here (tests/pipeline/README.md); its blackbox probes are not
exercised.
"""
from __future__ import annotations

import secrets
import signal
import time

import pytest

import pipelinelib

pytestmark = [pytest.mark.cluster, pytest.mark.central, pytest.mark.slow]
INTERVAL = 15     # the fixture's telemetry.scrapeInterval
MAX_AGE = 60      # 2 x interval + 30 s, as metrics-checks.yaml advises
LABELS = {"organization", "runner", "namespace", "component", "pod", "container"}


def test_runs_what_the_chart_renders(pipeline):
    """kube-state-metrics runs the chart's args; the collector the chart's config, changed only
    where Kubernetes would inject the pod's API access and mounted secret."""
    ksm = pipeline.procs.procs["kube-state-metrics"].args
    assert ksm[1:1 + len(pipeline.ksm_args())] == pipeline.ksm_args()
    assert any(a.startswith("--metric-allowlist=kube_pod_info,") for a in ksm)
    assert f"--namespaces={pipeline.namespace}" in ksm
    dummy, rendered, run = pipeline.agent_config()
    for job in run["scrape_configs"]:
        for sd in job["kubernetes_sd_configs"]:
            assert sd.pop("api_server").startswith("https://127.")
            assert sd.pop("authorization")["credentials_file"].endswith("/sa/alloy/token")
            assert sd.pop("tls_config")["ca_file"].endswith("/sa/alloy/ca.crt")
    run["remote_write"][0]["oauth2"]["client_secret_file"] = \
        rendered["remote_write"][0]["oauth2"]["client_secret_file"]
    assert run == rendered


@pytest.mark.timeout(300)
def test_default_checks_pass_with_labelled_fresh_data(pipeline):
    pipeline.wait_delivered(timeout=150)
    checks = pipelinelib.load_checks("prometheus-agent")
    res = pipelinelib.run_delivery(pipeline.module_args(checks, max_age=MAX_AGE, deadline=90,
                                                        poll_interval=5), timeout=200)
    report = "\n".join(res["result"].get("report", [])) or res["stdout"][-3000:] + res["stderr"][-2000:]
    assert res["rc"] == 0 and res["status"] == "SUCCESS", report
    assert {c["name"] for c in res["result"]["checks"]} == {c["name"] for c in checks}
    assert all(c["status"] == "ok" for c in res["result"]["checks"]), report
    print(report)


@pytest.mark.timeout(120)
def test_every_delivered_series_carries_the_runner_labels(pipeline):
    pipeline.wait_delivered(timeout=60)
    sel = pipeline.selector()
    # series of scraped pods: all six labels, right values
    for r in pipeline.query(f'up{{{sel},job=~"kubiya-runner|alloy"}}'):
        m = r["metric"]
        assert LABELS <= set(m), m
        assert m["namespace"] == pipeline.namespace and m["pod"].startswith(m["component"])
    comps = {r["metric"]["component"] for r in pipeline.query(f'up{{{sel},job="kubiya-runner"}}')}
    assert comps == {"agent-manager", "tool-manager"}
    # kube-state-metrics series: component derived from the described pod, pod kept
    ready = pipeline.query(f'kube_pod_status_ready{{{sel},condition="true"}}')
    assert {r["metric"]["component"] for r in ready} == {
        "agent-manager", "tool-manager", "kubiya-operator", "dagger", "kube-state-metrics", "alloy"}
    assert len(ready) == len(pipeline.pods)
    # labels the chart drops never arrive; nothing outside the namespace is exported
    for label in ("uid", "host_ip", "pod_ip", "node"):
        assert not pipeline.query(f'count({{{sel},{label}!=""}})'), label
    assert not pipeline.query(f'count(kube_pod_info{{{sel},exported_namespace!=""}})')
    assert {r["metric"]["namespace"] for r in pipeline.query(f'kube_pod_info{{{sel}}}')} == {pipeline.namespace}


@pytest.mark.timeout(240)
def test_collector_stopped_is_detected_as_stale_within_max_age(pipeline):
    """The collector dies (SIGKILL: OOM kill, node loss): the checks fail as `stale`, naming
    the age, no later than max_age (+ one poll) after the last delivered sample."""
    pipeline.wait_delivered(timeout=60)
    checks = [c for c in pipelinelib.load_checks("prometheus-agent")
              if c["name"] in ("agent-manager scraped", "collector self-scraped", "dagger pod ready")]
    before = pipelinelib.run_delivery(pipeline.module_args(checks, max_age=MAX_AGE, deadline=0))
    assert before["rc"] == 0, before["stdout"][-2000:]
    pipeline.stop_agent(signal.SIGKILL)
    killed = time.time()
    first, every, last = None, None, None
    while time.time() < killed + MAX_AGE + 2 * INTERVAL + 30:
        last = pipelinelib.run_delivery(pipeline.module_args(checks, max_age=MAX_AGE, deadline=0,
                                                             history_window=600))
        statuses = {c["status"] for c in last["result"].get("checks", [])}
        assert statuses <= {"ok", "stale"}, last["result"].get("report") or last["stdout"][-2000:]
        if last["rc"] != 0 and first is None:
            first = time.time() - killed
        if statuses == {"stale"}:
            every = time.time() - killed
            break
        time.sleep(3)
    assert first is not None, "collector stopped but checks kept passing"
    # a target's newest sample is at most one interval (+ send delay) old when the collector
    # dies: the first check goes stale by max_age, every check by max_age + one interval
    assert MAX_AGE - INTERVAL - 10 <= first <= MAX_AGE + 10, first
    assert every is not None and every <= MAX_AGE + INTERVAL + 10, (every, last["result"].get("report"))
    assert "stale" in last["result"]["msg"]
    for c in last["result"]["checks"]:
        assert c["oldest_age"] > MAX_AGE, c  # the reason names the measured age
    print("\n".join(last["result"]["report"]),
          f"\nfirst check stale {first:.0f}s, every check stale {every:.0f}s after the kill")


@pytest.mark.timeout(180)
def test_collector_with_a_wrong_client_secret_delivers_nothing(pipeline):
    """Runs after the collector was stopped: a collector started with a wrong client secret
    is refused by the token endpoint (invalid_client), nothing new arrives, the checks fail."""
    assert not pipeline.procs.alive("collector")
    started = time.time()
    pipeline.start_agent(client_secret="wrong-" + secrets.token_hex(12), name="collector-bad")
    try:
        pipelinelib.wait_for(lambda: "invalid_client" in pipeline.procs.log("collector-bad", 200000),
                             3 * INTERVAL + 30, "the collector's token request refused")
        time.sleep(5)
        newest = pipeline.query(f'max(timestamp(up{{{pipeline.selector()},job="alloy"}}))')
        assert not newest or float(newest[0]["value"][1]) < started, "a sample arrived"
        checks = [c for c in pipelinelib.load_checks("prometheus-agent")
                  if c["name"] in ("collector self-scraped", "agent-manager scraped")]
        res = pipelinelib.run_delivery(pipeline.module_args(checks, max_age=MAX_AGE, deadline=0))
        assert res["rc"] != 0
        assert {c["status"] for c in res["result"]["checks"]} <= {"stale", "no_data"}, res["result"]["report"]
        assert pipeline.procs.alive("collector-bad")  # it keeps retrying, it does not crash
    finally:
        pipeline.stop_agent(signal.SIGTERM, name="collector-bad")
