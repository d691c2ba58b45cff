# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Just enough PromQL to find, validate and scope vector selectors.

Azure Monitor workspaces reject a query unless every vector selector names a
metric (``up{...}`` or ``{__name__="up"}``). This module finds the selectors of
an expression without evaluating it, so the collection can:

* refuse user PromQL in which a selector has no metric name, saying which one;
* add the runner/organization label matchers to every selector, so a check
  looks only at this runner's series;
* build the collection's own queries from a metric selector.

It is a scanner, not a full parser: it understands strings, comments, label
matcher blocks, range/subquery brackets, function calls, aggregation modifiers
(``by``/``without``) and vector-matching modifiers (``on``/``ignoring``/
``group_left``/``group_right``). Anything it cannot scan raises PromQLError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+(?:ms|[smhdwy]))+|"
                     r"(?:[0-9]*\.)?[0-9]+(?:[eE][-+]?[0-9]+)?")
_OPERATORS = ("==", "!=", "<=", ">=", "=~", "!~", "+", "-", "*", "/", "%", "^", "<", ">", "@")
_MATCH_OPS = ("=~", "!~", "!=", "=")
# followed by a parenthesised list of label names
_LABEL_LIST_KEYWORDS = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right"])
_KEYWORDS = frozenset(["bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"])
AGGREGATIONS = frozenset(["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                          "count_values", "bottomk", "topk", "quantile", "limitk",
                          "limit_ratio"])
AZURE_HINT = ("Azure Monitor workspaces require every selector to name a metric, "
              "e.g. up{job=\"x\"} or {__name__=\"up\"}")


class PromQLError(ValueError):
    """The expression cannot be used; the message says why and where."""


class Matcher(object):
    def __init__(self, label, op, value, raw):
        self.label, self.op, self.value, self.raw = label, op, value, raw

    def __repr__(self):
        return self.raw


class Selector(object):
    """A vector selector found in an expression: ``text[start:end]``."""

    def __init__(self, name, matchers, start, end, quoted_name=None):
        self.name, self.matchers, self.start, self.end = name, matchers, start, end
        self.quoted_name = quoted_name  # raw text of {"quoted.name", ...} (Prometheus 3)

    @property
    def metric(self):
        """The metric this selector names (or the ``__name__`` regex), or None."""
        if self.name:
            return self.name
        for m in self.matchers:
            if m.label == "__name__" and m.op in ("=", "=~") and m.value:
                return m.value
        return None

    def labels(self):
        return set(m.label for m in self.matchers)

    def render(self, extra=None):
        """The selector text with ``extra`` (label -> value) matchers added for
        labels it does not constrain already."""
        raws = ([self.quoted_name] if self.quoted_name else []) + [m.raw for m in self.matchers]
        have = self.labels()
        for label, value in (extra or {}).items():
            if label not in have:
                raws.append("%s=%s" % (label, quote(value)))
        if not raws:
            return self.name
        return "%s{%s}" % ("" if self.quoted_name else (self.name or ""), ", ".join(raws))

    def __repr__(self):
        return "Selector(%s)" % self.render()


def quote(value):
    """A PromQL double-quoted string literal."""
    out = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


def _scan_string(text, pos):
    """Return (value, end) for the string literal starting at ``pos``."""
    q = text[pos]
    i = pos + 1
    out = []
    while i < len(text):
        c = text[i]
        if c == q:
            return "".join(out), i + 1
        if c == "\\" and q != "`":
            if i + 1 >= len(text):
                break
            out.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
            continue
        if c == "\n" and q != "`":
            break
        out.append(c)
        i += 1
    raise PromQLError("unterminated string starting at position %d" % pos)


def _skip_space(text, pos):
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        elif text[pos] == "#":
            while pos < len(text) and text[pos] != "\n":
                pos += 1
        else:
            break
    return pos


def _scan_matchers(text, pos):
    """Scan ``{...}`` at ``pos``; return ((name, raw) or None, [Matcher], end)."""
    i = pos + 1
    matchers = []
    name = None
    while True:
        i = _skip_space(text, i)
        if i >= len(text):
            raise PromQLError("unterminated label matchers starting at position %d" % pos)
        if text[i] == "}":
            return name, matchers, i + 1
        start = i
        if text[i] in "\"'":
            label, i = _scan_string(text, i)
        else:
            m = _IDENT.match(text, i)
            if not m:
                raise PromQLError("expected a label name at position %d" % i)
            label, i = m.group(0), m.end()
        j = _skip_space(text, i)
        op = next((o for o in _MATCH_OPS if text.startswith(o, j)), None)
        if op is None:
            if text[start] in "\"'" and j < len(text) and text[j] in ",}":
                if name is not None:
                    raise PromQLError("metric name given twice at position %d" % start)
                # Prometheus 3 quoted metric name: {"my.metric", job="x"}
                name = (label, text[start:i])
                i = j + 1 if text[j] == "," else j
                continue
            raise PromQLError("expected a matcher operator (=, !=, =~, !~) after label "
                              "%r at position %d" % (label, j))
        j = _skip_space(text, j + len(op))
        if j >= len(text) or text[j] not in "\"'`":
            raise PromQLError("expected a quoted value for label %r at position %d" % (label, j))
        value, i = _scan_string(text, j)
        matchers.append(Matcher(label, op, value, text[start:i]))
        i = _skip_space(text, i)
        if i < len(text) and text[i] == ",":
            i += 1
        elif i < len(text) and text[i] != "}":
            raise PromQLError("expected ',' or '}' at position %d" % i)


