"""Every dashboard query, template variable and rule expression parses and obeys Azure
Monitor workspaces' rule: exactly one metric-name matcher per selector, variables only
label_values(<metric>, <label>)."""
from __future__ import annotations

import pytest

from monitoring import lint


def _all(dashboards, rule_file, grafana_rules):
    out = [q for d in dashboards.values() for q in lint.dashboard_queries(d)]
    return out + list(lint.rule_queries(rule_file)) + list(lint.grafana_rule_queries(grafana_rules))


def test_every_expression_names_its_metric(dashboards, rule_file, grafana_rules):
    queries = _all(dashboards, rule_file, grafana_rules)
    kinds = {k: sum(q.kind == k for q in queries) for k in ("query", "variable", "rule")}
    assert kinds["query"] >= 70 and kinds["variable"] == 2 * len(dashboards) and kinds["rule"] >= 18
    bad = {"%s: %s" % (q.source, q.expr): lint.errors(q) for q in queries if lint.errors(q)}
    assert not bad
    print(kinds)


def test_every_query_variable_is_label_values(dashboards):
    for d in dashboards.values():
        for v in d["templating"]["list"]:
            assert v["type"] in ("query", "datasource", "textbox"), v
            if v["type"] == "query":
                assert lint.LABEL_VALUES.match(v["query"]["query"]), v["query"]


@pytest.mark.parametrize("expr, message", [
    ('{job="alloy"}', "no metric name"),
    ('up or {runner="r"}', "no metric name"),
    ('{__name__=~"up|scrape_.+"}', "matched with ="),
    ('count({__name__!="up",job="alloy"})', "matched with ="),
    ('sum(rate(up[5m])', "does not parse"),
])
def test_the_check_refuses_what_azure_refuses(expr, message):
    assert any(message in e for e in lint.selector_errors(expr)), lint.selector_errors(expr)


@pytest.mark.parametrize("query", [
    "label_values(organization)",                 # across all metrics: Azure does not serve it
    'label_values({job="alloy"}, runner)',
    "query_result(up)",
])
def test_the_check_refuses_variables_across_all_metrics(query):
    assert lint.variable_errors(query)


def test_substitute_refuses_an_unknown_variable():
    with pytest.raises(ValueError, match=r"\$nope"):
        lint.substitute('up{runner=~"$nope"}')
