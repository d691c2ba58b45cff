"""Check building, freshness math and judging (pure functions of delivery.py)."""
import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import delivery, retry

NOW = 1_800_000_000.0
SCOPE = delivery.scope_matchers("r-1", "acme")


def check(**spec):
    spec.setdefault("name", "c")
    return delivery.build_check(spec, SCOPE, 120)


def test_scope_matchers_use_configurable_label_names():
    assert delivery.scope_matchers("r", "o", "kubiya_runner", "org", {"namespace": "ns"}) == \
        {"namespace": "ns", "kubiya_runner": "r", "org": "o"}
    assert delivery.scope_matchers() == {}


def test_scope_label_names_are_validated():
    with pytest.raises(ValueError, match="not a valid Prometheus label name"):
        delivery.scope_matchers("r", runner_label="runner-name")


def test_metric_check_query_is_timestamp_of_scoped_selector():
    c = check(metric='up{job="alloy"}')
    assert c.kind == "metric"
    assert c.expr == 'timestamp(up{job="alloy", runner="r-1", organization="acme"})'
    assert c.max_age == 120 and c.min_series == 1


def test_promql_check_scopes_every_selector_and_measures_each():
    c = check(promql="up == 1 and on(pod) kube_pod_info", max_age=30, min_series=2)
    assert c.expr == ('up{runner="r-1", organization="acme"} == 1 and on(pod) '
                      'kube_pod_info{runner="r-1", organization="acme"}')
    assert c.freshness_queries() == ['timestamp(up{runner="r-1", organization="acme"})',
                                     'timestamp(kube_pod_info{runner="r-1", organization="acme"})']
    assert (c.max_age, c.min_series) == (30, 2)


def test_history_query_names_the_metric():
    c = check(metric="up")
    assert c.history_query(c.selectors[0], 3600, 60) == \
        'max_over_time(timestamp(up{runner="r-1", organization="acme"})[3600s:60s])'


@pytest.mark.parametrize("spec,fragment", [
    ({"metric": "up", "promql": "up"}, "exactly one of metric or promql"),
    ({}, "exactly one of metric or promql"),
    ({"metric": "up == 1"}, "not a single metric selector"),
    ({"promql": 'sum({job="x"})'}, "has no metric name"),
    ({"metric": "up", "required_labels": ["ok", "bad-label"]}, "'bad-label'"),
    ({"metric": "up", "min_series": 0}, "min_series: 0 is not a valid value"),
    ({"metric": "up", "min_series": 2.5}, "min_series: 2.5 is not a whole number"),
    ({"metric": "up", "max_age": 0}, "max_age: 0 is not a valid value"),
    ({"metric": "up", "max_age": float("nan")}, "max_age: NaN is not a valid value"),
    ({"metric": "up", "max_age": float("inf")}, "max_age: infinity is not a valid value"),
    ({"metric": "up", "max_age": -5}, "max_age: -5 is negative"),
])
def test_bad_checks_are_refused_naming_the_check(spec, fragment):
    spec["name"] = "my-check"
    with pytest.raises(ValueError) as exc:
        delivery.build_check(spec, SCOPE, 120)
    assert "check 'my-check'" in str(exc.value)
    assert fragment in str(exc.value)


@pytest.mark.parametrize("seconds,text", [
    (None, "-"), (0, "0s"), (59.4, "59s"), (60, "1m00s"), (95.2, "1m35s"),
    (3600, "1h00m"), (7322, "2h02m"), (90000, "1d01h"), (-5, "0s"),
])
def test_format_age(seconds, text):
    assert delivery.format_age(seconds) == text


def test_freshness_math():
    f = delivery.freshness([NOW - 10, NOW - 200, NOW - 50], NOW, 60)
    assert f == {"oldest": 200, "newest": 10, "stale": 1}


def test_freshness_clamps_future_samples_and_handles_nothing():
    assert delivery.freshness([NOW + 30], NOW, 60) == {"oldest": 0, "newest": 0, "stale": 0}
    assert delivery.freshness([], NOW, 60) == {"oldest": None, "newest": None, "stale": 0}


def test_sample_exactly_at_max_age_is_fresh():
    assert delivery.freshness([NOW - 60], NOW, 60)["stale"] == 0
    assert delivery.freshness([NOW - 60.001], NOW, 60)["stale"] == 1