def _tokens(text):
    """Yield (kind, value, start, end); kinds: ident, matchers, string, number,
    range, punct, op."""
    i = 0
    while True:
        i = _skip_space(text, i)
        if i >= len(text):
            return
        c = text[i]
        if c in "\"'`":
            value, end = _scan_string(text, i)
            yield "string", value, i, end
            i = end
        elif c == "{":
            name, matchers, end = _scan_matchers(text, i)
            yield "matchers", (name, matchers), i, end
            i = end
        elif c == "[":
            end = text.find("]", i)
            if end < 0:
                raise PromQLError("unterminated '[' at position %d" % i)
            yield "range", text[i:end + 1], i, end + 1
            i = end + 1
        elif c in "(),":
            yield "punct", c, i, i + 1
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < len(text) and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            yield "number", m.group(0), i, m.end()
            i = m.end()
        elif _IDENT.match(text, i):
            m = _IDENT.match(text, i)
            yield "ident", m.group(0), i, m.end()
            i = m.end()
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise PromQLError("unexpected character %r at position %d" % (c, i))
            yield "op", op, i, i + len(op)
            i += len(op)


def find_selectors(expr):
    """All vector selectors of ``expr`` in order of appearance."""
    if not isinstance(expr, str) or not expr.strip():
        raise PromQLError("the expression is empty")
    toks = list(_tokens(expr))
    selectors = []
    i = 0
    while i < len(toks):
        kind, value, start, end = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None, None, None)
        if kind == "ident":
            word = value.lower()
            if word in _LABEL_LIST_KEYWORDS:
                if nxt[0] == "punct" and nxt[1] == "(":
                    close = _matching_paren(toks, i + 1, expr)
                    i = close + 1
                else:
                    i += 1
                continue
            if word in _KEYWORDS:
                i += 1
                continue
            if nxt[0] == "punct" and nxt[1] == "(":
                i += 1  # function call or aggregation
                continue
            if word in AGGREGATIONS and nxt[0] == "ident" and nxt[1].lower() in ("by", "without"):
                i += 1
                continue
            if nxt[0] == "matchers":
                name, matchers = nxt[1]
                if name is not None:
                    raise PromQLError("metric name given twice in selector at position %d"
                                      % start)
                selectors.append(Selector(value, matchers, start, nxt[3]))
                i += 2
            else:
                selectors.append(Selector(value, [], start, end))
                i += 1
            continue
        if kind == "matchers":
            name, matchers = value
            if name is None:
                selectors.append(Selector(None, matchers, start, end))
            else:
                selectors.append(Selector(name[0], matchers, start, end, quoted_name=name[1]))
        i += 1
    return selectors


def _matching_paren(toks, open_index, expr):
    depth = 0
    for j in range(open_index, len(toks)):
        if toks[j][0] == "punct" and toks[j][1] == "(":
            depth += 1
        elif toks[j][0] == "punct" and toks[j][1] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise PromQLError("unbalanced '(' at position %d" % toks[open_index][2])


def validate(expr):
    """Return the selectors of ``expr``; raise PromQLError unless each names a metric."""
    selectors = find_selectors(expr)
    if not selectors:
        raise PromQLError("the expression %r has no metric selector; %s" % (expr, AZURE_HINT))
    for sel in selectors:
        if sel.metric is None:
            raise PromQLError("selector %s at position %d has no metric name; %s"
                              % (expr[sel.start:sel.end], sel.start, AZURE_HINT))
    return selectors


def scope(expr, extra):
    """``expr`` with ``extra`` label matchers added to every selector (validated)."""
    selectors = validate(expr)
    out = expr
    for sel in reversed(selectors):
        out = out[:sel.start] + sel.render(extra) + out[sel.end:]
    return out


def parse_selector(text):
    """Parse a single metric selector (``up`` or ``up{job="x"}``); raise otherwise."""
    selectors = validate(text)
    stripped = text.strip()
    if len(selectors) != 1 or selectors[0].start != len(text) - len(text.lstrip()) \
            or selectors[0].end != len(text.rstrip()) or not stripped:
        raise PromQLError("%r is not a single metric selector such as up{job=\"x\"}; "
                          "use promql for expressions" % text)
    return selectors[0]


def check_label_name(name):
    if not isinstance(name, str) or not LABEL_NAME.match(name):
        raise PromQLError("%r is not a valid Prometheus label name" % (name,))
    return name
