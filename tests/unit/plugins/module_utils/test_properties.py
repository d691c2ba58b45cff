"""Property-based tests (hypothesis) of the input validators, URL checks, retry timing
and PromQL label quoting (issue 9 item 8). Each property is checked against a reference
written independently of the code under test."""
from __future__ import annotations

import math
import string

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from ansible_collections.kubiya.runners.plugins.module_utils import (
    promql, retry, transport, validate)

settings.register_profile("kubiya", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kubiya")

OPTION = st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True)
# every character class that has broken a validator somewhere: ASCII, case, separators,
# control characters, non-ASCII letters and digits (re's \d matches Arabic-Indic digits)
NAME_CHARS = st.sampled_from(list(string.ascii_lowercase + string.digits + "-.")
                             + list("AZ_ /\n\t\x00é٣ﬀ"))


# --- numbers --------------------------------------------------------------------------------
@given(OPTION, st.floats(min_value=0, max_value=validate.MAX_SECONDS, exclude_min=True))
def test_every_positive_finite_time_up_to_a_day_is_accepted_unchanged(option, value):
    assert validate.number(value, option) == value


@given(OPTION, st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(
        lambda v: not (0 < v <= validate.MAX_SECONDS)),
    st.integers(max_value=0), st.integers(min_value=int(validate.MAX_SECONDS) + 1),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-0", "0.0", "abc", "",
                     None, True, False, [], {}])))
@example("timeout", float("nan"))
@example("timeout", float("-inf"))
@example("timeout", -0.0)
def test_nan_infinity_zero_negative_huge_and_junk_are_refused_naming_the_option(option, value):
    with pytest.raises(ValueError) as exc:
        validate.number(value, option)
    assert str(exc.value).startswith(option + ": ")


@given(OPTION, st.floats(allow_nan=True, allow_infinity=True))
def test_allow_zero_changes_only_zero(option, value):
    try:
        strict = validate.number(value, option)
    except ValueError:
        strict = None
    try:
        lax = validate.number(value, option, allow_zero=True)
    except ValueError:
        lax = None
    if value == 0:
        assert strict is None and lax == 0
    else:
        assert strict == lax
    assert lax is None or (math.isfinite(lax) and lax >= 0)


@given(st.integers(min_value=1, max_value=validate.MAX_COUNT))
def test_whole_counts_come_back_as_int(value):
    out = validate.number(float(value), "min_series", maximum=validate.MAX_COUNT, integer=True)
    assert out == value and isinstance(out, int)


@given(st.floats(min_value=0.001, max_value=1000).filter(lambda v: not v.is_integer()))
def test_fractional_counts_are_refused(value):
    with pytest.raises(ValueError, match="min_series: .* is not a whole number"):
        validate.number(value, "min_series", maximum=validate.MAX_COUNT, integer=True)


# --- names ----------------------------------------------------------------------------------
def reference_label(name, limit=63):
    ok = set(string.ascii_lowercase + string.digits + "-")
    return (0 < len(name) <= limit and all(c in ok for c in name)
            and name[0] != "-" and name[-1] != "-")


def reference_release(name):
    return len(name) <= 53 and all(reference_label(part) for part in name.split("."))


@given(st.text(NAME_CHARS, max_size=70))
@example("abc\n")      # a regex anchored with $ would accept the newline
@example("x" * 63)
@example("x" * 64)
@example("١٢٣")        # Unicode digits
def test_namespace_check_matches_the_dns1123_label_definition(name):
    if reference_label(name):
        assert validate.dns_label(name, "namespace") == name
    else:
        with pytest.raises(ValueError, match="^namespace: "):
            validate.dns_label(name, "namespace")


@given(st.text(NAME_CHARS, max_size=60))
@example("a.b")
@example("a..b")
@example("x" * 53)
@example("x" * 54)
@example("r1\n")
def test_release_check_matches_helms_definition(name):
    if reference_release(name):
        assert validate.helm_release(name, "release") == name
    else:
        with pytest.raises(ValueError, match="^release: "):
            validate.helm_release(name, "release")


# --- URLs -----------------------------------------------------------------------------------
HOSTS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True)


