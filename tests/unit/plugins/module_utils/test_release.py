"""The release state the runner role's guard acts on (plugins/module_utils/release.py): two views
of helm's, judged together; "absent" only when both say so, "unreadable" when they disagree."""
from __future__ import annotations

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import release


def record(version, status):
    return {"metadata": {"labels": {"owner": "helm", "name": "kubiya-runner", "version": str(version), "status": status}}}


def test_nothing_listed_and_no_record_is_absent():
    assert release.judge(None, "", [], "") == {"state": "absent", "revision": 0, "last_good": 0,
                                               "reason": "no release and no release record"}


@pytest.mark.parametrize("status", ["deployed", "failed", "pending-upgrade", "uninstalling"])
def test_helms_status_of_the_latest_revision_is_the_state(status):
    records = [record(1, "superseded"), record(2, "deployed"), record(3, status)]
    got = release.judge({"name": "kubiya-runner", "revision": "3", "status": status}, "", records, "")
    last_good = 3 if status == "deployed" else 2
    assert got == {"state": status, "revision": 3, "last_good": last_good, "reason": f"helm reports {status}"}


def test_a_status_helm_does_not_document_is_unknown():
    assert release.judge({"revision": "1", "status": "weird"}, "", [record(1, "weird")], "")["state"] == "unknown"


def test_records_without_a_listed_release_are_unreadable_not_absent():
    got = release.judge(None, "", [record(1, "superseded"), record(2, "pending-install")], "")
    assert got["state"] == "unreadable" and got["revision"] == 2 and got["last_good"] == 1
    assert got["reason"] == "helm lists no release, but its release record revision 2 (pending-install) exists"


@pytest.mark.parametrize("helm_error, records_error, reason", [
    ("Error: Kubernetes cluster unreachable", "", "helm: Error: Kubernetes cluster unreachable"),
    ("", "GET /api/v1/namespaces/x/secrets: 403 Forbidden",
     "reading its release records (Secrets owner=helm): GET /api/v1/namespaces/x/secrets: 403 Forbidden"),
])
def test_a_failed_read_is_unreadable_and_says_which(helm_error, records_error, reason):
    got = release.judge({"revision": "1", "status": "deployed"}, helm_error, [record(1, "deployed")], records_error)
    assert got["state"] == "unreadable" and got["reason"] == reason


def test_only_the_release_of_that_name_is_taken_from_the_listing():
    listing = [{"name": "kubiya-runner-2", "status": "failed"}, {"name": "kubiya-runner", "status": "deployed"}]
    assert release.find_listed(listing, "kubiya-runner")["status"] == "deployed"
    assert release.find_listed([], "kubiya-runner") is None


def test_no_namespace_means_no_release_for_certain():
    assert release.judge_namespace(None, "", "acme-runner") == {
        "state": "absent", "revision": 0, "last_good": 0, "reason": "namespace acme-runner does not exist"}


def test_an_unreadable_namespace_is_an_unreadable_release_not_an_absent_one():
    got = release.judge_namespace(None, 'namespaces "acme-runner" is forbidden: ' + "x" * 600, "acme-runner")
    assert got["state"] == "unreadable" and got["reason"].startswith("reading namespace acme-runner: namespaces")
    assert len(got["reason"]) < 450  # a long answer is cut


def test_an_existing_namespace_leaves_the_decision_to_the_release_reads():
    ns = {"metadata": {"name": "acme-runner", "uid": "u-1", "labels": {"kubiya.runners/customer": "acme"}}}
    assert release.judge_namespace(ns, "", "acme-runner") is None
    assert release.namespace_view(ns) == {"namespace_exists": True, "namespace_labels": {"kubiya.runners/customer": "acme"},
                                          "namespace_uid": "u-1"}
    assert release.namespace_view(None) == {"namespace_exists": False, "namespace_labels": {}, "namespace_uid": ""}
