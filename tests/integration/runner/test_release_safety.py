"""A failed, interrupted or concurrent deploy never destroys a live runner.

On the local control plane (real apiserver, controllers, helm):

- a release really left ``pending-upgrade`` (a ``helm upgrade --wait`` SIGKILLed mid-flight):
  the next deploy stops before changing anything, naming the state and the recovery
  commands, and the release, its Secrets and its pods are all still there;
- two deploys of the same customer at once, fresh install and upgrade: afterwards the
  release is deployed and intact, no Secret lost, the loser says why it stopped;
- a failed first install in a namespace that existed removes only the Secrets this run
  created - not one the run found there.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid

import pytest

from testlib import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

INVENTORY = REPO / "inventories" / "example"
CHART = REPO / "charts" / "kubiya-runner"
RELEASE = "kubiya-runner"
ROLE_SECRETS = {"kubiya-runner-nats-credentials", "kubiya-runner-remote-write-oauth2"}
UNSCHEDULABLE = {"imageUpdater": {"enabled": False},
                 "agentManager": {"nodeSelector": {"kubiya.test/unschedulable": "true"}}}


def play_env(cluster) -> dict:
    env = dict(cluster.env, KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
               ANSIBLE_VAULT_PASSWORD_FILE=str(INVENTORY / "vault-pass-client.sh"), ANSIBLE_FORCE_COLOR="0")
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    return env


def deploy_cmd(namespace: str, **extra) -> list[str]:
    extra = {"runner_namespace": namespace, "runner_verify": False, **extra}
    return ["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
            "--limit", "acme", "-e", json.dumps(extra)]


def deploy(cluster, namespace: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(deploy_cmd(namespace, **extra), cwd=REPO, env=play_env(cluster), text=True,
                          capture_output=True, timeout=900, check=False)


def start_deploy(cluster, namespace: str, **extra) -> subprocess.Popen:
    return subprocess.Popen(deploy_cmd(namespace, **extra), cwd=REPO, env=play_env(cluster), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def history(cluster, namespace: str) -> list[dict]:
    out = subprocess.run(["helm", "history", RELEASE, "-n", namespace, "-o", "json"], env=cluster.env,
                         text=True, capture_output=True, timeout=60, check=False)
    return json.loads(out.stdout) if out.returncode == 0 else []


def wait_for_status(cluster, namespace: str, status: str, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        revisions = history(cluster, namespace)
        if revisions and revisions[-1]["status"] == status:
            return revisions
        time.sleep(0.3)
    pytest.fail(f"release never reached {status}: {history(cluster, namespace)}")


def names(cluster, namespace: str, kind: str, *selector: str) -> set[str]:
    out = cluster.kubectl("-n", namespace, "get", kind, *selector, "-o", "name", check=False)
    return set(out.stdout.split())


def role_secrets(cluster, namespace: str) -> set[str]:
    found = names(cluster, namespace, "secrets", "-l", "app.kubernetes.io/managed-by=kubiya.runners")
    return {n.split("/", 1)[1] for n in found}


def release_records(cluster, namespace: str) -> set[str]:
    return names(cluster, namespace, "secrets", "-l", f"owner=helm,name={RELEASE}")


def tail(out) -> str:
    text = out if isinstance(out, str) else out.stdout + out.stderr
    return text[-5000:]


def test_an_interrupted_upgrade_is_never_uninstalled(cluster, namespace):
    first = deploy(cluster, namespace)
    assert first.returncode == 0, tail(first)
    pods_before = names(cluster, namespace, "pods")
    records_before = release_records(cluster, namespace)
    assert role_secrets(cluster, namespace) == ROLE_SECRETS and pods_before and records_before

    # A real helm upgrade that waits for a pod that can never be scheduled; killed mid-flight.
    upgrade = subprocess.Popen(
        ["helm", "upgrade", RELEASE, str(CHART), "-n", namespace, "--reuse-values", "--wait", "--timeout", "5m",
         "--set-string", "agentManager.nodeSelector.kubiya\\.test/unschedulable=true"],
        env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        revisions = wait_for_status(cluster, namespace, "pending-upgrade")
    finally:
        upgrade.send_signal(signal.SIGKILL)
        upgrade.wait(timeout=30)
    time.sleep(1)
    assert history(cluster, namespace)[-1]["status"] == "pending-upgrade"
    pending_revision = revisions[-1]["revision"]

    again = deploy(cluster, namespace)
    output = again.stdout + again.stderr
    assert again.returncode != 0, tail(again)
    assert f"Release {RELEASE} in namespace {namespace} is pending-upgrade at revision {pending_revision}" in output, \
        tail(again)
    assert f"helm history {RELEASE} -n {namespace}" in output, tail(again)
    assert f"helm rollback {RELEASE} 1 -n {namespace}" in output, tail(again)
    assert "nothing was uninstalled or deleted" in output, tail(again)
    # nothing was tried, so nothing was rolled back either (the guard stopped under the lock)
    assert "rolled back" not in output and "the release is left as it is" in output, tail(again)

    # The release, its records, the role's Secrets and the running pods are all still there.
    assert history(cluster, namespace)[-1]["status"] == "pending-upgrade"
    assert release_records(cluster, namespace) >= records_before
    assert role_secrets(cluster, namespace) == ROLE_SECRETS
    assert pods_before <= names(cluster, namespace, "pods")
    # Nothing holds the deploy lock afterwards.
    assert not names(cluster, namespace, "leases.coordination.k8s.io")

    # The verification alone names the unfinished operation instead of verifying its pods.
    check = subprocess.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.verify",
                            "--limit", "acme", "-e", json.dumps({"runner_namespace": namespace})],
                           cwd=REPO, env=play_env(cluster), text=True, capture_output=True, timeout=600, check=False)
    assert check.returncode != 0, tail(check)
    assert (f"Release {RELEASE} in namespace {namespace} is pending-upgrade at revision {pending_revision}: another "
            "helm operation is running right now, or one was interrupted, so nothing is verified") in \
        " ".join(check.stdout.split()), tail(check)


def test_two_concurrent_first_installs_leave_one_intact_release(cluster):
    namespace = f"t-role-concurrent-{uuid.uuid4().hex[:6]}"  # created by the role
    try:
        runs = [start_deploy(cluster, namespace), start_deploy(cluster, namespace)]
        outputs = [run.communicate(timeout=900)[0] for run in runs]
        codes = [run.returncode for run in runs]
        assert 0 in codes, "\n=====\n".join(tail(o) for o in outputs)
        for code, output in zip(codes, outputs):
            if code != 0:
                assert ("holds the lock" in output or "took the lock" in output
                        or "in the middle of a helm operation" in output or "is pending-install" in output), tail(output)
                assert "nothing was uninstalled or deleted" in output, tail(output)
        assert history(cluster, namespace)[-1]["status"] == "deployed"
        assert role_secrets(cluster, namespace) == ROLE_SECRETS
        assert names(cluster, namespace, "deployments", "-l", f"app.kubernetes.io/instance={RELEASE}")
        assert names(cluster, namespace, "pods")
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_a_deploy_during_another_runs_upgrade_leaves_it_alone(cluster, namespace):
    first = deploy(cluster, namespace)
    assert first.returncode == 0, tail(first)
    workloads = names(cluster, namespace, "deployments,statefulsets")

    # Run A: an upgrade that cannot become ready; helm waits, then --atomic rolls it back.
    slow = start_deploy(cluster, namespace, runner_values=UNSCHEDULABLE, runner_wait_timeout=45)
    try:
        wait_for_status(cluster, namespace, "pending-upgrade", timeout=300)
        # Run B, the same customer, while A's upgrade is in flight.
        second = deploy(cluster, namespace)
    finally:
        slow_out = slow.communicate(timeout=900)[0]
    output = second.stdout + second.stderr
    assert second.returncode != 0, tail(second)
    assert "is pending-upgrade" in output or "holds the lock" in output, tail(second)
    assert "nothing was uninstalled or deleted" in output, tail(second)
    assert slow.returncode != 0 and "rolled back" in slow_out, tail(slow_out)

    # A's rollback completed; the release, its Secrets, workloads and pods are intact (A's
    # upgrade and rollback replaced the pods, so their names changed).
    assert history(cluster, namespace)[-1]["status"] == "deployed"
    assert role_secrets(cluster, namespace) == ROLE_SECRETS
    assert names(cluster, namespace, "deployments,statefulsets") == workloads
    assert names(cluster, namespace, "pods", "-l", f"app.kubernetes.io/instance={RELEASE}")


def test_a_failed_first_install_removes_only_what_this_run_created(cluster, namespace):
    # A Secret of the role that this run finds (an earlier run made it): updated, never deleted.
    found = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": "kubiya-runner-remote-write-oauth2", "namespace": namespace,
                          "labels": {"app.kubernetes.io/managed-by": "kubiya.runners",
                                     "app.kubernetes.io/instance": RELEASE}},
             "stringData": {"client-secret": "from-an-earlier-run"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(found))
    out = deploy(cluster, namespace, runner_values=UNSCHEDULABLE, runner_wait_timeout=15)
    assert out.returncode != 0, tail(out)
    assert "what this run created was removed: kubiya-runner-nats-credentials" in out.stdout, tail(out)
    assert role_secrets(cluster, namespace) == {"kubiya-runner-remote-write-oauth2"}
    assert history(cluster, namespace) == []
    assert cluster.kubectl("get", "namespace", namespace, check=False).returncode == 0


def test_a_secret_that_cannot_be_written_is_named_and_the_other_one_undone(cluster, namespace):
    # Both Secrets are written by one module process: when one write fails, the play names that
    # Secret and the API server's reason (never the data), and undo still deletes the Secret
    # this run created - the one it found stays as it was.
    found = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": True,
             "metadata": {"name": "kubiya-runner-remote-write-oauth2", "namespace": namespace},
             "stringData": {"client-secret": "made-by-hand"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(found))
    out = deploy(cluster, namespace)
    assert out.returncode != 0, tail(out)
    text = " ".join(out.stdout.split())
    assert (f"Secret(s) kubiya-runner-remote-write-oauth2 in namespace {namespace} could not be written "
            "(Unprocessable Entity)") in text, tail(out)
    assert "what this run created was removed: kubiya-runner-nats-credentials" in text, tail(out)
    assert "made-by-hand" not in out.stdout + out.stderr
    assert role_secrets(cluster, namespace) == set()
    kept = json.loads(cluster.kubectl("-n", namespace, "get", "secret", "kubiya-runner-remote-write-oauth2",
                                      "-o", "json").stdout)
    assert kept["data"] == {"client-secret": "bWFkZS1ieS1oYW5k"} and kept["immutable"] is True
    assert history(cluster, namespace) == []


LOCK_PLAY = """
- name: The deploy lock step alone
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Take the deploy lock
      ansible.builtin.include_role:
        name: kubiya.runners.runner
        tasks_from: lock.yml
"""


def test_an_expired_lease_is_taken_over(cluster, namespace, tmp_path):
    """A run that died keeps the lock only until its lease expires; then the next run takes it."""
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": f"{RELEASE}-deploy-lock", "namespace": namespace},
             "spec": {"holderIdentity": "dead-run", "leaseDurationSeconds": 1,
                      "acquireTime": "2020-01-01T00:00:00.000000Z", "renewTime": "2020-01-01T00:00:00.000000Z"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(lease))
    play = tmp_path / "lock.yml"
    play.write_text(LOCK_PLAY)
    extra = {"runner_namespace": namespace,
             "ansible_python_interpreter": subprocess.run(["which", "python"], env=cluster.env, text=True,
                                                          capture_output=True, check=True).stdout.strip()}
    out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(play), "-e", json.dumps(extra)],
                         cwd=REPO, env=play_env(cluster), text=True, capture_output=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-3000:]
    got = json.loads(cluster.kubectl("get", "lease", f"{RELEASE}-deploy-lock", "-n", namespace, "-o", "json").stdout)
    assert got["spec"]["holderIdentity"] not in ("dead-run", "")
