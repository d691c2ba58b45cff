# -*- coding: utf-8 -*-
# Copyright: Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many runners fit into an Azure Monitor workspace (roles/azure_prometheus, issue 10 item 5).

Pure arithmetic, unit-tested in tests/unit/plugins/filter/test_azure_capacity.py:

- ``azure_workspace_limits(metrics_response)``: the workspace's ingestion limits from the
  platform metrics ``ActiveTimeSeriesLimit`` and ``EventsPerMinuteIngestedLimit`` (the
  ``Microsoft.Insights/metrics`` answer for the workspace; the 2023-04-03
  ``Microsoft.Monitor/accounts`` resource itself states no limit: its ``properties.metrics``
  holds only ``prometheusQueryEndpoint`` and ``internalId``). A limit without a data point
  falls back to Azure's documented default, 1,000,000.
- ``azure_runner_capacity(limits, series_per_runner, scrape_interval_seconds)``: runners
  that fit under each limit and overall.

Bad input raises AnsibleFilterError naming the role variable.
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: azure_capacity
short_description: Runners that fit into an Azure Monitor workspace's ingestion limits
description:
  - C(azure_workspace_limits) reads the limits from the workspace's platform metrics answer;
    C(azure_runner_capacity) divides them by the per-runner series and samples per minute.
author: Kubiya runners platform team
"""

import math

from ansible.errors import AnsibleFilterError

DEFAULT_LIMIT = 1000000            # Azure's default for both limits (active series, events per minute)
MAX_COUNT = 10 ** 12               # larger than any workspace limit Azure grants: a typo
LIMIT_METRICS = {"ActiveTimeSeriesLimit": "active_series", "EventsPerMinuteIngestedLimit": "events_per_minute"}
VARS = {
    "series_per_runner": "azure_prometheus_series_per_runner",
    "scrape_interval_seconds": "azure_prometheus_scrape_interval_seconds",
    "active_series": "azure_prometheus_limits.active_series",
    "events_per_minute": "azure_prometheus_limits.events_per_minute",
}


def _count(key, value, lowest=1, highest=MAX_COUNT):
    """A whole number in [lowest, highest] or AnsibleFilterError naming the variable."""
    name = VARS.get(key, key)
    if isinstance(value, bool) or value is None:
        raise AnsibleFilterError("%s: %r is not a number" % (name, value))
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if any(c in text.lower() for c in ".en") else int(text)
        except ValueError:
            raise AnsibleFilterError("%s: '%s' is not a number" % (name, value[:40]))
    if not isinstance(value, (int, float)):
        raise AnsibleFilterError("%s: a number is required, got %s" % (name, type(value).__name__))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise AnsibleFilterError("%s: %s is not a finite number" % (name, value))
        if value != int(value):
            raise AnsibleFilterError("%s: %s is not a whole number" % (name, value))
        value = int(value)
    if value < lowest:
        raise AnsibleFilterError("%s: %d is less than %d" % (name, value, lowest))
    if value > highest:
        raise AnsibleFilterError("%s: %d is larger than %d; a typo?" % (name, value, highest))
    return value


def workspace_limits(response, overrides=None):
    """{'active_series': n, 'events_per_minute': n, 'source': {...}} from a Microsoft.Insights/metrics
    answer (``value`` = list of metrics with ``name.value`` and ``timeseries[].data[].maximum``).
    ``overrides`` (azure_prometheus_limits) wins over what Azure states; missing -> the default."""
    out = {"active_series": DEFAULT_LIMIT, "events_per_minute": DEFAULT_LIMIT,
           "source": {"active_series": "default", "events_per_minute": "default"}}
    # azure_rm_resource_info returns the answer's ``value`` list (or [answer] when it is empty)
    items = response if isinstance(response, list) else [response] if isinstance(response, dict) else []
    metrics = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("value"), list):
            metrics.extend(item["value"])
        else:
            metrics.append(item)
    for metric in metrics:
        if not isinstance(metric, dict):
            continue
        name = (metric.get("name") or {}).get("value") if isinstance(metric.get("name"), dict) else metric.get("name")
        key = LIMIT_METRICS.get(name)
        if not key:
            continue
        points = [p.get("maximum") for ts in metric.get("timeseries") or [] for p in ts.get("data") or []
                  if isinstance(p, dict) and p.get("maximum") is not None]
        if points:
            out[key] = _count("workspace metric " + name, max(points))
            out["source"][key] = "workspace metric " + name
    for key, value in (overrides or {}).items():
        if key not in ("active_series", "events_per_minute"):
            raise AnsibleFilterError("azure_prometheus_limits: unknown key '%s' (active_series, events_per_minute)"
                                     % str(key)[:40])
        if value is not None:
            out[key] = _count(key, value)
            out["source"][key] = "azure_prometheus_limits"
    return out


def runner_capacity(limits, series_per_runner, scrape_interval_seconds=60):
    """Runners that fit: floor(limit / per-runner figure) for both limits, and the smaller one.
    Samples ("events") per minute of one runner = its active series x 60 / scrape interval."""
    if not isinstance(limits, dict):
        raise AnsibleFilterError("azure_prometheus_limits: a mapping is required")
    series = _count("series_per_runner", series_per_runner)
    interval = _count("scrape_interval_seconds", scrape_interval_seconds, 1, 3600)
    max_series = _count("active_series", limits.get("active_series"))
    max_events = _count("events_per_minute", limits.get("events_per_minute"))
    events = int(math.ceil(series * 60.0 / interval))
    by_series = max_series // series
    by_events = max_events // events
    return {
        "active_series_limit": max_series,
        "events_per_minute_limit": max_events,
        "series_per_runner": series,
        "events_per_minute_per_runner": events,
        "runners_by_active_series": by_series,
        "runners_by_events_per_minute": by_events,
        "runners": min(by_series, by_events),
        "bound_by": "active series" if by_series <= by_events else "events per minute",
    }


class FilterModule(object):
    def filters(self):
        return {"azure_workspace_limits": workspace_limits, "azure_runner_capacity": runner_capacity}
