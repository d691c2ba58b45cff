# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metric delivery checks: build the queries, judge the answers, render a table.

Pure functions (``build_check``, ``judge``, ``freshness``, ``render_report``,
``format_age``) plus ``run`` which polls a PrometheusClient until every check
passes or the deadline is reached.

A check looks at the series of one metric selector (``metric``) or of a PromQL
expression (``promql``), both scoped to the runner by label matchers added to
every selector. It passes when there are at least ``min_series`` series, each
carries every ``required_labels`` label, and every underlying series has a
sample no older than ``max_age`` seconds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.kubiya.runners.plugins.module_utils import promql, retry, table, validate
from ansible_collections.kubiya.runners.plugins.module_utils.prometheus import QueryError

# Option -> validate.number() rules of the metrics_delivery options handled here.
# deadline 0 = one round, history_window 0 = do not look back (documented).
DELIVERY_NUMBERS = dict(
    deadline=dict(allow_zero=True),
    poll_interval=dict(maximum=3600.0),
    max_age=dict(),
    history_window=dict(allow_zero=True, maximum=7 * 86400.0, integer=True),
)
CHECK_NUMBERS = dict(
    min_series=dict(integer=True, maximum=1000000, unit="series"),
    max_age=dict(),
)

OK, NO_DATA, STALE, MISSING_LABELS, TOO_FEW, ERROR = (
    "ok", "no_data", "stale", "missing_labels", "too_few_series", "error")


class Check(object):
    def __init__(self, name, kind, expr, selectors, required_labels, min_series, max_age):
        self.name, self.kind, self.expr, self.selectors = name, kind, expr, selectors
        self.required_labels, self.min_series, self.max_age = required_labels, min_series, max_age

    def freshness_queries(self):
        """One ``timestamp(selector)`` query per distinct scoped selector."""
        seen = []
        for sel in self.selectors:
            if sel not in seen:
                seen.append(sel)
        return ["timestamp(%s)" % sel for sel in seen]

    def history_query(self, selector, window, step):
        """Newest sample time of each series of ``selector`` in the last ``window`` s."""
        return "max_over_time(timestamp(%s)[%ds:%ds])" % (selector, window, step)


def scope_matchers(runner=None, organization=None, runner_label="runner",
                   organization_label="organization", match_labels=None):
    """The label matchers that restrict every query to this runner."""
    out = {}
    for label, value in sorted((match_labels or {}).items()):
        out[promql.check_label_name(label)] = value
    if runner:
        out[promql.check_label_name(runner_label)] = runner
    if organization:
        out[promql.check_label_name(organization_label)] = organization
    return out


def build_check(spec, matchers, default_max_age):
    """A Check from one ``checks`` entry; raises ValueError naming the check."""
    name = spec.get("name") or "?"
    try:
        metric, expr = spec.get("metric"), spec.get("promql")
        if bool(metric) == bool(expr):
            raise ValueError("give exactly one of metric or promql")
        if metric:
            sel = promql.parse_selector(metric)
            text = sel.render(matchers)
            selectors, kind, query = [text], "metric", "timestamp(%s)" % text
        else:
            query = promql.scope(expr, matchers)
            selectors = [s.render() for s in promql.validate(query)]
            kind = "promql"
        labels = [promql.check_label_name(label) for label in spec.get("required_labels") or []]
        min_series = spec.get("min_series")
        min_series = 1 if min_series is None else validate.number(
            min_series, "min_series", **CHECK_NUMBERS["min_series"])
        max_age = spec.get("max_age")
        max_age = validate.number(default_max_age if max_age is None else max_age, "max_age",
                                  **CHECK_NUMBERS["max_age"])
    except ValueError as exc:
        raise ValueError("check %r: %s" % (name, exc))
    return Check(name, kind, query, selectors, labels, min_series, max_age)


