"""Collector self-monitoring across all runners: samples sent, failures, retries, queue and
WAL, scrape durations. Works for both collectors: Grafana Alloy's prometheus.remote_write and
Prometheus in agent mode export the same prometheus_remote_storage_* names; the WAL series
gauge differs (Alloy: prometheus_remote_write_wal_storage_active_series, agent:
prometheus_agent_active_series), so the panel reads either."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from ..common import UIDS, base, link_to, sel, stat, table, target, timeseries

BY = "organization, runner"
J = 'job="alloy"'


def _rate(metric: str) -> str:
    return "sum by (%s) (rate(%s[$__rate_interval]))" % (BY, sel(metric, J))


def build() -> dash.Dashboard:
    return (base("Collector self-monitoring", UIDS["collector"][0],
                 "The runners' collectors (Grafana Alloy or Prometheus agent): delivery, "
                 "queues, WAL, scrapes.")
            .link(link_to("all-runners", "All Runners Status"))
            .link(link_to("costs", "Costs & Scale"))
            .with_row(dash.Row("Delivery"))
            .with_panel(stat("Collectors up", "", [target("sum(%s)" % sel("up", J))]))
            .with_panel(stat("Samples sent / min, all runners", "", [target(
                "sum(rate(%s[$__rate_interval])) * 60"
                % sel("prometheus_remote_storage_samples_total", J))]))
            .with_panel(stat("Samples failed / min", "", [target(
                "sum(rate(%s[$__rate_interval])) * 60"
                % sel("prometheus_remote_storage_samples_failed_total", J))],
                steps=((None, "green"), (1e-9, "red"))))
            .with_panel(stat("Max remote-write lag", "", [target(
                "max(%s - ignoring (remote_name, url) %s)"
                % (sel("prometheus_remote_storage_highest_timestamp_in_seconds", J),
                   sel("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", J)))],
                unit="s", steps=((None, "green"), (120, "red"))))
            .with_panel(timeseries("Samples sent per runner", "", [target(
                _rate("prometheus_remote_storage_samples_total"), "{{organization}}/{{runner}}")],
                unit="cps"))
            .with_panel(timeseries("Samples failed and retried per runner", "", [
                target(_rate("prometheus_remote_storage_samples_failed_total"),
                       "failed {{organization}}/{{runner}}", ref="A"),
                target(_rate("prometheus_remote_storage_samples_retried_total"),
                       "retried {{organization}}/{{runner}}", ref="B")], unit="cps"))
            .with_row(dash.Row("Queue and WAL"))
            .with_panel(timeseries("Samples pending in the queue", "", [target(
                "sum by (%s) (%s)" % (BY, sel("prometheus_remote_storage_samples_pending", J)),
                "{{organization}}/{{runner}}")]))
            .with_panel(timeseries("Shards", "", [target(
                "sum by (%s) (%s)" % (BY, sel("prometheus_remote_storage_shards", J)),
                "{{organization}}/{{runner}}")]))
            .with_panel(timeseries("Series in the WAL", "", [target(
                "sum by (%s) (%s) or sum by (%s) (%s)"
                % (BY, sel("prometheus_agent_active_series", J),
                   BY, sel("prometheus_remote_write_wal_storage_active_series", J)),
                "{{organization}}/{{runner}}")]))
            .with_panel(timeseries("Remote-write lag", "", [target(
                "max by (%s) (%s - ignoring (remote_name, url) %s)"
                % (BY, sel("prometheus_remote_storage_highest_timestamp_in_seconds", J),
                   sel("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", J)),
                "{{organization}}/{{runner}}")], unit="s", steps=((None, "green"), (120, "red"))))
            .with_row(dash.Row("Scrapes"))
            .with_panel(timeseries("Scrape duration by job", "Slowest target per runner and job.",
                                   [target("max by (%s, job) (%s)"
                                           % (BY, sel("scrape_duration_seconds")),
                                           "{{organization}}/{{runner}} {{job}}")], unit="s"))
            .with_panel(timeseries("Targets down", "Scrape targets whose last scrape failed.",
                                   [target("count by (%s, job) (%s == 0)" % (BY, sel("up")),
                                           "{{organization}}/{{runner}} {{job}}",
                                           optional="no target is down on a healthy runner")]))
            .with_row(dash.Row("Resources and versions"))
            .with_panel(timeseries("Collector memory", "", [target(
                "max by (%s) (%s)" % (BY, sel("process_resident_memory_bytes", J)),
                "{{organization}}/{{runner}}")], unit="bytes"))
            .with_panel(timeseries("Collector CPU", "", [target(
                "sum by (%s) (rate(%s[$__rate_interval]))"
                % (BY, sel("process_cpu_seconds_total", J)), "{{organization}}/{{runner}}")],
                unit="cores"))
            .with_panel(table("Collector versions", "Build info of each runner's collector.", [
                target("max by (%s, version) (%s) or max by (%s, version) (%s)"
                       % (BY, sel("alloy_build_info", J), BY, sel("prometheus_build_info", J)),
                       instant=True, table=True)])))
