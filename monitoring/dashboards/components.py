"""agent-manager and tool-manager detail views: one builder, the component as parameter.

The applications' own metric names (http_requests_total, http_request_duration_seconds,
process_*) are those of the test stand-ins (tests/pipeline/standin.py): common client-library
defaults, an assumption until the real apps' /metrics is checked."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from ..common import UIDS, base, link_to, sel, stat, target, timeseries

ALLOY_ONLY = "blackbox probes run only with the Alloy collector (not in the agent-mode pipeline)"


def _component(component: str, key: str, health: str) -> dash.Dashboard:
    c = 'component="%s"' % component
    ready = sel("kube_pod_status_ready", 'condition="true"', c)
    http = sel("http_requests_total", c)
    bucket = sel("http_request_duration_seconds_bucket", c)
    return (base(component, UIDS[key][0], "%s of one runner: pods, requests, latency, resources."
                 % component, runner_multi=False)
            .link(link_to("runner-health", "Runner Health Overview"))
            .link(link_to("all-runners", "All Runners Status"))
            .with_row(dash.Row("State"))
            .with_panel(stat("Ready pods", "", [target("sum(%s)" % ready)],
                             steps=((None, "red"), (1, "green"))))
            .with_panel(stat("Scrape up", "/metrics scraped by the collector.",
                             [target("min(%s)" % sel("up", 'job="kubiya-runner"', c))],
                             steps=((None, "red"), (1, "green"))))
            .with_panel(stat("Health probe %s" % health, "Blackbox probe (Alloy).",
                             [target("min(%s)" % sel("probe_success", 'job="blackbox"', c),
                                     optional=ALLOY_ONLY)], steps=((None, "red"), (1, "green"))))
            .with_panel(stat("Restarts (1h)", "", [target(
                "sum(increase(%s[1h]))" % sel("kube_pod_container_status_restarts_total", c))],
                steps=((None, "green"), (1, "orange"), (5, "red"))))
            .with_row(dash.Row("Requests"))
            .with_panel(timeseries("Requests by status code", "", [target(
                "sum by (code) (rate(%s[$__rate_interval]))" % http, "{{code}}")], unit="reqps"))
            .with_panel(timeseries("Error ratio (5xx)", "", [target(
                "sum(rate(%s[$__rate_interval])) / sum(rate(%s[$__rate_interval]))"
                % (sel("http_requests_total", c, 'code=~"5.."'), http), "5xx")],
                unit="percentunit", steps=((None, "green"), (0.05, "red"))))
            .with_panel(timeseries("Latency", "Request duration quantiles.", [
                target("histogram_quantile(%s, sum by (le) (rate(%s[$__rate_interval])))"
                       % (q, bucket), "p%s" % int(float(q) * 100), ref=r)
                for q, r in (("0.5", "A"), ("0.95", "B"), ("0.99", "C"))], unit="s", w=24))
            .with_row(dash.Row("Resources"))
            .with_panel(timeseries("CPU", "CPU used against the containers' limits.", [
                target("sum by (pod) (rate(%s[$__rate_interval]))"
                       % sel("process_cpu_seconds_total", c), "{{pod}} used", ref="A"),
                target("sum(%s)" % sel("kube_pod_container_resource_limits", c, 'resource="cpu"'),
                       "limit", ref="B")], unit="cores"))
            .with_panel(timeseries("Memory", "Resident memory against the containers' limits.", [
                target("sum by (pod) (%s)" % sel("process_resident_memory_bytes", c),
                       "{{pod}} resident", ref="A"),
                target("sum(%s)" % sel("kube_pod_container_resource_limits", c,
                                       'resource="memory"'), "limit", ref="B")], unit="bytes")))


def agent_manager() -> dash.Dashboard:
    return _component("agent-manager", "agent-manager", "/healthz")


def tool_manager() -> dash.Dashboard:
    return _component("tool-manager", "tool-manager", "/health")
