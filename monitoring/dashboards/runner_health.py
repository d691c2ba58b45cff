"""Runner Health Overview: per runner, each component's readiness, restarts, health-probe
results and the collector's health."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as dm

from ..common import UIDS, base, link_to, sel, stat, table, target, timeseries

ALLOY_ONLY = "blackbox probes run only with the Alloy collector (not in the agent-mode pipeline)"


def build() -> dash.Dashboard:
    ready = sel("kube_pod_status_ready", 'condition="true"')
    return (base("Runner Health Overview", UIDS["runner-health"][0],
                 "One runner: components, restarts, health probes and its collector.")
            .link(link_to("all-runners", "All Runners Status"))
            .link(link_to("agent-manager", "agent-manager"))
            .link(link_to("tool-manager", "tool-manager"))
            .link(link_to("collector", "Collector self-monitoring"))
            .with_row(dash.Row("Components"))
            .with_panel(stat("Pods not Ready", "Pods of the runner whose Ready condition is false.",
                             [target("count(%s == 0) or vector(0)" % ready)],
                             steps=((None, "green"), (1, "red"))))
            .with_panel(stat("Container restarts (1h)", "",
                             [target("sum(increase(%s[1h]))"
                                     % sel("kube_pod_container_status_restarts_total"))],
                             steps=((None, "green"), (1, "orange"), (5, "red"))))
            .with_panel(stat("Collector up", "The collector scraped itself (1 = up).",
                             [target("max(%s)" % sel("up", 'job="alloy"'))],
                             steps=((None, "red"), (1, "green"))))
            .with_panel(stat("Newest sample age", "Seconds since the collector's last delivered "
                             "sample (3 min = stale).",
                             [target("time() - max(timestamp(%s))" % sel("up", 'job="alloy"'))],
                             unit="s", steps=((None, "green"), (180, "red"))))
            .with_panel(table("Readiness by component", "Ready pods / pods per component "
                              "(kube-state-metrics).", [
                                  target("sum by (component) (%s)" % ready, ref="A", instant=True,
                                         table=True),
                                  target("count by (component) (%s)" % ready, ref="B",
                                         instant=True, table=True)], h=9, w=12)
                        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
                        .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                            "excludeByName": {"Time": True},
                            "renameByName": {"Value #A": "Ready pods", "Value #B": "Pods"}})))
            .with_panel(timeseries("Available replicas by workload", "Deployments and the dagger "
                                   "StatefulSet: available/ready replicas against the desired count.", [
                                       target("max by (deployment) (%s)"
                                              % sel("kube_deployment_status_replicas_available"),
                                              "{{deployment}} available", ref="A"),
                                       target("max by (deployment) (%s)"
                                              % sel("kube_deployment_spec_replicas"),
                                              "{{deployment}} desired", ref="B"),
                                       target("max by (statefulset) (%s)"
                                              % sel("kube_statefulset_status_replicas_ready"),
                                              "{{statefulset}} ready", ref="C")], h=9))
            .with_panel(timeseries("Container restarts", "Restarts per container in the "
                                   "rate window.", [target(
                                       "sum by (component, container) (increase(%s[$__rate_interval]))"
                                       % sel("kube_pod_container_status_restarts_total"),
                                       "{{component}}/{{container}}")]))
            .with_panel(table("Containers waiting", "Containers held in a waiting state, with "
                              "the reason (CrashLoopBackOff, ImagePullBackOff, ...).", [target(
                                  "max by (component, pod, container, reason) (%s) > 0"
                                  % sel("kube_pod_container_status_waiting_reason"),
                                  instant=True, table=True,
                                  optional="no container waits on a healthy runner")], w=12))
            .with_row(dash.Row("Health probes"))
            .with_panel(timeseries("/metrics scrape success", "up of each scraped component.",
                                   [target("max by (component) (%s)"
                                           % sel("up", 'job=~"kubiya-runner|alloy"'),
                                           "{{component}}")], steps=((None, "red"), (1, "green"))))
            .with_panel(timeseries("Health-probe results", "Blackbox probes of agent-manager "
                                   "/healthz, tool-manager /health and dagger TCP (Alloy).",
                                   [target("max by (component) (%s)"
                                           % sel("probe_success", 'job="blackbox"'),
                                           "{{component}}", optional=ALLOY_ONLY)],
                                   steps=((None, "red"), (1, "green"))))
            .with_row(dash.Row("Collector"))
            .with_panel(timeseries("Remote-write lag", "Newest sample in the collector minus "
                                   "newest sample sent.", [target(
                                       "max by (pod) (%s) - on (pod) max by (pod) (%s)"
                                       % (sel("prometheus_remote_storage_highest_timestamp_in_seconds",
                                              'job="alloy"'),
                                          sel("prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                                              'job="alloy"')), "{{pod}}")], unit="s",
                                   steps=((None, "green"), (120, "red"))))
            .with_panel(timeseries("Samples failed / retried", "", [
                target("sum(rate(%s[$__rate_interval]))"
                       % sel("prometheus_remote_storage_samples_failed_total", 'job="alloy"'),
                       "failed", ref="A"),
                target("sum(rate(%s[$__rate_interval]))"
                       % sel("prometheus_remote_storage_samples_retried_total", 'job="alloy"'),
                       "retried", ref="B")], unit="cps")))
