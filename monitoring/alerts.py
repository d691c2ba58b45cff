"""Alert rules of the kubiya runners: ONE definition (``rules()``), rendered to

* a Prometheus rule file (``render_prometheus``; checked by ``promtool check rules``),
* its promtool unit tests (``render_promtool_tests``; series fixtures per rule, firing and not
  firing; run by ``promtool test rules``),
* Grafana alert-rule provisioning payloads (``render_grafana``; POST
  /api/v1/provisioning/alert-rules, one object per rule, built with grafana-foundation-sdk).

Every selector names its metric (Azure Monitor workspaces); the thresholds are parameters
(``Params``) so the tests can lower them and operators can tune them.
"""
from __future__ import annotations

import dataclasses
import re

R = "organization, runner, namespace"
L = {"organization": "acme", "runner": "acme-runner", "namespace": "kubiya-acme"}
GROUP = "kubiya-runners"
# uid of the dashboard an alert points to (default: the Runner Health Overview)
DASHBOARD_OF = {"KubiyaCollectorRemoteWriteFailing": "kubiya-collector",
                "KubiyaRunnerActiveSeriesHigh": "kubiya-costs",
                "KubiyaRunnerSeriesVolumeIncrease": "kubiya-costs",
                "KubiyaWorkspaceActiveSeriesHigh": "kubiya-costs",
                "KubiyaWorkspaceIngestionHigh": "kubiya-costs"}


@dataclasses.dataclass(frozen=True)
class Params:
    stale_after: int = 180            # s without a new collector sample (2 x 60 s interval + 60 s)
    restarts: int = 3                 # container restarts within restart_window
    restart_window: str = "15m"
    lag: int = 300                    # s between newest collected and newest sent sample
    series_per_runner: int = 1500     # README target: at most 1,500 active series per runner
    increase_factor: float = 1.5      # series now / series a window ago
    increase_window: str = "1d"
    workspace_series_limit: int = 1_000_000       # Azure Monitor workspace default
    workspace_samples_per_minute_limit: int = 1_000_000
    workspace_utilisation: float = 0.8


@dataclasses.dataclass
class Case:
    """A promtool test: input series (interval 1m), and per eval time the alerts expected."""
    name: str
    series: list[tuple[str, str]]
    expect: list[tuple[str, list[dict]]]   # (eval_time, [extra labels of each firing alert])


@dataclasses.dataclass
class Rule:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    cases: list[Case]


