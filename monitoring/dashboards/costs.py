"""Costs & Scale: active series and samples per minute per runner and in total, the
workspace's utilisation against its limits, the estimated monthly ingestion cost.

Azure Monitor workspace defaults (adjust the variables to the workspace's quota):
1,000,000 active series and 1,000,000 events (samples) per minute. Price: per 10 million
samples ingested, region dependent; the variable's default is an example, set yours."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from ..common import UIDS, base, gauge, link_to, sel, stat, target, timeseries

BY = "organization, runner"
SERIES = ("sum by (%s) (%s) + 5 * count by (%s) (%s)"
          % (BY, sel("scrape_samples_post_metric_relabeling"), BY, sel("up")))
SAMPLES_PER_MIN = ("sum by (%s) (rate(%s[$__rate_interval])) * 60"
                   % (BY, sel("prometheus_remote_storage_samples_total", 'job="alloy"')))
MONTH_MIN = 60 * 24 * 30


def _textbox(name: str, label: str, value: str) -> dash.TextBoxVariable:
    return dash.TextBoxVariable(name).label(label).default_value(value)


def build() -> dash.Dashboard:
    cost = "(%s) * %d / 1e7 * $price_per_10m_samples" % (SAMPLES_PER_MIN, MONTH_MIN)
    return (base("Costs & Scale", UIDS["costs"][0],
                 "What the runners cost the central workspace: series, samples, limits, money.")
            .with_variable(_textbox("price_per_10m_samples", "Price per 10M samples", "0.16"))
            .with_variable(_textbox("series_limit", "Workspace active-series limit", "1000000"))
            .with_variable(_textbox("samples_per_minute_limit",
                                    "Workspace samples-per-minute limit", "1000000"))
            .link(link_to("all-runners", "All Runners Status"))
            .link(link_to("collector", "Collector self-monitoring"))
            .with_row(dash.Row("Totals"))
            .with_panel(stat("Active series, total", "", [target("sum(%s)" % SERIES)]))
            .with_panel(stat("Samples per minute, total", "", [target("sum(%s)" % SAMPLES_PER_MIN)]))
            .with_panel(stat("Estimated monthly ingestion cost", "Samples per minute x 43,200 "
                             "minutes / 10M x price.", [target("sum(%s)" % cost)],
                             unit="currencyUSD"))
            .with_panel(stat("Runners", "", [target("count(%s)" % SERIES)]))
            .with_panel(gauge("Workspace active-series utilisation", "Runner series against the "
                              "workspace limit (other writers to the workspace are not seen).",
                              [target("sum(%s) / $series_limit" % SERIES)], w=12))
            .with_panel(gauge("Workspace ingestion utilisation", "Runner samples per minute "
                              "against the workspace limit.",
                              [target("sum(%s) / $samples_per_minute_limit" % SAMPLES_PER_MIN)],
                              w=12))
            .with_row(dash.Row("Per runner"))
            .with_panel(timeseries("Active series per runner", "Scraped samples after "
                                   "relabelling + 5 synthetic series per target.",
                                   [target(SERIES, "{{organization}}/{{runner}}")],
                                   steps=((None, "green"), (1500, "red"))))
            .with_panel(timeseries("Samples per minute per runner", "",
                                   [target(SAMPLES_PER_MIN, "{{organization}}/{{runner}}")]))
            .with_panel(timeseries("Estimated monthly cost per runner", "",
                                   [target(cost, "{{organization}}/{{runner}}")],
                                   unit="currencyUSD"))
            .with_panel(timeseries("Series growth against a day ago", "Active series now / "
                                   "a day ago (1 = flat).", [target(
                                       "(%s) / (%s)" % (SERIES, SERIES.replace(
                                           "}", "} offset 1d")), "{{organization}}/{{runner}}",
                                       optional="needs a day of history")],
                                   unit="percentunit", steps=((None, "green"), (1.5, "red")))))
