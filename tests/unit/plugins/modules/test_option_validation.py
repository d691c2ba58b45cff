"""Every time and count option of the three modules, and namespace/release, are checked
by the modules themselves, before anything is sent, with the option named (issue 9 items
3 and 7). Real module processes; the endpoints given do not exist (port 9 on loopback),
so a module that did not refuse would fail differently."""
from __future__ import annotations

import pytest

DELIVERY = {"url": "https://127.0.0.1:9", "checks": [{"name": "up", "metric": "up"}],
            "deadline": 0}
K8S = {"host": "https://127.0.0.1:9", "api_key": "not-a-real-token", "namespace": "ns1",
       "release": "r1"}
HEALTH = dict(K8S, window=0)
SA = dict(K8S, manifests="[]")

BAD = [("nan", "NaN is not a valid value"), ("inf", "infinity is not a valid value"),
       ("-inf", "-infinity is not a valid value"), (-1, "is negative"),
       (0, "0 is not a valid value")]
TOO_BIG = 10 ** 7

# module, base args, option, whole number?, zero allowed?
# (all are typed float: ansible-core's int conversion crashes with a traceback on "inf")
NUMERIC = [
    ("metrics_delivery", DELIVERY, "timeout", False, False),
    ("metrics_delivery", DELIVERY, "deadline", False, True),
    ("metrics_delivery", DELIVERY, "poll_interval", False, False),
    ("metrics_delivery", DELIVERY, "max_age", False, False),
    ("metrics_delivery", DELIVERY, "history_window", True, True),
    ("metrics_delivery", DELIVERY, "checks[].min_series", True, False),
    ("metrics_delivery", DELIVERY, "checks[].max_age", False, False),
    ("runner_health", HEALTH, "wait_timeout", False, True),
    ("runner_health", HEALTH, "window", False, True),
    ("runner_health", HEALTH, "interval", False, False),
    ("runner_health", HEALTH, "request_timeout", False, False),
    ("sa_permissions", SA, "request_timeout", False, False),
]


def cases():
    for module, base, option, integer, zero_ok in NUMERIC:
        extra = [(2.5, "is not a whole number")] if integer else []
        for value, fragment in BAD + [(TOO_BIG, "is too large")] + extra:
            if value == 0 and zero_ok:
                continue
            yield pytest.param(module, base, option, value, fragment,
                               id="%s-%s=%s" % (module, option, value))


def with_option(base, option, value):
    args = {k: (list(v) if isinstance(v, list) else v) for k, v in base.items()}
    if option.startswith("checks[]."):
        args["checks"] = [dict(args["checks"][0], **{option.split(".", 1)[1]: value})]
    else:
        args[option] = value
    return args


@pytest.mark.parametrize("module,base,option,value,fragment", list(cases()))
def test_bad_numbers_are_refused_naming_the_option(run_module, module, base, option, value,
                                                   fragment):
    run = run_module(module, **with_option(base, option, value))
    assert run.failed, run.result
    name = option.split(".", 1)[-1]
    assert name in run.msg, run.msg
    if fragment:
        assert fragment in run.msg, run.msg
    # refused up front: nothing was tried against the (absent) endpoint
    assert "connection refused" not in run.msg.lower() and "cannot reach" not in run.msg, run.msg


@pytest.mark.parametrize("module,base", [("metrics_delivery", DELIVERY),
                                         ("runner_health", HEALTH)])
def test_zero_keeps_its_documented_meaning(run_module, module, base):
    """deadline 0 = one round, wait_timeout 0 = judge now: accepted, then the (absent)
    endpoint is actually tried."""
    option = "deadline" if module == "metrics_delivery" else "wait_timeout"
    run = run_module(module, **with_option(base, option, 0))
    assert run.failed and "connection refused" in run.msg.lower(), run.msg


BAD_NAMESPACES = ["Kubiya", "a_b", "-x", "x-", "a.b", "ns/../kube-system", "x" * 64, "", "ns 1"]
BAD_RELEASES = ["R1", "a_b", "-x", "x-", "r/1", "x" * 54, "", "r..1"]


@pytest.mark.parametrize("module,base", [("runner_health", HEALTH), ("sa_permissions", SA)])
@pytest.mark.parametrize("value", BAD_NAMESPACES)
def test_bad_namespace_is_refused_by_the_module(run_module, module, base, value):
    run = run_module(module, **dict(base, namespace=value))
    assert run.failed and run.msg.startswith("namespace: "), run.msg
    assert "DNS-1123" in run.msg or "empty" in run.msg


@pytest.mark.parametrize("module,base", [("runner_health", HEALTH), ("sa_permissions", SA)])
@pytest.mark.parametrize("value", BAD_RELEASES)
def test_bad_release_is_refused_by_the_module(run_module, module, base, value):
    run = run_module(module, **dict(base, release=value))
    assert run.failed and run.msg.startswith("release: "), run.msg
    assert "Helm release name" in run.msg


def test_sa_permissions_checks_other_namespace_too(run_module):
    run = run_module("sa_permissions", **dict(SA, other_namespace="Kube_System"))
    assert run.failed and run.msg.startswith("other_namespace: "), run.msg


@pytest.mark.parametrize("release", ["r1", "kubiya-runner", "my.release", "x" * 53])
def test_good_release_names_pass_the_check(run_module, release):
    run = run_module("runner_health", **{**HEALTH, "release": release})
    assert not run.msg.startswith("release:") and "connection refused" in run.msg.lower(), run.msg