def _m(metric: str, **labels: str) -> str:
    labels = {**L, **labels}
    return "%s{%s}" % (metric, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


def series_expr(by: str = R) -> str:
    """Active series of a runner: samples its targets deliver after relabelling + the 5
    synthetic series (up, scrape_*) of each target. Read from the runner's own scrape
    metadata, so it does not depend on the collector."""
    return ("sum by (%s) (scrape_samples_post_metric_relabeling) + 5 * count by (%s) (up)"
            % (by, by)) if by else \
        "sum(scrape_samples_post_metric_relabeling) + 5 * count(up)"


def _offset(expr: str, window: str) -> str:
    """series_expr() a window ago."""
    return (expr.replace(") +", " offset %s) +" % window)
            .replace("(up)", "(up offset %s)" % window))


def rules(p: Params = Params()) -> list[Rule]:
    series = series_expr()
    return [
        Rule("KubiyaRunnerComponentDown",
             "max by (%s, component, deployment) (kube_deployment_status_replicas_available) == 0"
             " or max by (%s, component, statefulset) (kube_statefulset_status_replicas_ready) == 0"
             % (R, R), "5m", "critical",
             "{{ $labels.component }} of runner {{ $labels.runner }} has no available replica",
             "Runner {{ $labels.organization }}/{{ $labels.runner }} (namespace "
             "{{ $labels.namespace }}): {{ $labels.component }} has had no available replica for "
             "5 minutes (scaled to zero, crashing or unschedulable).",
             [Case("agent-manager scaled to zero",
                   [(_m("kube_deployment_status_replicas_available", component="agent-manager",
                        deployment="agent-manager"), "1x10 0x20"),
                    (_m("kube_statefulset_status_replicas_ready", component="dagger",
                        statefulset="dagger"), "1x30")],
                   [("9m", []), ("14m", []),
                    ("16m", [{"component": "agent-manager", "deployment": "agent-manager"}])])]),
        Rule("KubiyaRunnerPodNotReady",
             "max by (%s, component, pod) (kube_pod_status_ready{condition=\"true\"}) == 0"
             " unless on (%s, pod) max by (%s, pod) (kube_pod_status_phase{phase=~\"Succeeded|Failed\"}) == 1"
             % (R, R, R), "10m", "warning",
             "Pod {{ $labels.pod }} of runner {{ $labels.runner }} is not Ready",
             "Runner {{ $labels.organization }}/{{ $labels.runner }}: pod {{ $labels.pod }} "
             "({{ $labels.component }}) has not been Ready for 10 minutes.",
             [Case("tool-manager pod not ready; a finished image-updater job pod is ignored",
                   [(_m("kube_pod_status_ready", condition="true", component="tool-manager",
                        pod="tool-manager-1"), "1x5 0x30"),
                    (_m("kube_pod_status_ready", condition="true", component="image-updater",
                        pod="image-updater-1"), "0x40"),
                    (_m("kube_pod_status_phase", phase="Succeeded", pod="image-updater-1",
                        component="image-updater"), "1x40")],
                   [("5m", []), ("14m", []),
                    ("17m", [{"component": "tool-manager", "pod": "tool-manager-1"}])])]),
        Rule("KubiyaRunnerComponentRestarting",
             "sum by (%s, component, pod, container) (increase(kube_pod_container_status_restarts_total[%s])) >= %d"
             % (R, p.restart_window, p.restarts), "0m", "warning",
             "{{ $labels.container }} of runner {{ $labels.runner }} is restarting",
             "Runner {{ $labels.organization }}/{{ $labels.runner }}: container "
             "{{ $labels.container }} of pod {{ $labels.pod }} restarted %d times or more within %s."
             % (p.restarts, p.restart_window),
             [Case("tool-manager restarts 4 times in 10 minutes; agent-manager once",
                   [(_m("kube_pod_container_status_restarts_total", component="tool-manager",
                        pod="tool-manager-1", container="tool-manager"), "0x10 1 2 3 4 4x20"),
                    (_m("kube_pod_container_status_restarts_total", component="agent-manager",
                        pod="agent-manager-1", container="agent-manager"), "0x10 1x20")],
                   [("10m", []), ("15m", [{"component": "tool-manager", "pod": "tool-manager-1",
                                           "container": "tool-manager"}]), ("35m", [])])]),
        Rule("KubiyaRunnerMetricsStale",
             # the newest sample: exact while it is within the 5 min lookback, then (up to an
             # hour) from a 1 m subquery, so the alert keeps firing after the series went away
             "time() - max by (%s) (timestamp(up{job=\"alloy\"})"
             " or max_over_time(timestamp(up{job=\"alloy\"})[1h:1m])) > %d"
             % (R, p.stale_after), "1m", "critical",
             "No metrics from runner {{ $labels.runner }}",
             "Runner {{ $labels.organization }}/{{ $labels.runner }}: the newest sample of its "
             "collector is more than %d s old (collector down, remote write refused, or the "
             "runner gone within the last hour)." % p.stale_after,
             [Case("the collector stops delivering after 10 minutes",
                   [(_m("up", job="alloy", component="alloy", pod="alloy-1", container="alloy"),
                     "1x10")],
                   [("10m", []), ("12m", []),
                    ("15m", [{}]), ("50m", [{}]), ("80m", [])]),
              Case("a slow but live collector (a sample every 2 min) is not stale",
                   [(_m("up", job="alloy", component="alloy", pod="alloy-1", container="alloy"),
                     "1 _ 1 _ 1 _ 1 _ 1 _ 1 _ 1 _ 1 _ 1 _ 1")],
                   [("5m", []), ("13m", []), ("19m", [])])]),
        Rule("KubiyaCollectorRemoteWriteFailing",
             "sum by (%s, pod) (rate(prometheus_remote_storage_samples_failed_total{job=\"alloy\"}[5m])) > 0"
             " or max by (%s, pod) (prometheus_remote_storage_highest_timestamp_in_seconds{job=\"alloy\"})"
             " - on (%s, pod) max by (%s, pod) (prometheus_remote_storage_queue_highest_sent_timestamp_seconds{job=\"alloy\"})"
             " > %d" % (R, R, R, R, p.lag), "10m", "warning",
             "The collector of runner {{ $labels.runner }} fails to remote-write",
             "Runner {{ $labels.organization }}/{{ $labels.runner }}: collector pod "
             "{{ $labels.pod }} has samples rejected by the remote-write endpoint or is more "
             "than %d s behind for 10 minutes." % p.lag,
             [Case("samples failing from minute 10",
                   [(_m("prometheus_remote_storage_samples_failed_total", job="alloy",
                        pod="alloy-1", remote_name="central", url="https://x/api/v1/write"),
                     "0x10 0+60x30"),
                    (_m("prometheus_remote_storage_highest_timestamp_in_seconds", job="alloy",
                        pod="alloy-1"), "0+60x40"),
                    (_m("prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                        job="alloy", pod="alloy-1", remote_name="central",
                        url="https://x/api/v1/write"), "0+60x40")],
                   [("9m", []), ("15m", []), ("22m", [{"pod": "alloy-1"}])]),
              Case("sending falls behind (lag grows 1 min per min) from minute 5",
                   [(_m("prometheus_remote_storage_samples_failed_total", job="alloy",
                        pod="alloy-1", remote_name="central", url="https://x/api/v1/write"),
                     "0x40"),
                    (_m("prometheus_remote_storage_highest_timestamp_in_seconds", job="alloy",
                        pod="alloy-1"), "0+60x40"),
                    (_m("prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                        job="alloy", pod="alloy-1", remote_name="central",
                        url="https://x/api/v1/write"), "0+60x5 300x35")],
                   [("9m", []), ("15m", []), ("25m", [{"pod": "alloy-1"}])])]),
        Rule("KubiyaRunnerActiveSeriesHigh",
             "%s > %d" % (series, p.series_per_runner), "15m", "warning",
             "Runner {{ $labels.runner }} delivers more than %d active series" % p.series_per_runner,
             "Runner {{ $labels.organization }}/{{ $labels.runner }} has delivered more than %d "
             "active series for 15 minutes (cost: see the Costs & Scale dashboard)."
             % p.series_per_runner,
             [Case("two targets, one grows past the threshold",
                   [(_m("scrape_samples_post_metric_relabeling", job="kube-state-metrics"),
                     "200x10 %dx30" % (p.series_per_runner + 100)),
                    (_m("up", job="kube-state-metrics"), "1x40"),
                    (_m("scrape_samples_post_metric_relabeling", job="alloy"), "70x40"),
                    (_m("up", job="alloy"), "1x40")],
                   [("10m", []), ("20m", []), ("27m", [{}])])]),
        Rule("KubiyaRunnerSeriesVolumeIncrease",
             "(%s) / (%s) > %s" % (series, _offset(series, p.increase_window), p.increase_factor),
             "30m", "warning",
             "Active series of runner {{ $labels.runner }} grew by more than %d%% in %s"
             % (round((p.increase_factor - 1) * 100), p.increase_window),
             "Runner {{ $labels.organization }}/{{ $labels.runner }}: active series are more than "
             "%s times what they were %s ago (new labels, a new target, a cardinality leak)."
             % (p.increase_factor, p.increase_window),
             [Case("series double after a day",
                   [(_m("scrape_samples_post_metric_relabeling", job="kube-state-metrics"),
                     "200x1440 400x60"),
                    (_m("up", job="kube-state-metrics"), "1x1500")],
                   [("1440m", []), ("1460m", []), ("1480m", [{}])])]),
        Rule("KubiyaWorkspaceActiveSeriesHigh",
             "%s > %s * %d" % (series_expr(""), p.workspace_utilisation, p.workspace_series_limit),
             "15m", "warning",
             "The runners use more than %d%% of the workspace's active-series limit"
             % round(p.workspace_utilisation * 100),
             "All runners together deliver more than %d%% of the workspace limit of %d active "
             "series (other writers to the workspace are not counted)."
             % (round(p.workspace_utilisation * 100), p.workspace_series_limit),
             [Case("many runners near the limit",
                   [(_m("scrape_samples_post_metric_relabeling", job="kube-state-metrics"),
                     "500000x10 %dx30" % (p.workspace_series_limit * 0.85)),
                    (_m("up", job="kube-state-metrics"), "1x40")],
                   [("10m", []), ("20m", []), ("27m", [{}])])]),
        Rule("KubiyaWorkspaceIngestionHigh",
             "sum(rate(prometheus_remote_storage_samples_total{job=\"alloy\"}[5m])) * 60 > %s * %d"
             % (p.workspace_utilisation, p.workspace_samples_per_minute_limit), "15m", "warning",
             "The runners use more than %d%% of the workspace's ingestion limit"
             % round(p.workspace_utilisation * 100),
             "All runners together send more than %d%% of the workspace limit of %d samples per "
             "minute." % (round(p.workspace_utilisation * 100), p.workspace_samples_per_minute_limit),
             [Case("ingestion jumps to 900k samples per minute",
                   [(_m("prometheus_remote_storage_samples_total", job="alloy", pod="alloy-1",
                        remote_name="central", url="https://x/api/v1/write"),
                     "0+1000x10 10000+900000x30")],
                   [("10m", []), ("25m", []), ("35m", [{}])])]),
    ]


def _group_labels(r: Rule) -> dict:
    by = re.search(r"by \(([^)]*)\)", r.expr)
    return {k: L[k] for k in ("organization", "runner", "namespace")} if by and "organization" in by.group(1) else {}


def render_prometheus(p: Params = Params()) -> dict:
    return {"groups": [{"name": GROUP, "interval": "1m", "rules": [
        {"alert": r.alert, "expr": r.expr, "for": r.for_,
         "labels": {"severity": r.severity, "team": "kubiya-runners"},
         "annotations": {"summary": r.summary, "description": r.description,
                         "dashboard": DASHBOARD_OF.get(r.alert, "kubiya-runner-health")}}
        for r in rules(p)]}]}


def _expand(template: str, labels: dict) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)


