"""`--check` on the runner's playbooks changes nothing and says what a real run would do - for a
fresh customer, for one already deployed, for a removal, and while another run holds the
customer's deploy lock (the lock is read, never taken, in check mode). And what a re-run's
verification reads: the release as the guard read it under the lock when nothing changed."""
from __future__ import annotations

import json
import subprocess

import pytest

from testlib import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

INVENTORY = REPO / "inventories" / "example"
RELEASE = "kubiya-runner"


def play_env(cluster) -> dict:
    env = dict(cluster.env, KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
               ANSIBLE_VAULT_PASSWORD_FILE=str(INVENTORY / "vault-pass-client.sh"), ANSIBLE_FORCE_COLOR="0")
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    return env


def play(cluster, playbook: str, namespace: str, *args: str, **extra) -> subprocess.CompletedProcess:
    extra = {"runner_namespace": namespace, **extra}
    out = subprocess.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), playbook, "--limit", "acme",
                          "-e", json.dumps(extra), *args], cwd=REPO, env=play_env(cluster), text=True,
                         capture_output=True, timeout=900, check=False)
    return out


def flat(out) -> str:
    return " ".join((out.stdout + out.stderr).split())


def exists(cluster, *what: str) -> bool:
    return cluster.kubectl("get", *what, check=False).returncode == 0


def revisions(cluster, namespace: str) -> int:
    out = subprocess.run(["helm", "history", RELEASE, "-n", namespace, "-o", "json"], env=cluster.env, text=True,
                         capture_output=True, timeout=60, check=False)
    return len(json.loads(out.stdout)) if out.returncode == 0 else 0


def test_check_mode_changes_nothing_fresh_deployed_removed_and_locked(cluster):
    namespace = "t-check-" + __import__("uuid").uuid4().hex[:6]
    fresh = play(cluster, "kubiya.runners.deploy", namespace, "--check")
    assert fresh.returncode == 0, fresh.stdout[-4000:]
    assert "would be created" in fresh.stdout and "would be installed" in fresh.stdout, fresh.stdout[-4000:]
    assert not exists(cluster, "namespace", namespace)
    try:
        real = play(cluster, "kubiya.runners.deploy", namespace, runner_verify=False)
        assert real.returncode == 0, real.stdout[-4000:]
        assert revisions(cluster, namespace) == 1

        again = play(cluster, "kubiya.runners.deploy", namespace, "--check")
        assert again.returncode == 0, again.stdout[-4000:]
        assert not exists(cluster, "lease", f"{RELEASE}-deploy-lock", "-n", namespace)
        assert revisions(cluster, namespace) == 1

        removal = play(cluster, "kubiya.runners.remove", namespace, "--check", runner_remove_confirm="acme")
        assert removal.returncode == 0, removal.stdout[-4000:]
        assert revisions(cluster, namespace) == 1 and exists(cluster, "namespace", namespace)
        assert not exists(cluster, "lease", f"{RELEASE}-deploy-lock", "-n", namespace)

        # another run holds the lock: check mode says so and still writes nothing
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": f"{RELEASE}-deploy-lock", "namespace": namespace},
                 "spec": {"holderIdentity": "other-run", "leaseDurationSeconds": 1200,
                          "renewTime": "2099-01-01T00:00:00.000000Z"}}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(lease))
        locked = play(cluster, "kubiya.runners.deploy", namespace, "--check")
        assert locked.returncode != 0 and 'holds the lock (Lease kubiya-runner-deploy-lock, holder "other-run"' in \
            flat(locked), locked.stdout[-4000:]
        got = json.loads(cluster.kubectl("get", "lease", f"{RELEASE}-deploy-lock", "-n", namespace, "-o",
                                         "json").stdout)
        assert got["spec"]["holderIdentity"] == "other-run"
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def task_result(out, task: str) -> str:
    """The first result line ("ok: [acme]", "skipping: [acme]"...) after the task's header."""
    text = out.stdout
    start = text.index(f"TASK [kubiya.runners.runner : {task}")
    return next(line for line in text[start:].splitlines()[1:] if line.strip() and not line.startswith("Tuesday")
                and "****" not in line and not line[:3].isdigit() and ": [acme]" in line)


def test_an_unchanged_rerun_verifies_the_release_read_under_its_lock_and_a_change_reads_it_again(cluster):
    namespace = "t-verify-" + __import__("uuid").uuid4().hex[:6]
    try:
        first = play(cluster, "kubiya.runners.deploy", namespace, runner_verify=False)
        assert first.returncode == 0, first.stdout[-4000:]
        again = play(cluster, "kubiya.runners.deploy", namespace, runner_health_window=0)
        assert again.returncode == 0, again.stdout[-4000:]
        assert "changed=0" in again.stdout
        # the report names the revision and chart of the guard's read; no second read was made
        assert f"release {RELEASE} revision 1, chart kubiya-runner-2.0.0, namespace {namespace}" in again.stdout, \
            again.stdout[-4000:]
        assert task_result(again, "Verify | Read the state, chart and computed values").startswith("skipping")

        changed = play(cluster, "kubiya.runners.deploy", namespace, runner_health_window=0,
                       runner_values={"imageUpdater": {"enabled": False}})
        assert changed.returncode == 0, changed.stdout[-4000:]
        assert f"release {RELEASE} revision 2, chart kubiya-runner-2.0.0" in changed.stdout, changed.stdout[-4000:]
        assert task_result(changed, "Verify | Read the state, chart and computed values").startswith("ok")
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
