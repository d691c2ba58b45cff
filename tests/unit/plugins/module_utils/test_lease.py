"""The deploy lock's pure decisions (plugins/module_utils/lease.py): when a lease counts as
expired or free, and what a taken lease says. A wrong answer here is two deploys of one
customer at once, or a customer locked out for good."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import lease

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def held(renew, seconds, holder="other@host run abc"):
    return {"metadata": {"resourceVersion": "7"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds, "renewTime": renew,
                     "acquireTime": renew}}


@pytest.mark.parametrize("text, want", [
    ("2026-12-01T12:00:00.000000Z", NOW),
    ("2026-12-01T12:00:00Z", NOW),                                  # no fraction
    ("2026-12-01T12:00:00.123456789Z", NOW.replace(microsecond=123456)),  # nanoseconds cut
    ("2026-12-01T13:00:00+01:00", NOW),                             # an offset
    ("2026-12-01T12:00:00.5Z", NOW.replace(microsecond=500000)),
])
def test_times_are_read_as_the_api_server_writes_them(text, want):
    assert lease.parse_time(text) == want


@pytest.mark.parametrize("text", ["", None, "yesterday", "2026-13-01T12:00:00Z", "2026-12-01 12:00:00Z",
                                  "2026-12-01T12:00:00", "2026-12-01T12:00:00ZZ", "NaN"])
def test_unreadable_times_are_none(text):
    assert lease.parse_time(text) is None


def test_a_lease_expires_only_after_its_duration_since_the_last_renewal():
    assert not lease.expired(held("2026-12-01T11:58:00.000000Z", 120), NOW)  # exactly at the end: still held
    assert lease.expired(held("2026-12-01T11:57:59.999999Z", 120), NOW)
    assert not lease.expired(held("2026-12-01T11:59:00.000000Z", 720), NOW)


@pytest.mark.parametrize("renew, seconds", [
    (None, 1), ("", 1), ("garbage", 1),   # no readable renewal: never taken over on a guess
])
def test_a_lease_without_a_readable_renewal_never_expires(renew, seconds):
    assert not lease.expired(held(renew, seconds), NOW)
    assert not lease.free(held(renew, seconds), NOW)


@pytest.mark.parametrize("seconds", [None, "x", 0, -5])
def test_a_lease_with_no_usable_duration_expires_right_after_its_renewal(seconds):
    assert lease.expired(held("2026-12-01T11:59:59.000000Z", seconds), NOW)


def test_a_renewal_in_the_future_keeps_the_lease_held():
    # another controller's clock ahead of ours: held, never taken over early
    assert not lease.free(held("2026-12-01T13:00:00.000000Z", 1), NOW)


def test_a_lease_that_names_no_holder_is_free():
    assert lease.free(held("2026-12-01T11:59:59.000000Z", 720, holder=""), NOW)
    assert not lease.free(held("2026-12-01T11:59:59.000000Z", 720), NOW)


def test_the_body_and_the_view_of_a_lease():
    body = lease.body("r-deploy-lock", "ns", {"a": "b"}, "me run 1", "720", "t0", "t1", resource_version="42")
    assert body["metadata"] == {"name": "r-deploy-lock", "namespace": "ns", "labels": {"a": "b"}, "resourceVersion": "42"}
    assert body["spec"] == {"holderIdentity": "me run 1", "leaseDurationSeconds": 720, "acquireTime": "t0", "renewTime": "t1"}
    assert "resourceVersion" not in lease.body("n", "ns", None, "h", 1, "t", "t")["metadata"]
    assert lease.view(held("t", 5)) == {"holder": "other@host run abc", "resource_version": "7", "acquire_time": "t",
                                        "renew_time": "t", "duration": 5}
    assert lease.view(None) == {} and lease.view({}) == {}
    assert lease.micro_time(NOW) == "2026-12-01T12:00:00.000000Z"
