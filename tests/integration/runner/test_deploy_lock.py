"""kubiya.runners.deploy_lock against the local control plane: one holder at a time, a lease
that is taken over only when it expired, renewals and releases that never touch another run's
lease, and the release state read under the lock in the same process."""
from __future__ import annotations

import json
import threading
import uuid

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import lease
from ansible_collections.kubiya.runners.plugins.module_utils.kube import KubeClient

pytestmark = [pytest.mark.cluster]

RELEASE = "kubiya-runner"
NAME = f"{RELEASE}-deploy-lock"


def lock(cluster, tmp_path, namespace, holder, **args):
    args.setdefault("field_manager", "kubiya-runners-" + holder.split()[-1])
    args.setdefault("duration", 720)
    return cluster.run_module("deploy_lock", tmp_path, release=RELEASE, namespace=namespace, holder=holder, **args)


def read(cluster, namespace):
    got = cluster.kubectl("get", "lease", NAME, "-n", namespace, "-o", "json", check=False)
    return json.loads(got.stdout) if got.returncode == 0 else None


def test_one_holder_renewals_and_releases_never_touch_another_runs_lease(cluster, namespace, tmp_path):
    first = lock(cluster, tmp_path, namespace, "ops@a run one", labels={"kubiya.runners/customer": "acme"},
                 read_release=True)
    assert not first.failed, first
    r = first.result
    assert (r["held"], r["outcome"], r["lease"]["holder"], r["lease"]["duration"]) == (True, "taken", "ops@a run one", 720)
    # the release read in the same process, under the lock
    assert (r["release_state"]["state"], r["release_state"]["namespace_exists"]) == ("absent", True)
    assert read(cluster, namespace)["metadata"]["labels"] == {"kubiya.runners/customer": "acme"}

    second = lock(cluster, tmp_path, namespace, "ops@b run two", read_release=True)
    assert not second.failed, second
    s = second.result
    assert (s["held"], s["outcome"], s["other"]["holder"], s["release_state"]) == (False, "held", "ops@a run one", {})

    version = r["lease"]["resource_version"]
    # check mode: what a real renewal and release would find, nothing written
    would_renew = lock(cluster, tmp_path, namespace, "ops@a run one", state="renewed", resource_version=version,
                       acquire_time=r["lease"]["acquire_time"], _ansible_check_mode=True)
    would_release = lock(cluster, tmp_path, namespace, "ops@a run one", state="absent", resource_version=version,
                         _ansible_check_mode=True)
    assert (would_renew.result["held"], would_renew.result["outcome"], would_release.result["outcome"]) == \
        (True, "renewed", "released"), (would_renew, would_release)
    assert read(cluster, namespace)["metadata"]["resourceVersion"] == version
    renewed = lock(cluster, tmp_path, namespace, "ops@a run one", state="renewed", resource_version=version,
                   acquire_time=r["lease"]["acquire_time"])
    assert renewed.result["held"] and renewed.result["outcome"] == "renewed", renewed
    assert renewed.result["lease"]["resource_version"] != version
    assert renewed.result["lease"]["acquire_time"] == r["lease"]["acquire_time"]
    assert lease.parse_time(renewed.result["lease"]["renew_time"]) > lease.parse_time(r["lease"]["renew_time"])

    # a stale resourceVersion (another run wrote since): no renewal, no release
    stale = lock(cluster, tmp_path, namespace, "ops@a run one", state="renewed", resource_version=version,
                 acquire_time=r["lease"]["acquire_time"])
    assert not stale.failed and (stale.result["held"], stale.result["outcome"]) == (False, "lost"), stale
    assert "409" in stale.result["error"] or "onflict" in stale.result["error"]
    kept = lock(cluster, tmp_path, namespace, "ops@a run one", state="absent", resource_version=version)
    assert (kept.result["outcome"], kept.result["changed"]) == ("gone", False), kept
    assert read(cluster, namespace)["spec"]["holderIdentity"] == "ops@a run one"

    gone = lock(cluster, tmp_path, namespace, "ops@a run one", state="absent",
                resource_version=renewed.result["lease"]["resource_version"])
    assert gone.result["outcome"] == "released" and read(cluster, namespace) is None, gone
    again = lock(cluster, tmp_path, namespace, "ops@a run one", state="absent", resource_version="1")
    assert not again.failed and again.result["outcome"] == "gone"


def test_an_expired_lease_is_taken_over_and_a_lease_without_renewal_time_is_not(cluster, namespace, tmp_path):
    dead = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"holderIdentity": "dead-run", "leaseDurationSeconds": 1,
                     "acquireTime": "2020-01-01T00:00:00.000000Z", "renewTime": "2020-01-01T00:00:00.000000Z"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(dead))
    got = lock(cluster, tmp_path, namespace, "ops@a run one")
    assert (got.result["held"], got.result["outcome"], got.result["other"]["holder"]) == (True, "taken_over", "dead-run")
    assert read(cluster, namespace)["spec"]["holderIdentity"] == "ops@a run one"

    cluster.kubectl("delete", "lease", NAME, "-n", namespace)
    odd = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": NAME, "namespace": namespace},
           "spec": {"holderIdentity": "someone", "leaseDurationSeconds": 1}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(odd))
    kept = lock(cluster, tmp_path, namespace, "ops@a run one")
    assert (kept.result["held"], kept.result["outcome"]) == (False, "held")
    assert read(cluster, namespace)["spec"]["holderIdentity"] == "someone"


