"""make cluster-up / cluster-down behave as promised: a warm start is fast,
a second `up` is harmless, a crashed component is reported, `down` stops every
process it started and removes the state, and `up` after `down` works.

Runs a second, throw-away cluster on other ports and another state directory
so it does not disturb the session cluster.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from testlib import REPO, base_env

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
WARM_START_LIMIT_S = 30


def run(script: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(HERE / script)], env=env, text=True, capture_output=True, timeout=timeout, check=False)


def pids(state: Path) -> dict[str, int]:
    return {p.name: int(p.read_text()) for p in (state / "pids").iterdir()}


def alive(pid: int) -> bool:
    """Running and not a zombie (PID 1 here may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(") ", 1)[1].split()[0] != "Z"


def test_up_twice_crash_report_down_and_up_again(tmp_path):
    state = tmp_path / "cluster"
    env = base_env(KUBIYA_CLUSTER_DIR=str(state), KUBIYA_APISERVER_PORT="26443", KUBIYA_ETCD_PORT="33790")
    subprocess.run([str(REPO / "tools" / "build.sh"), "etcd", "kubernetes", "kwok"], env=env, check=True, timeout=3600)
    try:
        start = time.monotonic()
        first = run("up.sh", env)
        warm_start = time.monotonic() - start
        assert first.returncode == 0, first.stderr
        assert (state / "kubeconfig").exists()
        print(f"warm start-to-Ready: {warm_start:.1f}s")
        assert warm_start <= WARM_START_LIMIT_S, f"warm start took {warm_start:.1f}s"

        started = pids(state)
        assert set(started) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

        again = run("up.sh", env, timeout=60)
        assert again.returncode == 0 and "already running" in again.stderr
        assert pids(state) == started, "a second up must not start new processes"

        os.kill(started["kwok"], signal.SIGKILL)
        time.sleep(0.5)
        broken = run("up.sh", env, timeout=60)
        assert broken.returncode == 1
        assert "component 'kwok' is not running" in broken.stderr

        down = run("down.sh", env, timeout=120)
        assert down.returncode == 0, down.stderr
        assert not any(alive(p) for p in started.values())
        assert not state.exists()

        again = run("up.sh", env)
        assert again.returncode == 0, again.stderr
    finally:
        run("down.sh", env, timeout=120)
    assert not state.exists()
