"""kubiya.runners.runner_health against the local control plane (kwok nodes).

kwok makes pods Running/Ready without running containers and leaves status patches
alone, so a test can raise a restart count or fail a pod through the status
subresource and watch the module notice.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
import time

import pytest

from testlib import REPO

pytestmark = [pytest.mark.cluster]

RELEASE = "hx"


def deployment(name: str, replicas: int = 1, node_selector: dict | None = None) -> str:
    spec = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": RELEASE,
                                                  "app.kubernetes.io/component": name}},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name, "app.kubernetes.io/instance": RELEASE,
                                                          "app.kubernetes.io/component": name}},
                                  "spec": {"nodeSelector": node_selector or {},
                                           "containers": [{"name": name, "image": "busybox:1.37.0"}]}}}}
    return json.dumps(spec)


def bare_pod(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": RELEASE,
                                                             "app.kubernetes.io/component": name}},
                       "spec": {"containers": [{"name": "main", "image": "busybox:1.37.0"}]}})


def health(cluster, namespace: str, check: bool = False, **args) -> dict:
    params = dict(namespace=namespace, release=RELEASE, kubeconfig=str(cluster.kubeconfig), **args)
    env = dict(cluster.env, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    cmd = ["ansible", "localhost", "-m", "kubiya.runners.runner_health", "-a", json.dumps(params)]
    if check:
        cmd.append("--check")
    out = subprocess.run(cmd, cwd=REPO, env=env, text=True, capture_output=True, timeout=300, check=False)
    try:
        doc = json.loads(out.stdout)
    except ValueError:
        raise AssertionError(out.stdout[-3000:] + out.stderr[-3000:]) from None
    return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]


def wait_ready(cluster, namespace: str, what: str) -> None:
    cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", what, "--timeout=60s")


def test_healthy_deployment_and_report(cluster, namespace):
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=deployment("web", replicas=2))
    cluster.kubectl("-n", namespace, "rollout", "status", "deploy/web", "--timeout=60s")
    result = health(cluster, namespace, wait_timeout=60, window=2)
    assert not result.get("failed"), result.get("msg")
    assert result["healthy"] is True and result["changed"] is False
    assert [(c["component"], c["kind"], c["ready"], c["healthy"]) for c in result["components"]] == [
        ("web", "Deployment", "2/2", True)]
    assert result["report"][2].split() == ["web", "Deployment", "web", "2/2", "0", "ok"]
    # the pods may have been up for part of the window already: that part is not waited for again
    assert re.fullmatch(r"1/1 workloads healthy, restart counts checked over 2s"
                        r"( \(\d+(\.\d)?s of it before this check: every container up that long\))?",
                        result["summary"]), result["summary"]
    # check mode: the same read-only answer
    assert health(cluster, namespace, check=True, window=0)["healthy"] is True


def test_unschedulable_rollout_fails_after_the_wait(cluster, namespace):
    cluster.kubectl("-n", namespace, "apply", "-f", "-",
                    input=deployment("stuck", node_selector={"kubiya.test/none": "true"}))
    started = time.monotonic()
    result = health(cluster, namespace, wait_timeout=4, window=0)
    assert time.monotonic() - started >= 4
    assert result.get("failed") and result["healthy"] is False
    problems = "\n".join(result["problems"])
    assert "stuck: Deployment stuck: 0/1 replicas ready" in problems
    assert "not Ready (phase Pending; unschedulable:" in problems
    assert "runner is not healthy" in result["msg"] and "FAIL" in result["msg"]


def test_restart_during_the_window_and_failed_pod(cluster, namespace):
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=bare_pod("flappy"))
    wait_ready(cluster, namespace, "pod/flappy")

    # the container "restarts" every 2 s while the check runs: however long the module takes to
    # start on a loaded machine, restarts fall inside its 10 s window. As a kubelet does, each
    # restart also sets the container's new start time (the module counts the time a container
    # has been up as part of the window already behind it).
    done = threading.Event()

    def keep_restarting():
        count = 0
        while not done.wait(2):
            count += 1
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            cluster.kubectl("-n", namespace, "patch", "pod", "flappy", "--subresource=status", "--type=json", "-p",
                            '[{"op":"replace","path":"/status/containerStatuses/0/restartCount","value":%d},'
                            '{"op":"replace","path":"/status/containerStatuses/0/state","value":'
                            '{"running":{"startedAt":"%s"}}}]' % (count, now))

    patcher = threading.Thread(target=keep_restarting)
    patcher.start()
    try:
        result = health(cluster, namespace, window=10, fail_on_unhealthy=False)
    finally:
        done.set()
        patcher.join()
    assert not result.get("failed")  # fail_on_unhealthy=false only reports
    assert result["healthy"] is False
    assert len(result["problems"]) == 1, result["problems"]
    before, after = map(int, re.fullmatch(
        r"flappy: pod flappy container main restarted during the check window \((\d+) -> (\d+)\)",
        result["problems"][0]).groups())
    assert after > before

    # the restarts are now history: a new window does not count them
    assert health(cluster, namespace, window=2)["healthy"] is True

    cluster.kubectl("-n", namespace, "patch", "pod", "flappy", "--subresource=status", "--type=merge", "-p",
                    '{"status":{"phase":"Failed","reason":"Evicted","message":"node pressure"}}')
    result = health(cluster, namespace, window=0)
    assert result.get("failed")
    assert "flappy: pod flappy Failed (Evicted)" in result["problems"]


def test_missing_component_and_empty_release(cluster, namespace):
    result = health(cluster, namespace, window=0, expected_components=["agent-manager"])
    assert result.get("failed")
    assert any(p.startswith("agent-manager: no Pod, Deployment") for p in result["problems"])
    assert any(p.startswith("no Pod, Deployment, StatefulSet, Job or CronJob matches") for p in result["problems"])
