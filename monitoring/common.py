"""Shared building blocks of the dashboards: the datasource, the variables, label selectors
and panel helpers.

Azure Monitor workspaces accept only selectors with exactly one metric-name matcher and do
not answer label-value lookups across all metrics, so every selector here is built by
``sel(metric, ...)`` and every query variable is ``label_values(<metric>, <label>)``
(enforced by tests/unit/monitoring/test_promql_rules.py).

Labels every runner series carries (chart relabelling, charts/kubiya-runner/metrics-checks.yaml):
organization, runner, namespace on every series; component, pod, container, job on the scraped
targets' series; kube-state-metrics series keep the pod/container they describe and get
component from the owning object's name.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

# ---- the environment is the datasource: staging and production never share a workspace
# (roles/azure_prometheus); the grafana role names each environment's datasource
# "kubiya-runners-<environment>". There is no environment label on the runner series.
DATASOURCE_VAR = "environment"
DS = dm.DataSourceRef(type_val="prometheus", uid="${%s}" % DATASOURCE_VAR)
DATASOURCE_REGEX = "/^kubiya-runners-(.+)$/"

# the metric the runner variables read: every runner has one Ready-condition series per pod
VAR_METRIC = "kube_pod_status_ready"

COMPONENTS = ("agent-manager", "tool-manager", "kubiya-operator", "workflow-engine", "dagger",
              "image-updater", "kube-state-metrics", "alloy")

RUNNER = 'organization=~"$organization",runner=~"$runner"'

# Queries that legitimately return nothing on a healthy runner of the test pipeline
# (Prometheus agent-mode collector, stand-in apps): expr -> reason. Read by the real-data test.
OPTIONAL_DATA: dict[str, str] = {}


def sel(metric: str, *matchers: str, runner: bool = True) -> str:
    """``metric{organization=~"$organization",runner=~"$runner",<matchers>}``."""
    parts = ([RUNNER] if runner else ['organization=~"$organization"']) + [m for m in matchers if m]
    return "%s{%s}" % (metric, ",".join(parts))


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False,
           table: bool = False, optional: str | None = None) -> prom.Dataquery:
    if optional:
        OPTIONAL_DATA[expr] = optional
    q = prom.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant()
    if table:
        q = q.format(pm.PromQueryFormat.TABLE)
    return q


def datasource_variable() -> dash.DatasourceVariable:
    return (dash.DatasourceVariable(DATASOURCE_VAR).label("Environment").type("prometheus")
            .regex(DATASOURCE_REGEX))


def query_variable(name: str, label: str, expr: str, multi: bool = True,
                   include_all: bool = True) -> dash.QueryVariable:
    v = (dash.QueryVariable(name).label(label).datasource(DS)
         .query({"query": expr, "refId": "%s-var" % name, "qryType": 1})
         .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
         .multi(multi).include_all(include_all))
    if include_all:
        v = v.all_value(".*")
    return v


def organization_variable() -> dash.QueryVariable:
    return query_variable("organization", "Organization",
                          "label_values(%s, organization)" % VAR_METRIC)


def runner_variable(multi: bool = True) -> dash.QueryVariable:
    return query_variable("runner", "Runner",
                          'label_values(%s{organization=~"$organization"}, runner)' % VAR_METRIC,
                          multi=multi, include_all=multi)


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (dash.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(value=v, color=c) for v, c in steps]))


def link(title: str, uid: str, slug: str) -> dash.DashboardLink:
    """A link to another kubiya dashboard keeping the time range and the variables."""
    return (dash.DashboardLink(title).type(dm.DashboardLinkType.LINK)
            .url("/d/%s/%s" % (uid, slug)).include_vars(True).keep_time(True))


def base(title: str, uid: str, description: str, runner_multi: bool = True) -> dash.Dashboard:
    return (dash.Dashboard(title).uid(uid).description(description)
            .tags(["kubiya", "kubiya-runners"]).editable().time("now-6h", "now").refresh("1m")
            .timezone("utc").tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .with_variable(datasource_variable())
            .with_variable(organization_variable())
            .with_variable(runner_variable(multi=runner_multi)))


UIDS = {
    "all-runners": ("kubiya-all-runners", "all-runners-status"),
    "runner-health": ("kubiya-runner-health", "runner-health-overview"),
    "agent-manager": ("kubiya-agent-manager", "agent-manager"),
    "tool-manager": ("kubiya-tool-manager", "tool-manager"),
    "collector": ("kubiya-collector", "collector-self-monitoring"),
    "costs": ("kubiya-costs", "costs-and-scale"),
}


def link_to(key: str, title: str) -> dash.DashboardLink:
    uid, slug = UIDS[key]
    return link(title, uid, slug)


def _panel(p, title: str, description: str, targets: list, unit: str, w: int, h: int):
    p = p.title(title).description(description).datasource(DS).span(w).height(h)
    if unit:
        p = p.unit(unit)
    for t in targets:
        p = p.with_target(t)
    return p


def timeseries(title: str, description: str, targets: list, unit: str = "short", w: int = 12,
               h: int = 8, steps: tuple | None = None):
    from grafana_foundation_sdk.builders import timeseries as ts
    p = _panel(ts.Panel(), title, description, targets, unit, w, h).fill_opacity(10)
    if steps:
        p = p.thresholds(thresholds(*steps))
    return p


def stat(title: str, description: str, targets: list, unit: str = "short", w: int = 6, h: int = 4,
         steps: tuple = ((None, "green"),), mappings: list | None = None):
    from grafana_foundation_sdk.builders import stat as st
    p = _panel(st.Panel(), title, description, targets, unit, w, h).thresholds(thresholds(*steps))
    p = p.color_mode(common.BigValueColorMode.BACKGROUND) if len(steps) > 1 else p
    if mappings:
        p = p.mappings(mappings)
    return p


def gauge(title: str, description: str, targets: list, unit: str = "percentunit", w: int = 6,
          h: int = 6, steps: tuple = ((None, "green"), (0.7, "orange"), (0.9, "red"))):
    from grafana_foundation_sdk.builders import gauge as ga
    return _panel(ga.Panel(), title, description, targets, unit, w, h).min(0).max(1) \
        .thresholds(thresholds(*steps))


def table(title: str, description: str, targets: list, unit: str = "short", w: int = 24,
          h: int = 8, steps: tuple = ((None, "green"),)):
    from grafana_foundation_sdk.builders import table as tb
    return _panel(tb.Panel(), title, description, targets, unit, w, h).thresholds(thresholds(*steps))


def state_mapping(ok: str = "OK", bad: str = "NOT OK") -> list:
    """0 -> ok (green), 1 and more -> bad (red)."""
    return [
        dm.ValueMap(options={"0": dm.ValueMappingResult(text=ok, color="green", index=0)}),
        dm.RangeMap(options=dm.DashboardRangeMapOptions(
            from_val=1, to=1e12, result=dm.ValueMappingResult(text=bad, color="red", index=1))),
    ]
