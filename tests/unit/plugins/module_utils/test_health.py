"""Pure health logic of runner_health (plugins/module_utils/health.py), on API-shaped dicts."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import health, retry

RELEASE = "r1"


def labels(component):
    return {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": component}


def pod(name, component, *, phase="Running", ready=True, restarts=0, owner=("ReplicaSet", None), uid=None,
        waiting=None, deleting=False, unschedulable=None):
    kind, owner_name = owner
    if kind == "ReplicaSet" and owner_name is None:
        owner_name = f"{component}-5f6d7c8b9"
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if unschedulable:
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": unschedulable})
    state = {"running": {}} if not waiting else {"waiting": {"reason": waiting}}
    meta = {"name": name, "uid": uid or f"uid-{name}", "labels": labels(component),
            "ownerReferences": [{"kind": kind, "name": owner_name}] if kind else []}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"kind": "Pod", "metadata": meta,
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": component, "ready": ready, "restartCount": restarts,
                                              "state": state}]}}


def deployment(name, desired=2, ready=None, updated=None, available=None, generation=1, observed=1, total=None):
    ready = desired if ready is None else ready
    return {"kind": "Deployment",
            "metadata": {"name": name, "labels": labels(name), "generation": generation},
            "spec": {"replicas": desired},
            "status": {"observedGeneration": observed, "readyReplicas": ready,
                       "updatedReplicas": desired if updated is None else updated,
                       "availableReplicas": ready if available is None else available,
                       "replicas": desired if total is None else total}}


def statefulset(name, desired=1, ready=None, current="rev1", update="rev1"):
    ready = desired if ready is None else ready
    return {"kind": "StatefulSet", "metadata": {"name": name, "labels": labels(name), "generation": 1},
            "spec": {"replicas": desired},
            "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": ready,
                       "currentRevision": current, "updateRevision": update}}


def job(name, component, failed=False, succeeded=1):
    conditions = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}] if failed else []
    return {"kind": "Job", "metadata": {"name": name, "labels": labels(component)},
            "status": {"succeeded": 0 if failed else succeeded, "conditions": conditions}}


def healthy_release():
    pods = [pod("agent-manager-5f6d7c8b9-a", "agent-manager"), pod("agent-manager-5f6d7c8b9-b", "agent-manager"),
            pod("dagger-0", "dagger", owner=("StatefulSet", "dagger")),
            pod("image-updater-1-x", "image-updater", phase="Succeeded", ready=False, owner=("Job", "image-updater-1"))]
    return pods, [deployment("agent-manager")], [statefulset("dagger")], [job("image-updater-1", "image-updater")]


def test_healthy_release_has_one_entry_per_workload_and_no_problem():
    pods, deps, sts, jobs = healthy_release()
    components, problems = health.evaluate(pods, deps, sts, jobs, restarts_before=health.restart_snapshot(pods))
    assert problems == []
    assert [(c["component"], c["kind"], c["ready"]) for c in components] == [
        ("agent-manager", "Deployment", "2/2"), ("dagger", "StatefulSet", "1/1"), ("image-updater", "Job", "done")]
    assert all(c["healthy"] for c in components)
    assert health.is_settled(pods, deps, sts)


def test_not_ready_pod_is_named_with_its_waiting_reason():
    pods, deps, sts, jobs = healthy_release()
    pods[1] = pod("agent-manager-5f6d7c8b9-b", "agent-manager", ready=False, waiting="CrashLoopBackOff")
    deps[0] = deployment("agent-manager", ready=1)
    components, problems = health.evaluate(pods, deps, sts, jobs)
    assert "agent-manager: pod agent-manager-5f6d7c8b9-b not Ready (phase Running; agent-manager: CrashLoopBackOff)" in problems
    assert "agent-manager: Deployment agent-manager: 1/2 replicas ready" in problems
    assert not components[0]["healthy"] and components[1]["healthy"]
    assert not health.is_settled(pods, deps, sts)


def test_unschedulable_pod_says_why():
    pods = [pod("tool-manager-5f6d7c8b9-a", "tool-manager", phase="Pending", ready=False,
                unschedulable="0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")]
    problems = health.evaluate(pods)[1]
    assert problems and "unschedulable: 0/2 nodes are available" in problems[0]


def test_restart_count_rising_during_the_window_fails_but_old_restarts_do_not():
    pods, deps, sts, jobs = healthy_release()
    pods[0] = pod("agent-manager-5f6d7c8b9-a", "agent-manager", restarts=4)
    before = health.restart_snapshot(pods)
    components, problems = health.evaluate(pods, deps, sts, jobs, restarts_before=before)
    assert problems == [] and components[0]["restarts"] == 4  # restarts before the window are history

    after = copy.deepcopy(pods)
    after[0]["status"]["containerStatuses"][0]["restartCount"] = 6
    components, problems = health.evaluate(after, deps, sts, jobs, restarts_before=before)
    assert problems == ["agent-manager: pod agent-manager-5f6d7c8b9-a container agent-manager restarted "
                        "during the check window (4 -> 6)"]
    assert components[0]["restarts"] == 6 and not components[0]["healthy"]


def test_restart_check_skipped_without_a_snapshot_and_for_replaced_pods():
    pods = [pod("a-5f6d7c8b9-a", "a", restarts=9)]
    assert health.evaluate(pods)[1] == []
    before = health.restart_snapshot([pod("a-5f6d7c8b9-a", "a", restarts=0, uid="old-uid")])
    assert health.evaluate(pods, restarts_before=before)[1] == []  # another Pod (new UID)


def test_failed_pod_and_failed_job_are_problems():
    pods, deps, sts, jobs = healthy_release()
    pods.append(pod("image-updater-2-y", "image-updater", phase="Failed", ready=False,
                    owner=("Job", "image-updater-2")))
    pods[-1]["status"]["reason"] = "DeadlineExceeded"
    jobs.append(job("image-updater-2", "image-updater", failed=True))
    components, problems = health.evaluate(pods, deps, sts, jobs)
    assert "image-updater: Job image-updater-2 Failed (BackoffLimitExceeded)" in problems
    assert "image-updater: pod image-updater-2-y Failed (DeadlineExceeded)" in problems
    # failed things do not heal by waiting: they do not keep a wait going
    assert health.is_settled(pods, deps, sts)


def test_deployment_rollout_states():
    assert health.workload_problems(deployment("d", generation=3, observed=2)) == [
        "Deployment d: controller has not seen generation 3 yet (observed 2)"]
    assert "Deployment d: 3 replicas exist, 2 desired (rollout in progress)" in health.workload_problems(
        deployment("d", total=3))
    assert "Deployment d: 1/2 replicas updated to the current spec" in health.workload_problems(
        deployment("d", updated=1))
    # ready but not yet available (minReadySeconds): reported once, not as well as "not ready"
    assert health.workload_problems(deployment("d", available=1)) == ["Deployment d: 1/2 replicas available"]
    assert health.workload_problems(deployment("d", ready=1)) == ["Deployment d: 1/2 replicas ready"]
    scaled_to_zero = deployment("d", desired=0)
    assert health.workload_problems(scaled_to_zero) == []


def test_statefulset_unfinished_rollout():
    assert health.workload_problems(statefulset("s", current="rev1", update="rev2")) == [
        "StatefulSet s: rollout to revision rev2 not finished (current rev1)"]
    assert health.workload_problems(statefulset("s", desired=1, ready=0))[0] == "StatefulSet s: 0/1 replicas ready"


def test_missing_kind_and_replicas_defaults():
    # list items from the API server carry no kind; spec.replicas defaults to 1
    dep = deployment("d")
    del dep["kind"]
    del dep["spec"]["replicas"]
    dep["status"].update(readyReplicas=1, updatedReplicas=1, availableReplicas=1, replicas=1)
    components, problems = health.evaluate([], [dep])
    assert problems == [] and components[0]["kind"] == "Deployment" and components[0]["ready"] == "1/1"


def test_pods_without_owner_and_terminating_pods():
    loose = pod("debug", "debug", owner=(None, None), ready=False)
    gone = pod("agent-manager-5f6d7c8b9-z", "agent-manager", ready=False, deleting=True)
    components, problems = health.evaluate([loose, gone])
    assert [(c["kind"], c["name"]) for c in components] == [("Pod", "debug")]
    assert problems == ["debug: pod debug not Ready (phase Running; debug: not ready)"]
    assert not health.is_settled([gone])  # a rollout is still replacing it


def test_succeeded_pod_outside_a_job_is_a_problem():
    done = pod("agent-manager-5f6d7c8b9-a", "agent-manager", phase="Succeeded", ready=False)
    problems = health.evaluate([done])[1]
    assert problems == ["agent-manager: pod agent-manager-5f6d7c8b9-a Succeeded but is not part of a Job "
                        "(its containers exited)"]


def test_report_table_is_aligned_and_lists_problems():
    pods, deps, sts, jobs = healthy_release()
    deps[0] = deployment("agent-manager", ready=1)
    components, problems = health.evaluate(pods, deps, sts, jobs)
    lines = health.report_lines(components, problems)
    assert lines[0].split() == ["COMPONENT", "KIND", "NAME", "READY", "RESTARTS", "STATUS"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["agent-manager", "Deployment", "agent-manager", "1/2", "0", "FAIL"]
    # columns line up: the STATUS column starts at the same offset in every row
    offsets = {line.index(word) for line, word in zip(lines[2:5], ("FAIL", "ok", "ok"))}
    assert offsets == {lines[0].index("STATUS")}
    assert lines[-1] == "FAIL agent-manager: Deployment agent-manager: 1/2 replicas ready"
    assert health.summarize(components, problems, 10) == (
        "2/3 workloads healthy, restart counts checked over 10s, 1 problem(s)")


def test_empty_release_report():
    assert health.report_lines([], [])[-1] == "(no Pods, Deployments, StatefulSets, Jobs or CronJobs found)"


def test_cronjobs_are_listed_with_their_last_schedule():
    cj = {"kind": "CronJob", "metadata": {"name": "image-updater", "labels": labels("image-updater")},
          "spec": {"schedule": "0 * * * *"}, "status": {}}
    ran = copy.deepcopy(cj)
    ran["status"]["lastScheduleTime"] = "2025-01-01T10:00:00Z"
    suspended = copy.deepcopy(cj)
    suspended["spec"]["suspend"] = True
    for obj, ready in ((cj, "not run yet"), (ran, "last 2025-01-01T10:00:00Z"), (suspended, "suspended")):
        components, problems = health.evaluate([], cronjobs=[obj])
        assert problems == []
        assert [(c["component"], c["kind"], c["ready"], c["healthy"]) for c in components] == [
            ("image-updater", "CronJob", ready, True)]


# --- health.watch (the loop of runner_health): the window is cut to the time budget (issue 9) ----------------------
class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.now += seconds


class SlowClient:
    """Every list call takes ``cost`` seconds of the fake clock."""

    def __init__(self, fake, cost, budget):
        self.fake, self.cost, self.calls = fake, cost, 0
        self.deadline = retry.Deadline(budget, 30, clock=fake.clock)

    def list_items(self, path, label_selector=None):
        self.calls += 1
        self.fake.sleep(self.cost)
        return [pod("agent-manager-1", "agent-manager")] if "/pods" in path else []


def watch(client, fake, **params):
    return health.watch(client, "ns1", release=RELEASE, interval=2, deadline=client.deadline,
                        clock=fake.clock, sleep=fake.sleep, **params)


def test_window_is_cut_to_what_is_left_of_the_time_budget():
    fake = FakeTime()
    # wait_timeout 900 + window 30: the lists of the wait phase take 919 s in all
    client = SlowClient(fake, cost=919 / 5, budget=900 + 30)
    result = watch(client, fake, wait_timeout=900, window=30)
    assert result["window"] == 11.0
    # the final lists start by the soft deadline: the whole run ends by it + their own time
    assert fake.now - 1000.0 == pytest.approx(919 + 11 + 919)
    assert fake.now - 919 <= client.deadline.soft_end + 1e-6
    assert result["summary"] == ("1/1 workloads healthy, restart counts checked over 11.0s "
                                 "(window cut from 30s: waiting and API calls used up the time budget "
                                 "wait_timeout + window)")


def test_window_runs_in_full_when_the_budget_allows_it():
    fake = FakeTime()
    client = SlowClient(fake, cost=0.1, budget=900 + 30)
    result = watch(client, fake, wait_timeout=900, window=30)
    assert result["window"] == 30
    assert result["summary"] == "1/1 workloads healthy, restart counts checked over 30s"


def test_no_time_left_means_a_zero_window_that_says_so():
    fake = FakeTime()
    client = SlowClient(fake, cost=10, budget=5 + 20)
    result = watch(client, fake, wait_timeout=5, window=20)
    assert result["window"] == 0
    assert "restart counts checked over 0.0s (window cut from 20s" in result["summary"]


# --- the part of the window that lies behind (a re-run does not wait the window again) -----------------------------
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z


def stamp(seconds_ago):
    import time as _time
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(NOW - seconds_ago))


def up(p, seconds_ago, last_finished_ago=None):
    cs = p["status"]["containerStatuses"][0]
    cs["state"] = {"running": {"startedAt": stamp(seconds_ago)}}
    if last_finished_ago is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": stamp(last_finished_ago)}}
    return p


def test_stable_for_is_the_least_uptime_of_the_running_containers():
    pods = [up(pod("a-1", "a"), 300), up(pod("b-1", "b"), 4)]
    assert health.stable_for(pods, NOW) == 4
    # a Job's pod and a pod that is not Running do not count
    done = up(pod("j-1", "j", phase="Succeeded", owner=("Job", "j-1")), 1)
    assert health.stable_for([up(pod("a-1", "a"), 300), done], NOW) == 300


@pytest.mark.parametrize("case", ["no start time", "waiting container", "clock apart", "recent restart"])
def test_stable_for_counts_nothing_behind_when_the_status_cannot_prove_it(case):
    p = up(pod("a-1", "a"), 300)
    if case == "no start time":
        p["status"]["containerStatuses"][0]["state"] = {"running": {}}
    elif case == "waiting container":
        p = pod("a-1", "a", waiting="CrashLoopBackOff")
    elif case == "clock apart":
        up(p, -30)  # started 30 s "in the future": the controller's clock is behind the node's
    else:
        up(p, 300, last_finished_ago=3)  # an earlier run ended 3 s ago
        assert health.stable_for([p], NOW) == 3
        return
    assert health.stable_for([p], NOW) == 0


class StaticClient:
    def __init__(self, pods):
        self.pods, self.calls = pods, 0

    def list_items(self, path, label_selector=None):
        self.calls += 1
        return copy.deepcopy(self.pods) if "/pods" in path else []


def test_a_runner_up_longer_than_the_window_is_judged_without_waiting():
    fake = FakeTime()
    client = StaticClient([up(pod("agent-manager-1", "agent-manager"), 600)])
    result = health.watch(client, "ns1", release=RELEASE, window=10, clock=fake.clock, sleep=fake.sleep,
                          wall=lambda: NOW)
    assert fake.now == 1000.0 and client.calls == len(health.KINDS)  # one look, no sleep
    assert result["healthy"] and result["window"] == 10 and result["window_behind"] == 10
    assert result["summary"] == ("1/1 workloads healthy, restart counts checked over 10s "
                                 "(10s of it before this check: every container up that long)")


def test_pods_started_moments_ago_are_watched_for_the_rest_of_the_window_and_restarts_still_fail():
    fake = FakeTime()
    fresh = up(pod("agent-manager-1", "agent-manager"), 4)
    client = StaticClient([fresh])

    def restart_while_sleeping(seconds):
        fake.sleep(seconds)
        client.pods = [up(pod("agent-manager-1", "agent-manager", restarts=1), 0)]

    result = health.watch(client, "ns1", release=RELEASE, window=10, clock=fake.clock, sleep=restart_while_sleeping,
                          wall=lambda: NOW)
    assert fake.now - 1000.0 == 6  # 10 s window, 4 s of it behind
    assert result["window_behind"] == 4 and result["window"] == 10
    assert not result["healthy"]
    assert "restarted during the check window (0 -> 1)" in " ".join(result["problems"])