def format_age(seconds):
    """``95.2`` -> ``1m35s``; None -> ``-``."""
    if seconds is None:
        return "-"
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    if s < 86400:
        return "%dh%02dm" % (s // 3600, (s % 3600) // 60)
    return "%dd%02dh" % (s // 86400, (s % 86400) // 3600)


def freshness(timestamps, now, max_age):
    """Ages of series whose newest samples are at ``timestamps`` (unix seconds).

    Returns dict(oldest, newest, stale) with ages in seconds (clock skew that
    puts a sample in the future counts as age 0) and the number of series
    older than ``max_age``.
    """
    ages = [max(0.0, now - float(ts)) for ts in timestamps]
    if not ages:
        return {"oldest": None, "newest": None, "stale": 0}
    return {"oldest": max(ages), "newest": min(ages),
            "stale": sum(1 for a in ages if a > max_age)}


def _labels_text(labels, limit=6):
    items = sorted((k, v) for k, v in labels.items() if k != "__name__")
    text = ", ".join('%s="%s"' % kv for kv in items[:limit])
    if len(items) > limit:
        text += ", ..."
    return "{%s}" % text


def judge(check, series, ages_ts, now, history_ts=None, history_window=None):
    """Judge a check from query answers (pure).

    ``series``: label dicts of the check's result; ``ages_ts``: newest sample
    timestamps of the underlying series (from ``timestamp()``);
    ``history_ts``: newest timestamps seen in the last ``history_window``
    seconds, asked only when nothing is fresh enough for an instant query.
    """
    fresh = freshness(ages_ts, now, check.max_age)
    result = {"name": check.name, "query": check.expr, "status": OK, "reason": "",
              "series": len(series), "min_series": check.min_series,
              "max_age": check.max_age, "oldest_age": fresh["oldest"],
              "newest_age": fresh["newest"], "stale_series": fresh["stale"],
              "missing_labels": {}, "example": None}
    problems = []
    if not series and not ages_ts:
        if history_ts:
            past = freshness(history_ts, now, check.max_age)
            result["newest_age"], result["oldest_age"] = past["newest"], past["oldest"]
            result["status"] = STALE
            result["reason"] = ("stale: no sample in the query lookback; newest sample is %s old "
                                "(max_age %s) - is the collector still sending?"
                                % (format_age(past["newest"]), format_age(check.max_age)))
        else:
            result["status"] = NO_DATA
            result["reason"] = "no data: no series match %s%s" % (
                " or ".join(check.selectors),
                " in the last %s" % format_age(history_window) if history_window else "")
        return result
    if fresh["stale"]:
        problems.append((STALE, "stale: %d of %d series older than max_age %s (oldest %s, "
                                "newest %s)" % (fresh["stale"], len(ages_ts),
                                                format_age(check.max_age),
                                                format_age(fresh["oldest"]),
                                                format_age(fresh["newest"]))))
    missing = {}
    example = None
    for labels in series:
        for label in check.required_labels:
            if not labels.get(label):
                missing[label] = missing.get(label, 0) + 1
                example = example or labels
    if missing:
        result["missing_labels"] = missing
        result["example"] = example
        problems.append((MISSING_LABELS, "missing label%s %s (e.g. on %s)" % (
            "s" if len(missing) > 1 else "",
            ", ".join("'%s' on %d of %d series" % (k, v, len(series))
                      for k, v in sorted(missing.items())),
            _labels_text(example))))
    if len(series) < check.min_series:
        problems.append((TOO_FEW if series else NO_DATA,
                         "%d series, expected at least %d" % (len(series), check.min_series)
                         if series else "no data: the query returned no series "
                         "(the metric has %d fresh series)" % len(ages_ts)))
    if problems:
        order = [NO_DATA, STALE, MISSING_LABELS, TOO_FEW]
        problems.sort(key=lambda p: order.index(p[0]))
        result["status"] = problems[0][0]
        result["reason"] = "; ".join(p[1] for p in problems)
    return result


def error_result(check, reason):
    return {"name": check.name, "query": check.expr, "status": ERROR, "reason": reason,
            "series": None, "min_series": check.min_series, "max_age": check.max_age,
            "oldest_age": None, "newest_age": None, "stale_series": None,
            "missing_labels": {}, "example": None}


def _vector_labels(result):
    return [dict(item.get("metric") or {}) for item in result]


def _vector_values(result):
    out = []
    for item in result:
        try:
            out.append(float(item["value"][1]))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return out


def evaluate(client, check, now, history_window=3600, history_step=60, deadline=None):
    """Ask Prometheus what ``check`` needs and judge it (raises QueryError).

    ``deadline``: the retry.Deadline every query of the check runs within."""
    result_type, result = client.query(check.expr, at=now, deadline=deadline)
    if result_type != "vector":
        raise QueryError("bad_query", "the query must return an instant vector, it returned a "
                         "%s: %s" % (result_type, check.expr))
    series = _vector_labels(result)
    if check.kind == "metric":
        ages_ts = _vector_values(result)
    else:
        ages_ts = []
        for q in check.freshness_queries():
            ages_ts.extend(_vector_values(client.query(q, at=now, deadline=deadline)[1]))
    history = None
    if not ages_ts and history_window:
        history = []
        for sel in check.selectors:
            q = check.history_query(sel, history_window, history_step)
            history.extend(_vector_values(client.query(q, at=now, deadline=deadline)[1]))
    return judge(check, series, ages_ts, now, history, history_window)


def run(client, checks, deadline=60, poll_interval=5, history_window=3600, clock=time.time,
        sleep=time.sleep, monotonic=time.monotonic):
    """Poll until every check passes or ``deadline`` seconds passed.

    Returns dict(results, attempts, elapsed, fatal). ``fatal`` is a message
    when waiting cannot help (credentials or query refused); then polling stops
    at once. Each round evaluates every check; a connection-level failure ends
    the round and marks the rest of the checks with the same reason.

    Time: no wait (poll, retry) starts after ``deadline``, and every request is
    cut so that it ends by ``deadline`` + ``client.timeout`` -- the documented
    bound of the module's run time. ``clock`` is the wall clock used to ask
    Prometheus "now"; ``monotonic`` measures the budget.
    """
    budget = retry.Deadline(deadline, client.timeout, monotonic)
    attempts = 0
    results = []
    while True:
        attempts += 1
        results, fatal = [], None
        try:
            client.authorize(budget)
        except QueryError as exc:
            results = [error_result(c, str(exc)) for c in checks]
            fatal = None if exc.retryable else str(exc)
        else:
            for i, check in enumerate(checks):
                try:
                    results.append(evaluate(client, check, clock(), history_window,
                                            deadline=budget))
                except QueryError as exc:
                    if not exc.retryable:
                        fatal = "check %r: %s" % (check.name, exc) if exc.kind == "bad_query" \
                            else str(exc)
                    results.append(error_result(check, str(exc)))
                    if exc.retryable or exc.kind == "auth":
                        reason = "not evaluated: %s" % exc
                        results.extend(error_result(c, reason) for c in checks[i + 1:])
                        break
        if fatal or all(r["status"] == OK for r in results):
            return {"results": results, "attempts": attempts, "elapsed": budget.elapsed(),
                    "fatal": fatal}
        remaining = budget.remaining()
        if remaining <= 0:
            return {"results": results, "attempts": attempts, "elapsed": budget.elapsed(),
                    "fatal": None}
        sleep(min(float(poll_interval), remaining))


def render_report(results, header=None):
    """The per-check table as a list of lines."""
    rows = [("CHECK", "STATUS", "SERIES", "AGE", "MAX AGE", "DETAIL")]
    for r in results:
        age = r.get("oldest_age") if r.get("status") != STALE or r.get("series") else \
            r.get("newest_age")
        rows.append((r["name"], r["status"],
                     "-" if r.get("series") is None else "%d/%d" % (r["series"],
                                                                    r["min_series"]),
                     format_age(age), format_age(r.get("max_age")),
                     r.get("reason") or ""))
    return ([header] if header else []) + table.render(rows[0], rows[1:], rule=False, free_last=True)


def summary(results, attempts, elapsed):
    failed = [r for r in results if r["status"] != OK]
    head = "%d of %d checks passed after %d attempt%s in %.1fs" % (
        len(results) - len(failed), len(results), attempts, "" if attempts == 1 else "s",
        elapsed)
    if not failed:
        return head
    return head + "; failing: " + "; ".join("%s: %s" % (r["name"], r["reason"]) for r in failed)
