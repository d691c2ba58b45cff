"""What Azure Monitor workspaces demand of every query, checked on the parsed expression
(promql-parser, the Rust PromQL parser's Python binding):

* every vector selector names exactly one metric: ``metric{...}``, or ``{__name__="metric"}``
  with one equality matcher on ``__name__``, never both, never a regex, never none;
* every query variable is ``label_values(<selector with a metric name>, <label>)``.

Dashboard queries carry Grafana variables; ``substitute`` replaces them by values that keep
the expression's shape (regex matchers on ``$runner`` get ``.*``, ``$__rate_interval`` a
duration, ``$price...`` a number) before parsing.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import promql_parser

# Grafana variable -> the value it is replaced by for parsing and for the real-data proof
SUBSTITUTES = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h",
    "organization": ".*", "runner": ".*",
    "price_per_10m_samples": "0.16", "series_limit": "1000000",
    "samples_per_minute_limit": "1000000",
}
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.+),\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$",
                          re.S)


@dataclasses.dataclass(frozen=True)
class Query:
    source: str      # "<dashboard uid>/<panel title>" or "rule <alert>" or "variable <name>"
    expr: str        # as written (with Grafana variables)
    kind: str = "query"   # query | variable | rule


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    values = {**SUBSTITUTES, **(values or {})}

    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise ValueError("unknown variable $%s in %r" % (name, expr))
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, expr)


def selector_errors(expr: str) -> list[str]:
    """Parse ``expr`` (no Grafana variables left) and name every selector breaking the rule."""
    try:
        ast = promql_parser.parse(expr)
    except Exception as exc:  # the parser raises ValueError with the position
        return ["does not parse: %s" % exc]
    errors: list[str] = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            names = [m for m in node.matchers.matchers if m.name == "__name__"]
            if node.matchers.or_matchers:
                errors.append("%s: `or` matchers are not allowed" % node)
            if node.name and names:
                errors.append("%s: metric name given twice" % node)
            elif not node.name and len(names) != 1:
                errors.append("%s: no metric name" % node)
            elif not node.name and names[0].op != promql_parser.MatchOp.Equal:
                errors.append("%s: the metric name must be matched with =, not %s"
                              % (node, names[0].op))
        return True
    promql_parser.walk(ast, visit)
    return errors


def variable_errors(query: str) -> list[str]:
    m = LABEL_VALUES.match(query)
    if not m:
        return ["is not label_values(<metric>, <label>): %r" % query]
    return ["label_values selector %s" % e for e in selector_errors(substitute(m.group("selector")))]


def dashboard_queries(dashboard: dict) -> Iterator[Query]:
    """Every panel target and every query variable of a dashboard's JSON model."""
    uid = dashboard["uid"]
    panels = list(dashboard.get("panels", []))
    while panels:
        p = panels.pop(0)
        panels.extend(p.get("panels", []))   # collapsed rows
        for t in p.get("targets", []):
            if "expr" in t:
                yield Query("%s/%s" % (uid, p.get("title", "")), t["expr"])
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            yield Query("%s/$%s" % (uid, v["name"]), q, kind="variable")


def rule_queries(rule_file: dict) -> Iterator[Query]:
    for g in rule_file["groups"]:
        for r in g["rules"]:
            yield Query("rule %s" % (r.get("alert") or r.get("record")), r["expr"], kind="rule")


def grafana_rule_queries(payloads: list[dict]) -> Iterator[Query]:
    for r in payloads:
        for d in r["data"]:
            if d["datasourceUid"] != "__expr__":
                yield Query("grafana rule %s" % r["title"], d["model"]["expr"], kind="rule")


def errors(q: Query) -> list[str]:
    if q.kind == "variable":
        return variable_errors(q.expr)
    return selector_errors(substitute(q.expr))
