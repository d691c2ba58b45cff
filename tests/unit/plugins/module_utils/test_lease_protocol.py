"""The deploy lock's protocol (module_utils/lease.take/renew/release) against a small stand-in
of the API server's server-side apply semantics, for the answers a live cluster gives only
rarely: a lost answer after the write landed, a refusal, a takeover that loses, a renewal that
conflicts. The live behaviour is tests/integration/runner/test_deploy_lock.py."""
from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import lease
from ansible_collections.kubiya.runners.plugins.module_utils.kube import K8sError

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
NAME, NS = "r-deploy-lock", "ns"


class Server:
    """One Lease; server-side apply with field ownership of holderIdentity, resourceVersion
    preconditions, and failures injected per method: ('before', exc) refuses, ('after', exc)
    writes and then loses the answer."""

    def __init__(self, lease_obj=None, owner=None):
        self.lease, self.owner, self.version = lease_obj, owner, 10
        self.faults = {"PATCH": [], "DELETE": [], "GET": []}
        self.writes = 0
        if lease_obj:
            lease_obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)

    def request(self, method, path, query=None, body=None, retry=None, content_type=None):
        fault = self.faults[method].pop(0) if self.faults[method] else None
        if fault and fault[0] == "before":
            raise fault[1]
        answer = getattr(self, method.lower())(query, body, content_type)
        if fault and fault[0] == "after":
            raise fault[1]
        return answer

    def get(self, *_):
        if self.lease is None:
            raise K8sError("GET: HTTP 404", status=404)
        return copy.deepcopy(self.lease)

    def patch(self, query, body, content_type):
        assert content_type == "application/apply-patch+yaml" and isinstance(body, dict)
        wanted = body["metadata"].get("resourceVersion")
        if wanted and (self.lease is None or wanted != self.lease["metadata"]["resourceVersion"]):
            raise K8sError("PATCH: HTTP 409 Conflict: the object has been modified", status=409)
        manager, force = query["fieldManager"], query["force"] == "true"
        if self.lease is not None and manager != self.owner and not force \
                and lease.holder_of(self.lease) != body["spec"]["holderIdentity"]:
            raise K8sError("PATCH: HTTP 409 Conflict: conflict with %s" % self.owner, status=409)
        self.version += 1
        self.writes += 1
        self.owner = manager
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)

    def delete(self, query, body, content_type):
        if self.lease is None:
            raise K8sError("DELETE: HTTP 404", status=404)
        if body["preconditions"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            raise K8sError("DELETE: HTTP 409 Conflict", status=409)
        self.lease = None
        return {}


def other(renew="2026-12-01T11:59:00.000000Z", seconds=720, holder="other run"):
    return {"metadata": {"name": NAME, "namespace": NS},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds, "renewTime": renew, "acquireTime": renew}}


def take(server, holder="me run 1"):
    return lease.take(server, NS, NAME, {}, holder, "m-" + holder.split()[-1], 720, now=NOW)


LOST = K8sError("PATCH: read timed out", status=None)


def test_a_free_lock_is_one_write_and_a_held_one_is_left_alone():
    server = Server()
    got = take(server)
    assert (got["held"], got["outcome"], server.writes) == (True, "taken", 1)
    second = take(server, "you run 2")
    assert (second["held"], second["outcome"], lease.holder_of(second["other"])) == (False, "held", "me run 1")
    assert lease.holder_of(server.lease) == "me run 1" and server.writes == 1


def test_a_lost_answer_to_a_take_that_landed_is_this_runs_lock():
    server = Server()
    server.faults["PATCH"].append(("after", LOST))
    got = take(server)
    assert (got["held"], got["outcome"]) == (True, "mine")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refused_take_raises_and_writes_nothing(status):
    server = Server()
    server.faults["PATCH"].append(("before", K8sError("PATCH: HTTP %d" % status, status=status)))
    with pytest.raises(K8sError):
        take(server)
    assert server.lease is None


