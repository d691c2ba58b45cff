"""azure_capacity: runners that fit into an Azure Monitor workspace, and clear errors that
name the role variable for NaN, negative, zero, huge and non-numeric input."""
from __future__ import annotations

import math

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubiya.runners.plugins.filter import azure_capacity as ac


def _metrics(**limits):
    """A Microsoft.Insights/metrics answer (azure-mgmt-monitor v2018_01_01 Response shape)."""
    return {"value": [{"name": {"value": n, "localizedValue": n}, "unit": "Count",
                       "timeseries": [{"data": [{"timeStamp": "2026-11-30T18:00:00Z", "maximum": v}]}]}
                      for n, v in limits.items()]}


def test_defaults_when_the_workspace_states_no_limit():
    lim = ac.workspace_limits({"value": []})
    assert lim == {"active_series": 1000000, "events_per_minute": 1000000,
                   "source": {"active_series": "default", "events_per_minute": "default"}}
    assert ac.workspace_limits(None)["active_series"] == 1000000
    # a metric without data points (a new workspace) is no limit either
    empty = {"value": [{"name": {"value": "ActiveTimeSeriesLimit"}, "timeseries": [{"data": [{"timeStamp": "x"}]}]}]}
    assert ac.workspace_limits(empty)["source"]["active_series"] == "default"


def test_limits_read_from_the_workspace_metrics_and_overrides_win():
    lim = ac.workspace_limits(_metrics(ActiveTimeSeriesLimit=2000000.0, EventsPerMinuteIngestedLimit=3000000))
    assert (lim["active_series"], lim["events_per_minute"]) == (2000000, 3000000)
    assert lim["source"]["active_series"] == "workspace metric ActiveTimeSeriesLimit"
    lim = ac.workspace_limits(_metrics(ActiveTimeSeriesLimit=2000000), {"active_series": 5000000,
                                                                        "events_per_minute": None})
    assert (lim["active_series"], lim["source"]["active_series"]) == (5000000, "azure_prometheus_limits")
    assert lim["source"]["events_per_minute"] == "default"
    with pytest.raises(AnsibleFilterError, match="azure_prometheus_limits: unknown key 'series'"):
        ac.workspace_limits({}, {"series": 1})


def test_measured_runner_fits_2314_times_into_the_default_workspace():
    # 432 active series per runner at the chart's 60 s interval (README cost table,
    # tests/pipeline/test_cost.py): 1,000,000 // 432 = 2314 under both limits
    cap = ac.runner_capacity(ac.workspace_limits({}), 432, 60)
    assert cap["runners"] == 2314 and cap["events_per_minute_per_runner"] == 432
    assert cap["runners_by_active_series"] == cap["runners_by_events_per_minute"] == 2314


def test_a_shorter_scrape_interval_makes_events_per_minute_the_bound():
    cap = ac.runner_capacity({"active_series": 1000000, "events_per_minute": 1000000}, 432, 15)
    assert cap["events_per_minute_per_runner"] == 1728
    assert (cap["runners"], cap["bound_by"]) == (578, "events per minute")
    assert cap["runners_by_active_series"] == 2314
    # a runner larger than the workspace fits zero times (reported, not an error)
    assert ac.runner_capacity({"active_series": 100, "events_per_minute": 100}, 432)["runners"] == 0
    # odd intervals round the per-runner events up (never over-promise)
    assert ac.runner_capacity({"active_series": 10 ** 6, "events_per_minute": 10 ** 6}, 7, 45)[
        "events_per_minute_per_runner"] == 10


@pytest.mark.parametrize("value,says", [
    (math.nan, "is not a finite number"), ("nan", "is not a finite number"), (math.inf, "is not a finite number"),
    (-432, "-432 is less than 1"), (0, "0 is less than 1"), (10 ** 13, "is larger than"), ("1e13", "is larger than"),
    (4.5, "is not a whole number"), ("many", "'many' is not a number"), (None, "is not a number"),
    (True, "is not a number"), ([432], "a number is required, got list"),
])
def test_bad_series_per_runner_names_the_variable(value, says):
    with pytest.raises(AnsibleFilterError) as exc:
        ac.runner_capacity(ac.workspace_limits({}), value, 60)
    assert str(exc.value).startswith("azure_prometheus_series_per_runner: ")
    assert says in str(exc.value)


@pytest.mark.parametrize("value", [0, -60, 3601, math.nan, "x"])
def test_bad_scrape_interval_names_the_variable(value):
    with pytest.raises(AnsibleFilterError, match="^azure_prometheus_scrape_interval_seconds: "):
        ac.runner_capacity(ac.workspace_limits({}), 432, value)


@pytest.mark.parametrize("key", ["active_series", "events_per_minute"])
@pytest.mark.parametrize("value", [0, -1, math.nan, 10 ** 13])
def test_bad_limits_name_the_variable(key, value):
    with pytest.raises(AnsibleFilterError, match=f"^azure_prometheus_limits.{key}: "):
        ac.workspace_limits({}, {key: value})
    with pytest.raises(AnsibleFilterError, match=f"^azure_prometheus_limits.{key}: "):
        ac.runner_capacity({"active_series": 10 ** 6, "events_per_minute": 10 ** 6, key: value}, 432)


def test_strings_from_the_command_line_are_numbers():
    # -e key=value gives strings
    assert ac.runner_capacity({"active_series": "1000000", "events_per_minute": "1e6"}, "432", "60")["runners"] == 2314


def test_registered_filters():
    f = ac.FilterModule().filters()
    assert f["azure_runner_capacity"] is ac.runner_capacity and f["azure_workspace_limits"] is ac.workspace_limits


def test_what_azure_rm_resource_info_returns():
    # the module returns the answer's `value` list, or [answer] when `value` is empty
    ans = _metrics(ActiveTimeSeriesLimit=2000000)
    assert ac.workspace_limits(ans["value"])["active_series"] == 2000000
    assert ac.workspace_limits([{"value": [], "cost": 0}])["active_series"] == 1000000
    with pytest.raises(AnsibleFilterError, match="^workspace metric ActiveTimeSeriesLimit: 0 is less than 1"):
        ac.workspace_limits(_metrics(ActiveTimeSeriesLimit=0))