def render_promtool_tests(rule_file: str, p: Params = Params()) -> dict:
    rendered = {r["alert"]: r for r in render_prometheus(p)["groups"][0]["rules"]}
    tests = []
    for r in rules(p):
        base = _group_labels(r)
        for c in r.cases:
            checks = []
            for at, alerts in c.expect:
                exp = []
                for extra in alerts:
                    labels = {**base, **extra, **rendered[r.alert]["labels"]}
                    exp.append({"exp_labels": labels, "exp_annotations": {
                        k: _expand(v, labels) for k, v in rendered[r.alert]["annotations"].items()}})
                checks.append({"eval_time": at, "alertname": r.alert, "exp_alerts": exp})
            tests.append({"name": "%s: %s" % (r.alert, c.name), "interval": "1m",
                          "input_series": [{"series": s, "values": v} for s, v in c.series],
                          "alert_rule_test": checks})
    tests.append({"name": "a healthy runner fires nothing", "interval": "1m",
                  "input_series": [{"series": s, "values": v} for s, v in HEALTHY],
                  "alert_rule_test": [{"eval_time": "60m", "alertname": r.alert, "exp_alerts": []}
                                      for r in rules(p)]})
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


# A healthy runner for an hour: every component available and Ready, no restart, the collector
# delivering 432 series (the README's measured default) without failure or lag.
HEALTHY = [
    *[(_m("kube_deployment_status_replicas_available", component=c, deployment=c), "1x60")
      for c in ("agent-manager", "tool-manager", "kubiya-operator", "alloy", "kube-state-metrics")],
    (_m("kube_statefulset_status_replicas_ready", component="dagger", statefulset="dagger"), "1x60"),
    *[(_m("kube_pod_status_ready", condition="true", component=c, pod=c + "-1"), "1x60")
      for c in ("agent-manager", "tool-manager", "kubiya-operator", "dagger", "alloy")],
    (_m("kube_pod_container_status_restarts_total", component="agent-manager",
        pod="agent-manager-1", container="agent-manager"), "2x60"),
    (_m("up", job="alloy", component="alloy", pod="alloy-1", container="alloy"), "1x60"),
    (_m("up", job="kube-state-metrics"), "1x60"),
    (_m("scrape_samples_post_metric_relabeling", job="alloy"), "72x60"),
    (_m("scrape_samples_post_metric_relabeling", job="kube-state-metrics"), "350x60"),
    (_m("prometheus_remote_storage_samples_total", job="alloy", pod="alloy-1",
        remote_name="central", url="https://x/api/v1/write"), "0+432x60"),
    (_m("prometheus_remote_storage_samples_failed_total", job="alloy", pod="alloy-1",
        remote_name="central", url="https://x/api/v1/write"), "0x60"),
    (_m("prometheus_remote_storage_highest_timestamp_in_seconds", job="alloy", pod="alloy-1"),
     "0+60x60"),
    (_m("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", job="alloy",
        pod="alloy-1", remote_name="central", url="https://x/api/v1/write"), "0+60x60"),
]