def test_an_expired_lease_is_taken_over_and_a_takeover_that_loses_stops():
    server = Server(other(renew="2026-12-01T11:00:00.000000Z", seconds=60), owner="m-old")
    got = take(server)
    assert (got["held"], got["outcome"], lease.holder_of(got["other"])) == (True, "taken_over", "other run")

    # another run takes it over between this run's read and its takeover: the precondition fails
    server = Server(other(renew="2026-12-01T11:00:00.000000Z", seconds=60), owner="m-old")
    real_peek, reads = lease.peek, []

    def read_then_race(client, ns, name):
        got = real_peek(client, ns, name)
        reads.append(1)
        if len(reads) == 1:
            lease.take(server, NS, NAME, {}, "fast run 3", "m-3", 720, now=NOW)  # the other run, now
        return got

    lease.peek = read_then_race
    try:
        lost = take(server)
    finally:
        lease.peek = real_peek
    assert (lost["held"], lost["outcome"], lease.holder_of(lost["other"])) == (False, "lost_race", "fast run 3")
    assert "409" in lost["error"]


def test_a_lease_given_up_is_free_and_one_without_renewal_time_is_not():
    server = Server(other(holder=""), owner="m-old")
    assert take(server)["outcome"] == "taken_over"
    stuck = other()
    del stuck["spec"]["renewTime"]
    server = Server(stuck, owner="m-old")
    assert take(server)["outcome"] == "held" and lease.holder_of(server.lease) == "other run"


def renew(server, version, holder="me run 1"):
    return lease.renew(server, NS, NAME, {}, holder, "m-" + holder.split()[-1], 720, "2026-12-01T12:00:00.000000Z",
                       version, now=NOW)


def test_renewals_a_landed_one_with_a_lost_answer_a_resent_one_a_conflict_and_a_refusal():
    server = Server()
    version = take(server)["lease"]["metadata"]["resourceVersion"]
    server.faults["PATCH"].append(("after", LOST))  # landed, answer lost: read back, held
    got = renew(server, version)
    assert got["held"] and got["lease"]["metadata"]["resourceVersion"] != version
    version = got["lease"]["metadata"]["resourceVersion"]
    server.faults["PATCH"].append(("before", LOST))  # never arrived: sent once more
    again = renew(server, version)
    assert again["held"] and server.writes == 3
    stale = renew(server, version)  # another write since: this run lost it
    assert (stale["held"], "409" in stale["error"]) == (False, True)
    server.faults["PATCH"].append(("before", K8sError("PATCH: HTTP 403 forbidden", status=403)))
    with pytest.raises(K8sError):
        renew(server, again["lease"]["metadata"]["resourceVersion"])
    server.faults["PATCH"] += [("before", LOST), ("before", LOST)]
    with pytest.raises(K8sError):  # twice without an answer: said so, not called "lost"
        renew(server, again["lease"]["metadata"]["resourceVersion"])


def test_a_renewal_of_a_lease_another_run_took_over_is_lost():
    server = Server(other(holder="me run 1"), owner="m-1")
    version = server.lease["metadata"]["resourceVersion"]
    server.faults["PATCH"].append(("before", LOST))
    lease.take(server, NS, NAME, {}, "you run 2", "m-2", 720, now=NOW + datetime.timedelta(hours=1))
    assert renew(server, version)["held"] is False
    assert lease.holder_of(server.lease) == "you run 2"


def test_release_deletes_only_the_lease_this_run_wrote():
    server = Server()
    version = take(server)["lease"]["metadata"]["resourceVersion"]
    assert lease.release(server, NS, NAME, "1") is False and server.lease is not None
    assert lease.release(server, NS, NAME, version) is True and server.lease is None
    assert lease.release(server, NS, NAME, version) is False
    server = Server()
    take(server)
    server.faults["DELETE"].append(("before", K8sError("DELETE: HTTP 403", status=403)))
    with pytest.raises(K8sError):
        lease.release(server, NS, NAME, server.lease["metadata"]["resourceVersion"])
