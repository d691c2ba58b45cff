"""All Runners Status: one row per runner across organizations, its state, a link to its
Runner Health Overview."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as dm

from ..common import (UIDS, base, link_to, sel, stat, state_mapping, table, target,
                      timeseries)

BY = "organization, runner"


def _runner_queries() -> list:
    ready = sel("kube_pod_status_ready", 'condition="true"')
    return [
        # 0 = every pod Ready, n = n pods not Ready (a runner always has pods)
        target("count by (%s) (%s == 0) or count by (%s) (%s) * 0" % (BY, ready, BY, ready),
               ref="A", instant=True, table=True),
        target("sum by (%s) (%s)" % (BY, ready), ref="B", instant=True, table=True),
        target("sum by (%s) (increase(%s[1h]))"
               % (BY, sel("kube_pod_container_status_restarts_total")),
               ref="C", instant=True, table=True),
        target("max by (%s) (%s)" % (BY, sel("up", 'job="alloy"')), ref="D", instant=True,
               table=True),
        target("time() - max by (%s) (timestamp(%s))" % (BY, sel("up", 'job="alloy"')),
               ref="E", instant=True, table=True),
        target(ACTIVE_SERIES, ref="F", instant=True, table=True),
    ]


ACTIVE_SERIES = ("sum by (%s) (%s) + 5 * count by (%s) (%s)"
                 % (BY, sel("scrape_samples_post_metric_relabeling"), BY, sel("up")))


def build() -> dash.Dashboard:
    uid, slug = UIDS["runner-health"]
    health_url = ("/d/%s/%s?var-organization=${__data.fields.organization}"
                  "&var-runner=${__data.fields.runner}&${environment:queryparam}&${__url_time_range}"
                  % (uid, slug))
    runners = (table(
        "Runners", "One row per runner: pods not Ready (0 = OK), Ready pods, container "
        "restarts in the last hour, collector up, age of the newest sample, active series. "
        "Click a runner for its Runner Health Overview.", _runner_queries())
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
            "excludeByName": {"Time": True},
            "renameByName": {"Value #A": "State (pods not Ready)", "Value #B": "Ready pods",
                             "Value #C": "Restarts 1h", "Value #D": "Collector up",
                             "Value #E": "Newest sample age (s)", "Value #F": "Active series"}}))
        .override_by_name("State (pods not Ready)", [
            dm.DynamicConfigValue(id_val="mappings", value=state_mapping("OK", "DEGRADED")),
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"})])
        .override_by_name("Newest sample age (s)", [
            dm.DynamicConfigValue(id_val="unit", value="s"),
            dm.DynamicConfigValue(id_val="thresholds", value={"mode": "absolute", "steps": [
                {"value": None, "color": "green"}, {"value": 180, "color": "red"}]}),
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"})])
        .data_links([dash.DashboardLink("Runner Health Overview of ${__data.fields.runner}")
                     .url(health_url)])
        .height(12))
    ready = sel("kube_pod_status_ready", 'condition="true"')
    return (base("All Runners Status", UIDS["all-runners"][0],
                 "Every runner of the environment (the datasource), across organizations.")
            .link(link_to("runner-health", "Runner Health Overview"))
            .link(link_to("collector", "Collector self-monitoring"))
            .link(link_to("costs", "Costs & Scale"))
            .with_row(dash.Row("Overview"))
            .with_panel(stat("Runners reporting", "Runners whose collector delivered its own "
                             "`up` series.", [target("count(count by (%s) (%s))"
                                                     % (BY, sel("up", 'job="alloy"')))]))
            .with_panel(stat("Runners degraded", "Runners with at least one pod not Ready.",
                             [target("count(count by (%s) (%s == 0)) or vector(0)" % (BY, ready))],
                             steps=((None, "green"), (1, "red"))))
            .with_panel(stat("Runners with stale metrics", "Runners whose newest collector "
                             "sample is older than 3 minutes (within the last hour).",
                             [target("count(time() - max by (%s) (timestamp(%s) or max_over_time("
                                     "timestamp(%s)[1h:1m])) > 180) or vector(0)"
                                     % (BY, sel("up", 'job="alloy"'), sel("up", 'job="alloy"')))],
                             steps=((None, "green"), (1, "red"))))
            .with_panel(stat("Active series, all runners", "Series the runners' collectors "
                             "deliver (scraped samples + 5 synthetic series per target).",
                             [target("sum(%s)" % ACTIVE_SERIES)]))
            .with_row(dash.Row("Runners"))
            .with_panel(runners)
            .with_panel(timeseries("Pods not Ready per runner", "", [target(
                "count by (%s) (%s == 0)" % (BY, ready), "{{organization}}/{{runner}}",
                optional="no pod is not Ready on a healthy runner")], w=24)))