@given(st.from_regex(r"[a-zA-Z][a-zA-Z0-9+.-]{0,10}", fullmatch=True), HOSTS)
@example("http", "localhost")
@example("HTTP", "127.0.0.1")
@example("http", "metrics.example.com")
def test_only_https_and_opted_in_http_pass_the_url_check(scheme, host):
    url = "%s://%s/x" % (scheme, host)
    for allow_http in (False, True):
        allowed = scheme.lower() == "https" or (allow_http and scheme.lower() == "http"
                                                and transport.is_loopback_host(host))
        if allowed:
            assert transport.check_url(url, "token_url", allow_http) == url
        else:
            with pytest.raises(ValueError, match="^token_url: "):
                transport.check_url(url, "token_url", allow_http)


@given(st.text(max_size=40))
def test_url_check_never_lets_an_odd_string_through_without_a_host(text):
    try:
        url = transport.check_url(text, "url", allow_http=True)
    except ValueError as exc:
        assert str(exc).startswith("url: ")
        return
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    assert parts.scheme.lower() in ("http", "https") and parts.hostname
    assert "@" not in parts.netloc


# --- retry timing ---------------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=1000), st.one_of(st.none(), st.text(max_size=40),
                                                           st.integers().map(str)))
@example(0, "\u00b2")          # str.isdigit() is true for a superscript two; int() refuses it
@example(0, "9" * 40)
def test_retry_delay_is_always_finite_and_capped(attempt, retry_after):
    policy = retry.RetryPolicy()
    wait = policy.delay(attempt, retry_after)
    assert math.isfinite(wait) and 0 <= wait <= max(policy.cap, policy.max_retry_after)


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0.1, max_value=30),
       st.lists(st.floats(min_value=0, max_value=50), max_size=20))
@example(0.05, 1.0, [1.0])  # found by hypothesis: the refusal lands exactly on the edge (float rounding)
def test_no_request_is_given_time_past_deadline_plus_timeout(deadline, timeout, steps):
    now = [1000.0]
    budget = retry.Deadline(deadline, timeout, clock=lambda: now[0])
    for step in steps:
        now[0] += step
        try:
            t = budget.timeout()
        except retry.DeadlineExceeded:
            # refused only when less than MIN_REQUEST_TIME is left (float sums: 1e-9 slack)
            assert now[0] > 1000.0 + deadline + timeout - retry.MIN_REQUEST_TIME - 1e-9
            continue
        assert 0 < t <= timeout
        assert now[0] + t <= 1000.0 + deadline + timeout + 1e-9
        for wait in (0.0, step, timeout):
            if budget.can_wait(wait):  # a retry after the wait still has time to run
                assert now[0] + wait < 1000.0 + deadline + timeout


# --- PromQL quoting -------------------------------------------------------------------------
VALUES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(VALUES)
@example('"}')
@example('\\"} or vector(1) #')
@example("a\nb\rc\td")
@example("\\")
def test_quoted_values_parse_back_to_the_same_string(value):
    quoted = promql.quote(value)
    parsed, end = promql._scan_string(quoted, 0)  # pylint: disable=protected-access
    assert parsed == value and end == len(quoted)
    assert "\n" not in quoted  # a raw newline would end the string for Prometheus


@given(VALUES, VALUES)
@example('x"} or up{a="', "")
@example('"}) or vector(1', "}\n")
def test_no_value_breaks_out_of_its_matcher(runner, org):
    expr = 'sum by (job) (rate(http_requests_total{job="api"}[5m])) / on(job) up'
    scoped = promql.scope(expr, {"runner": runner, "organization": org})
    selectors = promql.find_selectors(scoped)
    assert [s.name for s in selectors] == ["http_requests_total", "up"]
    for sel in selectors:
        values = {m.label: (m.op, m.value) for m in sel.matchers}
        assert values["runner"] == ("=", runner) and values["organization"] == ("=", org)
    assert len(selectors[0].matchers) == 3 and len(selectors[1].matchers) == 2


@given(VALUES)
def test_a_metric_check_selector_carries_exactly_the_scope(value):
    sel = promql.parse_selector('up{job="x"}')
    rendered = sel.render({"runner": value})
    again = promql.parse_selector(rendered)
    assert again.name == "up"
    assert [(m.label, m.op, m.value) for m in again.matchers] == [
        ("job", "=", "x"), ("runner", "=", value)]


@given(st.text(max_size=30))
def test_label_names_are_either_valid_or_refused(name):
    assume(name != "")
    try:
        promql.check_label_name(name)
    except promql.PromQLError:
        assert not (name[0] in string.ascii_letters + "_"
                    and all(c in string.ascii_letters + string.digits + "_" for c in name))
    else:
        assert name[0] in string.ascii_letters + "_"
        assert all(c in string.ascii_letters + string.digits + "_" for c in name)