def labels(**kw):
    base = {"runner": "r-1", "organization": "acme"}
    base.update(kw)
    return base


def test_judge_ok():
    c = check(metric="up", required_labels=["pod"], min_series=2)
    r = delivery.judge(c, [labels(pod="a"), labels(pod="b")], [NOW - 5, NOW - 20], NOW)
    assert r["status"] == "ok" and r["reason"] == ""
    assert (r["series"], r["oldest_age"], r["newest_age"]) == (2, 20, 5)


def test_judge_no_data_names_the_selector_and_window():
    c = check(metric="up")
    r = delivery.judge(c, [], [], NOW, history_ts=[], history_window=3600)
    assert r["status"] == "no_data"
    assert r["reason"] == ('no data: no series match up{runner="r-1", organization="acme"} '
                           'in the last 1h00m')


def test_judge_stale_from_history_reports_measured_age():
    c = check(metric="up", max_age=60)
    r = delivery.judge(c, [], [], NOW, history_ts=[NOW - 1500, NOW - 700], history_window=3600)
    assert r["status"] == "stale"
    assert r["newest_age"] == 700
    assert "newest sample is 11m40s old (max_age 1m00s)" in r["reason"]


def test_judge_stale_series_counted():
    c = check(metric="up", max_age=60)
    r = delivery.judge(c, [labels(), labels(), labels()], [NOW - 5, NOW - 90, NOW - 200], NOW)
    assert r["status"] == "stale"
    assert r["stale_series"] == 2
    assert r["reason"] == ("stale: 2 of 3 series older than max_age 1m00s "
                           "(oldest 3m20s, newest 5s)")


def test_judge_missing_label_named_with_example():
    c = check(metric="up", required_labels=["component", "pod"])
    series = [labels(component="a", pod="p1"), labels(pod="p2"), labels(component="", pod="p3")]
    r = delivery.judge(c, series, [NOW] * 3, NOW)
    assert r["status"] == "missing_labels"
    assert r["missing_labels"] == {"component": 2}
    assert "missing label 'component' on 2 of 3 series" in r["reason"]
    assert 'pod="p2"' in r["reason"]


def test_judge_too_few_series():
    c = check(metric="up", min_series=3)
    r = delivery.judge(c, [labels(), labels()], [NOW, NOW], NOW)
    assert r["status"] == "too_few_series"
    assert r["reason"] == "2 series, expected at least 3"


def test_judge_promql_filtered_to_nothing_while_metric_is_fresh():
    c = check(promql="up == 1")
    r = delivery.judge(c, [], [NOW - 3], NOW)
    assert r["status"] == "no_data"
    assert "the query returned no series (the metric has 1 fresh series)" in r["reason"]


def test_judge_reports_every_problem_most_urgent_first():
    c = check(metric="up", required_labels=["pod"], min_series=3, max_age=10)
    r = delivery.judge(c, [labels()], [NOW - 100], NOW)
    assert r["status"] == "stale"
    parts = r["reason"].split("; ")
    assert parts[0].startswith("stale:")
    assert parts[1].startswith("missing label 'pod'")
    assert parts[2] == "1 series, expected at least 3"


def test_deadline_bounds_request_timeouts_so_the_run_ends_by_deadline_plus_timeout():
    t = [100.0]
    b = retry.Deadline(10, request_timeout=5, clock=lambda: t[0])
    assert b.timeout() == 5
    t[0] = 107.0
    assert b.timeout() == 5
    assert b.can_wait(6.9) and not b.can_wait(7.0)  # a retry needs 1s left before 10 + 5
    t[0] = 112.0                  # past the deadline: a request may still end by 10 + 5
    assert b.remaining() == -2 and b.timeout() == 3
    t[0] = 115.0
    with pytest.raises(retry.DeadlineExceeded, match="deadline of 10s"):
        b.timeout()               # never a request that would end after deadline + timeout


def test_deadline_zero_allows_exactly_one_request_timeout():
    t = [0.0]
    b = retry.Deadline(0, request_timeout=4, clock=lambda: t[0])
    assert b.timeout() == 4 and b.can_wait(2.9) and not b.can_wait(3.0)
    t[0] = 3.0
    assert b.timeout() == 1
