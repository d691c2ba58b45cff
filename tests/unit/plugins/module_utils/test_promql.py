"""PromQL selector finding, metric-name validation and runner scoping."""
import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import promql

SCOPE = {"runner": "r-1", "organization": "acme"}


@pytest.mark.parametrize("expr,expected", [
    ("up", 'up{runner="r-1", organization="acme"}'),
    ('up{job="a"}', 'up{job="a", runner="r-1", organization="acme"}'),
    ('up {job="a",}', 'up{job="a", runner="r-1", organization="acme"}'),
    ('{__name__="up"}', '{__name__="up", runner="r-1", organization="acme"}'),
    ("rate(x_total[5m])", 'rate(x_total{runner="r-1", organization="acme"}[5m])'),
    ("max_over_time(timestamp(up)[1h:1m])",
     'max_over_time(timestamp(up{runner="r-1", organization="acme"})[1h:1m])'),
    ("sum by (job) (up) / on(job) group_left(pod) count without (instance) (up)",
     'sum by (job) (up{runner="r-1", organization="acme"}) / on(job) group_left(pod) '
     'count without (instance) (up{runner="r-1", organization="acme"})'),
    ("sum(up) by (job) > bool 0", 'sum(up{runner="r-1", organization="acme"}) by (job) > bool 0'),
    ("up offset 5m", 'up{runner="r-1", organization="acme"} offset 5m'),
    ("up @ end()", 'up{runner="r-1", organization="acme"} @ end()'),
    ('label_replace(up, "a", "$1", "b", "(.*)")',
     'label_replace(up{runner="r-1", organization="acme"}, "a", "$1", "b", "(.*)")'),
    ('up{job="a"} and on() vector(1)',
     'up{job="a", runner="r-1", organization="acme"} and on() vector(1)'),
    ('{"my.metric", job="x"}', '{"my.metric", job="x", runner="r-1", organization="acme"}'),
    ("up # a comment\n", 'up{runner="r-1", organization="acme"} # a comment\n'),
])
def test_scope_adds_matchers_to_every_selector(expr, expected):
    assert promql.scope(expr, SCOPE) == expected


def test_existing_matcher_for_a_scope_label_wins():
    assert promql.scope('up{runner=~"r-.*"}', SCOPE) == \
        'up{runner=~"r-.*", organization="acme"}'


def test_values_are_quoted():
    assert promql.scope("up", {"runner": 'a"b\\c\n'}) == 'up{runner="a\\"b\\\\c\\n"}'


def test_strings_with_braces_are_not_selectors():
    assert promql.scope('label_replace(up, "x", "{y}", "z", "(.*)")', {"a": "b"}) == \
        'label_replace(up{a="b"}, "x", "{y}", "z", "(.*)")'


@pytest.mark.parametrize("expr,fragment", [
    ('{job="x"}', 'selector {job="x"} at position 0 has no metric name'),
    ('sum(rate({job="x"}[5m]))', "position 9 has no metric name"),
    ('{__name__!="up"}', "has no metric name"),
    ("vector(1)", "has no metric selector"),
    ("1 + 2", "has no metric selector"),
    ("   ", "empty"),
    ('up{job="a"', "unterminated label matchers"),
    ("up{job=a}", "expected a quoted value for label 'job'"),
    ('up{job~"a"}', "expected a matcher operator"),
    ('up{job="a}', "unterminated string"),
    ("rate(up[5m)", "unterminated '['"),
    ("sum by (job", "unbalanced '('"),
    ("up ; down", "unexpected character ';'"),
])
def test_invalid_or_nameless_promql_is_refused(expr, fragment):
    with pytest.raises(promql.PromQLError) as exc:
        promql.validate(expr)
    assert fragment in str(exc.value)


def test_error_mentions_azure_requirement():
    with pytest.raises(promql.PromQLError, match="Azure Monitor workspaces require"):
        promql.validate('{job="x"}')


def test_regex_name_matcher_is_a_metric_name():
    sel = promql.validate('{__name__=~"kube_pod_.*"}')[0]
    assert sel.metric == "kube_pod_.*"


def test_selectors_found_in_order():
    sels = promql.find_selectors('a{x="1"} + on(x) b - c offset 1m')
    assert [s.metric for s in sels] == ["a", "b", "c"]


@pytest.mark.parametrize("text", ["up", ' up{job="a"} '])
def test_parse_selector_accepts_a_single_selector(text):
    assert promql.parse_selector(text).metric == "up"


@pytest.mark.parametrize("text", ["up == 1", "rate(up[5m])", "up + up", '{job="a"}'])
def test_parse_selector_refuses_expressions(text):
    with pytest.raises(promql.PromQLError):
        promql.parse_selector(text)


@pytest.mark.parametrize("name", ["runner", "_x", "a1"])
def test_label_names_ok(name):
    assert promql.check_label_name(name) == name


@pytest.mark.parametrize("name", ["1a", "a-b", "", "a.b", None])
def test_label_names_refused(name):
    with pytest.raises(promql.PromQLError):
        promql.check_label_name(name)