# placeholders the grafana role replaces with the environment's datasource and folder uids
DATASOURCE_PLACEHOLDER = "__KUBIYA_DATASOURCE_UID__"
FOLDER_PLACEHOLDER = "__KUBIYA_FOLDER_UID__"


def render_grafana(p: Params = Params(), datasource_uid: str = DATASOURCE_PLACEHOLDER,
                   folder_uid: str = FOLDER_PLACEHOLDER) -> list[dict]:
    """Grafana-managed alert rules (provisioning API payloads), one per Prometheus rule:
    A = the rule's PromQL (instant; a series is returned only while the condition holds, each
    mapped to 1), B = last value of A, C = B > 0."""
    import json

    from grafana_foundation_sdk.builders import alerting
    from grafana_foundation_sdk.builders import expr as gexpr
    from grafana_foundation_sdk.builders import prometheus as prom
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import alerting as am

    out = []
    for r in render_prometheus(p)["groups"][0]["rules"]:
        window = am.RelativeTimeRange(from_val=3600, to=0)
        rule = (alerting.Rule(r["alert"])
                .uid(("kubiya-" + re.sub(r"(?<!^)(?=[A-Z])", "-", r["alert"]).lower()
                      .replace("kubiya-", ""))[:40])
                .org_id(1).folder_uid(folder_uid).rule_group(GROUP).condition("C")
                .for_val(r["for"]).labels(r["labels"]).annotations(r["annotations"])
                .no_data_state("OK").exec_err_state("Error")
                .with_query(alerting.Query("A").datasource_uid(datasource_uid)
                            .relative_time_range(window)
                            .model(prom.Dataquery().expr("(%s) * 0 + 1" % r["expr"]).instant()
                                   .ref_id("A")))
                .with_query(alerting.Query("B").datasource_uid("__expr__")
                            .relative_time_range(window)
                            .model(gexpr.TypeReduce().expression("A").reducer("last").ref_id("B")))
                .with_query(alerting.Query("C").datasource_uid("__expr__")
                            .relative_time_range(window)
                            .model(gexpr.TypeThreshold().expression("B").ref_id("C").conditions(
                                [gexpr.ExprTypeThresholdConditions().evaluator(
                                    gexpr.ExprTypeThresholdConditionsEvaluator().type("gt")
                                    .params([0]))]))))
        out.append(json.loads(json.dumps(rule.build(), cls=JSONEncoder)))
    return out