def test_a_lease_created_between_the_conflict_and_the_take_is_not_overwritten(cluster, namespace):
    """Another run creates the lease after this run read "no lease" (its first read is made to
    answer 404 here; the lease exists): the take, without force and without a precondition,
    conflicts with the other run's field manager, and this run stops with the lease as it was."""
    other = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": NAME, "namespace": namespace},
             "spec": {"holderIdentity": "other-run", "leaseDurationSeconds": 1200}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(other))
    client = KubeClient.from_params({"kubeconfig": str(cluster.kubeconfig)})
    real_peek, calls = lease.peek, []

    def first_read_sees_nothing(c, ns, name):
        calls.append(name)
        return None if len(calls) == 1 else real_peek(c, ns, name)

    lease.peek = first_read_sees_nothing
    try:
        got = lease.take(client, namespace, NAME, {}, "me run x", "kubiya-runners-x", 720)
    finally:
        lease.peek = real_peek
        client.close()
    assert (got["held"], got["outcome"], lease.holder_of(got["other"])) == (False, "lost_race", "other-run"), got
    assert "409" in got["error"] or "onflict" in got["error"]
    assert read(cluster, namespace)["spec"]["holderIdentity"] == "other-run"


def race(cluster, tmp_path, namespace, runs):
    """``runs`` module processes taking the lock at the same moment; their results."""
    results, start = [None] * runs, threading.Barrier(runs)

    def one(i):
        start.wait()
        results[i] = lock(cluster, tmp_path, namespace, f"ops@{i} run r{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(r is not None and not r.failed for r in results), results
    return [r.result for r in results]


def test_of_concurrent_takes_exactly_one_holds_the_lock(cluster, namespace, tmp_path):
    results = race(cluster, tmp_path, namespace, 4)
    holders = [r for r in results if r["held"]]
    assert len(holders) == 1, results
    assert {r["outcome"] for r in results if not r["held"]} <= {"held", "lost_race"}
    assert read(cluster, namespace)["spec"]["holderIdentity"] == holders[0]["lease"]["holder"]


def test_of_concurrent_takeovers_of_an_expired_lease_exactly_one_holds_it(cluster, namespace, tmp_path):
    dead = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"holderIdentity": "dead-run", "leaseDurationSeconds": 1,
                     "acquireTime": "2020-01-01T00:00:00.000000Z", "renewTime": "2020-01-01T00:00:00.000000Z"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(dead))
    results = race(cluster, tmp_path, namespace, 3)
    holders = [r for r in results if r["held"]]
    assert len(holders) == 1, results
    assert read(cluster, namespace)["spec"]["holderIdentity"] == holders[0]["lease"]["holder"]


def test_no_namespace_bad_input_and_check_mode_write_nothing(cluster, namespace, tmp_path):
    missing = "t-lock-none-" + uuid.uuid4().hex[:6]
    nowhere = lock(cluster, tmp_path, missing, "ops@a run one", read_release=True)
    assert not nowhere.failed, nowhere  # nothing to lock yet; the release is certainly absent
    assert (nowhere.result["held"], nowhere.result["outcome"], nowhere.result["release_state"]["state"],
            nowhere.result["release_state"]["namespace_exists"]) == (False, "no_namespace", "absent", False)

    for args, option in [({"duration": 0}, "duration"), ({"state": "renewed", "acquire_time": "x",
                                                          "resource_version": "1"}, "acquire_time"),
                         ({"state": "absent"}, "resource_version"), ({"field_manager": " "}, "field_manager")]:
        bad = lock(cluster, tmp_path, namespace, "ops@a run one", **args)
        assert bad.failed and bad.result["msg"].startswith(option + ":"), (args, bad)
    assert read(cluster, namespace) is None

    checked = lock(cluster, tmp_path, namespace, "ops@a run one", read_release=True, _ansible_check_mode=True)
    assert not checked.failed and (checked.result["outcome"], checked.result["held"]) == ("free", False), checked
    assert checked.result["release_state"]["state"] == "absent"
    assert read(cluster, namespace) is None


def test_an_identity_without_rights_on_leases_is_refused_naming_the_lease(cluster, namespace, tmp_path):
    """A 403 is a refusal, not a race: the module fails naming the Lease and the API server's
    answer, and writes nothing (the role then stops in the guard's or removal's words)."""
    import yaml

    cluster.kubectl("-n", namespace, "create", "serviceaccount", "limited")
    token = cluster.kubectl("-n", namespace, "create", "token", "limited").stdout.strip()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = dict(config["clusters"][0]["cluster"])
    ca = server.get("certificate-authority")
    if ca and not str(ca).startswith("/"):
        server["certificate-authority"] = str(cluster.kubeconfig.parent / ca)
    limited = tmp_path / "limited.kubeconfig"
    limited.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "limited",
        "clusters": [{"name": "c", "cluster": server}], "users": [{"name": "limited", "user": {"token": token}}],
        "contexts": [{"name": "limited", "context": {"cluster": "c", "user": "limited"}}]}))
    got = lock(cluster, tmp_path, namespace, "ops@a run one", kubeconfig=str(limited), read_release=True)
    assert got.failed, got
    assert got.result["msg"].startswith(f"Lease {NAME} in namespace {namespace}: ") and "403" in got.result["msg"], got
    assert got.result["held"] is False
    assert read(cluster, namespace) is None
